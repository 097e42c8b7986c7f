"""The product catalogue in the project database: table model, record, repository.

Products are identified by their SKU. Prices are integer cents of the
product's currency; ``attributes`` holds free-form specifications as a JSON
object ("battery_hours", "noise_cancelling", ...) whose names
:mod:`actions.catalogue_vocabulary` knows. The ``embedding`` columns are kept
for a later semantic search and cleared whenever a product's text changes.
"""

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from actions.catalogue_record import ProductRecord
from actions.db import (
    Base,
    Database,
    UTCDateTime,
    get_database,
    utc_now,
)

_IN_CHUNK = 500  # SKUs per IN (...) list when looking up many products


class Product(Base):
    """Table ``products``; created by migration 0002."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="rating_range"),
        CheckConstraint("review_count >= 0", name="review_count_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    sku = Column(String(32), nullable=False, unique=True)
    title = Column(String(200), nullable=False)
    description = Column(Text, nullable=False)
    category = Column(String(200), nullable=False)
    category_key = Column(String(40), nullable=False, index=True)
    brand = Column(String(80), nullable=False, index=True)
    price_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False)
    rating = Column(Float)
    review_count = Column(Integer, nullable=False)
    stock = Column(Integer, nullable=False)
    attributes = Column(Text, nullable=False)
    embedding = Column(LargeBinary)
    embedding_model = Column(String(100))
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    @classmethod
    def from_record(cls, record: ProductRecord, now: datetime) -> "Product":
        """Build a new row from a record, created and updated at ``now``."""
        row = cls(created_at=now)
        row.update_from(record, now)
        return row

    def update_from(self, record: ProductRecord, now: datetime) -> None:
        """Copy a record's data into the row; a changed text drops the embedding."""
        text_before = (self.title, self.description, self.category, self.brand, self.attributes)
        self.sku = record.sku
        self.title = record.title
        self.description = record.description
        self.category = record.category
        self.category_key = record.category_key
        self.brand = record.brand
        self.price_cents = record.price_cents
        self.currency = record.currency
        self.rating = record.rating
        self.review_count = record.review_count
        self.stock = record.stock
        self.attributes = record.attributes_json()
        self.updated_at = now
        text_after = (self.title, self.description, self.category, self.brand, self.attributes)
        if text_after != text_before:
            self.embedding = None
            self.embedding_model = None

    def to_record(self) -> ProductRecord:
        """Return the row as a detached, immutable record."""
        return ProductRecord(
            sku=self.sku,
            title=self.title,
            description=self.description,
            category=self.category,
            category_key=self.category_key,
            brand=self.brand,
            price_cents=self.price_cents,
            currency=self.currency,
            rating=self.rating,
            review_count=self.review_count,
            stock=self.stock,
            attributes=json.loads(self.attributes),
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class ProductOrder(str, Enum):
    """Orders in which :meth:`CatalogueRepository.list_products` returns products."""

    SKU = "sku"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    RATING = "rating"
    """Best rated first (unrated last), then most reviewed."""


@dataclass(frozen=True)
class ProductFilter:
    """Which products to list or count; every criterion given must hold.

    Attributes:
        category_key: Only this category.
        min_price_cents: Only products costing at least this much.
        max_price_cents: Only products costing at most this much.
        brands: Only these brands; empty means any brand. Compared
            case-insensitively (on SQLite only for ASCII letters).
        exclude_brands: None of these brands, compared like ``brands``.
        in_stock: Only products with at least one unit in stock.
        currency: Only products priced in this currency.
    """

    category_key: Optional[str] = None
    min_price_cents: Optional[int] = None
    max_price_cents: Optional[int] = None
    brands: Tuple[str, ...] = ()
    exclude_brands: Tuple[str, ...] = ()
    in_stock: bool = False
    currency: Optional[str] = None

    def __post_init__(self) -> None:
        for name in ("min_price_cents", "max_price_cents"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        object.__setattr__(self, "brands", tuple(self.brands))
        object.__setattr__(self, "exclude_brands", tuple(self.exclude_brands))

    def apply(self, statement: Select) -> Select:
        """Add this filter's conditions to a SELECT over :class:`Product`."""
        if self.category_key is not None:
            statement = statement.where(Product.category_key == self.category_key)
        if self.min_price_cents is not None:
            statement = statement.where(Product.price_cents >= self.min_price_cents)
        if self.max_price_cents is not None:
            statement = statement.where(Product.price_cents <= self.max_price_cents)
        if self.brands:
            wanted = sorted({brand.lower() for brand in self.brands})
            statement = statement.where(func.lower(Product.brand).in_(wanted))
        if self.exclude_brands:
            unwanted = sorted({brand.lower() for brand in self.exclude_brands})
            statement = statement.where(func.lower(Product.brand).not_in(unwanted))
        if self.in_stock:
            statement = statement.where(Product.stock > 0)
        if self.currency is not None:
            statement = statement.where(Product.currency == self.currency)
        return statement


@dataclass(frozen=True)
class UpsertResult:
    """What storing a batch of products did.

    Attributes:
        inserted: Products that were new.
        updated: Known products whose data changed.
        unchanged: Known products whose data was already the same.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """The number of products in the batch."""
        return self.inserted + self.updated + self.unchanged


def upsert_products(
    session: Session, records: Sequence[ProductRecord], now: datetime
) -> UpsertResult:
    """Insert new products and update known ones (by SKU) in an open session.

    Products whose data is unchanged are left alone (their ``updated_at`` too),
    so storing the same batch twice changes nothing. The caller commits.

    Args:
        session: A session inside a transaction.
        records: The products; each SKU at most once.
        now: Timestamp for created and updated rows.

    Returns:
        How many products were inserted, updated and left unchanged.

    Raises:
        ValueError: If a SKU occurs twice in ``records``.
    """
    skus = [record.sku for record in records]
    if len(set(skus)) != len(skus):
        raise ValueError("duplicate SKUs in one batch")
    existing: Dict[str, Product] = {}
    for start in range(0, len(skus), _IN_CHUNK):
        chunk = skus[start : start + _IN_CHUNK]
        rows = session.execute(select(Product).where(Product.sku.in_(chunk))).scalars()
        existing.update((row.sku, row) for row in rows)
    inserted = updated = unchanged = 0
    for record in records:
        row = existing.get(record.sku)
        if row is None:
            session.add(Product.from_record(record, now))
            inserted += 1
        elif row.to_record() != record:
            row.update_from(record, now)
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return UpsertResult(inserted=inserted, updated=updated, unchanged=unchanged)


def catalogue_is_empty(session: Session) -> bool:
    """Return whether the products table has no rows."""
    return session.execute(select(Product.id).limit(1)).first() is None


def _ordered(statement: Select, order: ProductOrder) -> Select:
    if order is ProductOrder.PRICE_ASC:
        return statement.order_by(Product.price_cents, Product.sku)
    if order is ProductOrder.PRICE_DESC:
        return statement.order_by(Product.price_cents.desc(), Product.sku)
    if order is ProductOrder.RATING:
        return statement.order_by(
            Product.rating.is_(None),
            Product.rating.desc(),
            Product.review_count.desc(),
            Product.sku,
        )
    return statement.order_by(Product.sku)


class CatalogueRepository:
    """Reads and writes the product catalogue in the project database.

    The first call migrates (and, if enabled, seeds) the database; see
    :meth:`actions.db.Database.ensure_ready`. Calls block: from async code run
    them with ``asyncio.to_thread``.

    Args:
        database: The database to use.
        clock: Source of "now" for created/updated timestamps.
    """

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def get(self, sku: str) -> Optional[ProductRecord]:
        """Look a product up by its SKU (exact, case-sensitive).

        Returns:
            The product, or None if there is none with that SKU.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        with self._database.reading(f"looking up product {sku}") as session:
            row = session.execute(select(Product).where(Product.sku == sku)).scalar_one_or_none()
            return row.to_record() if row is not None else None

    def list_products(
        self,
        filters: ProductFilter = ProductFilter(),
        *,
        order: ProductOrder = ProductOrder.SKU,
        limit: Optional[int] = None,
        offset: int = 0,
    ) -> List[ProductRecord]:
        """List the products that pass ``filters``.

        Args:
            filters: The criteria; by default every product.
            order: Sort order; by SKU by default.
            limit: At most this many products; all by default.
            offset: Skip this many first (for paging).

        Returns:
            The matching products in the requested order.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        statement = _ordered(filters.apply(select(Product)), order).offset(offset)
        if limit is not None:
            statement = statement.limit(limit)
        with self._database.reading("listing products") as session:
            return [row.to_record() for row in session.execute(statement).scalars()]

    def count(self, filters: ProductFilter = ProductFilter()) -> int:
        """Return the number of products that pass ``filters``.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        statement = filters.apply(select(func.count()).select_from(Product))
        with self._database.reading("counting products") as session:
            return session.execute(statement).scalar_one()

    def brands(self) -> List[str]:
        """Return the distinct brands of the catalogue, sorted.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        statement = select(Product.brand).distinct().order_by(Product.brand)
        with self._database.reading("listing brands") as session:
            return list(session.execute(statement).scalars())

    def upsert_many(self, records: Iterable[ProductRecord]) -> UpsertResult:
        """Insert or update products by SKU, all in one transaction.

        Either every product is stored or, on any error, none is.

        Args:
            records: The products; each SKU at most once.

        Returns:
            How many were inserted, updated and left unchanged.

        Raises:
            ValueError: If a SKU occurs twice.
            DatabaseUnavailable: If the database cannot be reached.
            sqlalchemy.exc.IntegrityError: If a row breaks a constraint, or a
                concurrent writer inserted one of the new SKUs first.
        """
        batch = list(records)
        with self._database.transaction("storing products") as session:
            return upsert_products(session, batch, self._clock())


_default_repository: Optional[CatalogueRepository] = None
_default_repository_lock = threading.Lock()


def get_catalogue_repository() -> CatalogueRepository:
    """Return the process-wide repository on :func:`actions.db.get_database`."""
    global _default_repository
    with _default_repository_lock:
        if _default_repository is None:
            _default_repository = CatalogueRepository(get_database())
        return _default_repository
