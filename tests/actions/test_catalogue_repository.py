"""The catalogue repository on a small fixed catalogue, its migration and seeding (SQLite and
PostgreSQL)."""

import dataclasses
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Iterator, List

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from actions.catalogue import (
    CatalogueRepository,
    Product,
    ProductFilter,
    ProductOrder,
    ProductRecord,
    load_seed_catalogue,
    seed_catalogue,
)
from actions.db import Base, Database, alembic_config
from actions.settings import Settings

T0 = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def product(
    sku: str, category_key: str, brand: str, price_cents: int, **extra: Any
) -> ProductRecord:
    fields = {
        "title": f"{brand} {sku}",
        "description": "A product.",
        "category": f"Shop > {category_key.title()}",
        "currency": "EUR",
        "rating": 4.0,
        "review_count": 10,
        "stock": 5,
        "attributes": {},
        **extra,
    }
    return ProductRecord(
        sku=sku, category_key=category_key, brand=brand, price_cents=price_cents, **fields
    )


CATALOGUE = [
    product("HP-1", "headphones", "Sony", 32900, rating=4.7, review_count=900),
    product("HP-2", "headphones", "Bose", 44995, rating=4.7, review_count=1200),
    product("HP-3", "headphones", "Sony", 9900, rating=4.2, stock=0),
    product("HP-4", "headphones", "Apple", 27900, rating=None, review_count=0),
    product("HP-5", "headphones", "Sennheiser", 14900, rating=4.5),
    product("RS-1", "running_shoes", "Nike", 13999, attributes={"support": "neutral"}),
    product("RS-2", "running_shoes", "Asics", 17995, attributes={"support": "stability"}),
    product("RS-3", "running_shoes", "Brooks", 15995, stock=0),
    product("BP-1", "backpacks", "Fjällräven", 11000),
    product("BP-2", "backpacks", "Osprey", 12995, currency="GBP"),
]


def skus(records: List[ProductRecord]) -> List[str]:
    return [record.sku for record in records]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repository(clock: Clock) -> Iterator[CatalogueRepository]:
    database = Database(Settings(database_url="sqlite://"), seeders=[])
    repository = CatalogueRepository(database, clock=clock)
    repository.upsert_many(CATALOGUE)
    yield repository
    database.dispose()


FILTERS = [
    (ProductFilter(), [p.sku for p in sorted(CATALOGUE, key=lambda p: p.sku)]),
    (ProductFilter(category_key="headphones"), ["HP-1", "HP-2", "HP-3", "HP-4", "HP-5"]),
    (ProductFilter(category_key="tents"), []),
    (ProductFilter(category_key="headphones", max_price_cents=27900), ["HP-3", "HP-4", "HP-5"]),
    (ProductFilter(min_price_cents=15995, max_price_cents=32900), ["HP-1", "HP-4", "RS-2", "RS-3"]),
    (ProductFilter(brands=("sony", "BOSE")), ["HP-1", "HP-2", "HP-3"]),
    (ProductFilter(brands=("fjällräven",)), ["BP-1"]),
    (ProductFilter(category_key="headphones", exclude_brands=("Sony", "apple")), ["HP-2", "HP-5"]),
    (ProductFilter(brands=("Sony",), exclude_brands=("Sony",)), []),
    (ProductFilter(in_stock=True, category_key="running_shoes"), ["RS-1", "RS-2"]),
    (ProductFilter(currency="GBP"), ["BP-2"]),
    (
        ProductFilter(
            category_key="headphones",
            in_stock=True,
            max_price_cents=40000,
            exclude_brands=("Apple",),
        ),
        ["HP-1", "HP-5"],
    ),
]


@pytest.mark.parametrize("filters, expected", FILTERS)
def test_filters(
    repository: CatalogueRepository, filters: ProductFilter, expected: List[str]
) -> None:
    assert skus(repository.list_products(filters)) == expected
    assert repository.count(filters) == len(expected)


def test_orders_limit_and_offset(repository: CatalogueRepository) -> None:
    headphones = ProductFilter(category_key="headphones")

    by_price = repository.list_products(headphones, order=ProductOrder.PRICE_ASC)
    by_price_desc = repository.list_products(headphones, order=ProductOrder.PRICE_DESC, limit=2)
    by_rating = repository.list_products(headphones, order=ProductOrder.RATING)
    page = repository.list_products(headphones, order=ProductOrder.PRICE_ASC, limit=2, offset=2)

    assert skus(by_price) == ["HP-3", "HP-5", "HP-4", "HP-1", "HP-2"]
    assert skus(by_price_desc) == ["HP-2", "HP-1"]
    assert skus(by_rating) == ["HP-2", "HP-1", "HP-5", "HP-3", "HP-4"]  # unrated last
    assert skus(page) == ["HP-4", "HP-1"]


def test_get_by_sku(repository: CatalogueRepository) -> None:
    found = repository.get("BP-1")

    assert found == CATALOGUE[8]
    assert found is not None and found.brand == "Fjällräven"
    assert found.created_at == T0 and found.created_at.tzinfo is timezone.utc
    assert repository.get("bp-1") is None
    assert repository.get("NOPE-1") is None


def test_brands_are_distinct_and_sorted(repository: CatalogueRepository) -> None:
    assert repository.brands() == [
        "Apple", "Asics", "Bose", "Brooks", "Fjällräven", "Nike", "Osprey", "Sennheiser", "Sony",
    ]  # fmt: skip


def test_negative_prices_are_not_a_filter() -> None:
    with pytest.raises(ValueError, match="max_price_cents"):
        ProductFilter(max_price_cents=-1)


def test_upsert_updates_only_what_changed_and_drops_stale_embeddings(
    repository: CatalogueRepository, clock: Clock
) -> None:
    database = repository._database
    with database.session() as session, session.begin():
        session.execute(update(Product).values(embedding=b"\x00\x01", embedding_model="test-model"))
    clock.now = T0 + timedelta(days=1)
    cheaper = product("HP-1", "headphones", "Sony", 29900, rating=4.7, review_count=900)
    renamed = product(
        "HP-2",
        "headphones",
        "Bose",
        44995,
        rating=4.7,
        review_count=1200,
        title="Bose QuietComfort Ultra",
    )

    result = repository.upsert_many(
        [cheaper, renamed, CATALOGUE[4], product("HP-9", "headphones", "JBL", 100)]
    )

    assert (result.inserted, result.updated, result.unchanged) == (1, 2, 1)
    with database.session() as session:
        rows = {
            row.sku: row
            for row in session.execute(
                select(Product).where(Product.sku.in_(["HP-1", "HP-2", "HP-5"]))
            ).scalars()
        }
    assert rows["HP-1"].embedding == b"\x00\x01"  # only the price changed
    assert rows["HP-2"].embedding is None and rows["HP-2"].embedding_model is None
    assert rows["HP-5"].embedding == b"\x00\x01"
    assert rows["HP-1"].updated_at == clock.now and rows["HP-1"].created_at == T0
    assert rows["HP-5"].updated_at == T0


def test_upsert_is_all_or_nothing(repository: CatalogueRepository) -> None:
    broken = product("ZZ-1", "tents", "MSR", -5)  # the database's check constraint refuses it

    with pytest.raises(IntegrityError):
        repository.upsert_many([product("ZZ-0", "tents", "MSR", 100), broken])

    assert repository.count(ProductFilter(category_key="tents")) == 0
    with pytest.raises(ValueError, match="duplicate"):
        repository.upsert_many([CATALOGUE[0], CATALOGUE[0]])


def test_records_are_immutable_and_compare_by_data(repository: CatalogueRepository) -> None:
    stored = repository.get("RS-2")

    assert stored is not None and stored == CATALOGUE[6]
    with pytest.raises(TypeError):
        stored.attributes["support"] = "neutral"  # type: ignore[index]
    assert hash(stored) == hash(CATALOGUE[6])


def test_the_migration_matches_the_model_and_downgrades(tmp_path: Any) -> None:
    database = Database(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"), seeders=[])
    database.migrate()
    head = ScriptDirectory.from_config(
        alembic_config(database.settings.database_url)
    ).get_current_head()
    with database.engine.connect() as connection:
        assert "products" in inspect(connection).get_table_names()
        # Later migrations (other features) follow 0002; the database is at the head.
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == head and head >= "0002"
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

    with database.engine.begin() as connection:
        config = alembic_config(database.settings.database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert "products" not in inspect(database.engine).get_table_names()
    database.dispose()


def test_an_empty_catalogue_is_seeded_once_from_the_seed_file(tmp_path: Any) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'seeded.db'}")
    first = Database(settings, seeders=[seed_catalogue], clock=lambda: T0)
    repository = CatalogueRepository(first)

    total = repository.count()

    assert total == len(load_seed_catalogue()) >= 300
    seeded = repository.list_products(ProductFilter(category_key="dishwashers"), limit=1)[0]
    assert seeded.created_at == T0
    first.dispose()
    second = Database(settings, seeders=[seed_catalogue])
    assert second.prepare(seed=True) == 0
    assert CatalogueRepository(second).count() == total
    second.dispose()


def test_a_broken_seed_file_leaves_the_catalogue_empty_but_the_database_usable(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"sku": "A-1"}\n', encoding="utf-8")
    database = Database(
        Settings(database_url="sqlite://"), seeders=[partial(seed_catalogue, path=broken)]
    )

    assert CatalogueRepository(database).count() == 0
    assert "The catalogue was not seeded: broken.jsonl has 1 invalid rows" in caplog.text
    database.dispose()


def test_importing_the_package_registers_the_table_for_alembic() -> None:
    from actions.db import MODEL_MODULES

    assert "actions.catalogue_store" in MODEL_MODULES
    assert "products" in Base.metadata.tables


def test_the_catalogue_on_postgresql(postgres_url: str) -> None:
    database = Database(
        Settings(database_url=postgres_url), seeders=[seed_catalogue], clock=lambda: T0
    )
    repository = CatalogueRepository(database)
    try:
        total = repository.count()
        assert total == len(load_seed_catalogue())
        with database.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

        cheap_quiet = repository.list_products(
            ProductFilter(
                category_key="dishwashers",
                max_price_cents=60000,
                in_stock=True,
                exclude_brands=("bosch",),
            ),
            order=ProductOrder.PRICE_ASC,
        )
        assert cheap_quiet and all(
            p.price_cents <= 60000 and p.stock > 0 and p.brand != "Bosch" for p in cheap_quiet
        )
        assert [p.price_cents for p in cheap_quiet] == sorted(p.price_cents for p in cheap_quiet)
        assert repository.count(ProductFilter(brands=("FJÄLLRÄVEN".lower(),))) == 2
        best = repository.list_products(
            ProductFilter(category_key="headphones"), order=ProductOrder.RATING
        )
        ratings = [p.rating for p in best]
        assert ratings == sorted(ratings, key=lambda r: (r is None, -(r or 0)))

        result = repository.upsert_many(load_seed_catalogue())
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, total)
        changed = repository.list_products(ProductFilter(category_key="tents"), limit=1)[0]
        moved = dataclasses.replace(changed, stock=changed.stock + 1)
        assert repository.upsert_many([moved]).updated == 1
        stored = repository.get(moved.sku)
        assert stored is not None and stored.stock == changed.stock + 1
        assert stored.attributes == changed.attributes
    finally:
        database.dispose()
