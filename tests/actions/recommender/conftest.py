"""Fixtures for the recommender tests: fake embedder, fixed catalogue, databases."""

from pathlib import Path
from typing import Iterator

import pytest

from actions.catalogue_store import CatalogueRepository
from actions.db import Database
from actions.recommender.embeddings import product_text
from actions.recommender.index import ExactIndex
from actions.recommender.service import Recommender
from tests.actions.recommender.support import CATALOGUE, FakeEmbedder, empty_database


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_index() -> ExactIndex:
    embedder = FakeEmbedder()
    vectors = embedder.embed([product_text(record) for record in CATALOGUE])
    return ExactIndex([record.sku for record in CATALOGUE], vectors)


@pytest.fixture
def catalogue_database(tmp_path: Path) -> Iterator[Database]:
    """A database holding :data:`CATALOGUE` and no embeddings yet."""
    database = empty_database(tmp_path / "shop.db")
    CatalogueRepository(database).upsert_many(CATALOGUE)
    yield database
    database.dispose()


@pytest.fixture
def recommender(catalogue_database: Database, fake_embedder: FakeEmbedder) -> Recommender:
    return Recommender(catalogue_database, fake_embedder)
