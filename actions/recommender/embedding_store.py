"""Product embeddings kept in the ``products`` table.

:func:`refresh_embeddings` fills ``embedding`` / ``embedding_model`` for the
products that lack a vector of the current model (new products, products whose
text changed, since :meth:`actions.catalogue_store.Product.update_from` clears
the vector then, and vectors of another model). Run it after importing or
seeding products; the recommender also runs it when it builds its index.

:func:`load_vectors` reads the stored vectors of one model back for the index.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import List, Tuple

import numpy as np
from sqlalchemy import func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from actions.catalogue_store import Product
from actions.db import Database, unavailable_on_error
from actions.recommender.embeddings import (
    Embedder,
    decode_vector,
    encode_vector,
    normalise_rows,
    product_text,
)

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
"""Products embedded and written per transaction."""


@dataclass(frozen=True)
class _Pending:
    id: int
    updated_at: datetime
    text: str


def _stale(model_name: str) -> ColumnElement:
    return or_(
        Product.embedding.is_(None),
        Product.embedding_model.is_(None),
        Product.embedding_model != model_name,
    )


def count_stale(database: Database, model_name: str) -> int:
    """Return how many products lack a vector of ``model_name``.

    Raises:
        DatabaseUnavailable: If the database cannot be reached.
    """
    statement = select(func.count()).select_from(Product).where(_stale(model_name))
    with unavailable_on_error("counting products without embeddings"):
        database.ensure_ready()
        with database.session() as session:
            return int(session.execute(statement).scalar_one())


def _next_batch(database: Database, model_name: str, after_id: int, size: int) -> List[_Pending]:
    statement = (
        select(Product)
        .where(_stale(model_name), Product.id > after_id)
        .order_by(Product.id)
        .limit(size)
    )
    with unavailable_on_error("reading products to embed"):
        with database.session() as session:
            rows = session.execute(statement).scalars().all()
            return [_Pending(row.id, row.updated_at, product_text(row.to_record())) for row in rows]


def _store_batch(
    database: Database, model_name: str, batch: List[_Pending], vectors: np.ndarray
) -> int:
    stored = 0
    with unavailable_on_error("storing product embeddings"):
        with database.session() as session, session.begin():
            for pending, vector in zip(batch, vectors):
                # Only if the product is unchanged since it was read: otherwise
                # the vector would describe text the product no longer has.
                result = session.execute(
                    update(Product)
                    .where(Product.id == pending.id, Product.updated_at == pending.updated_at)
                    .values(embedding=encode_vector(vector), embedding_model=model_name)
                    .execution_options(synchronize_session=False)
                )
                stored += result.rowcount or 0
    return stored


def refresh_embeddings(
    database: Database, embedder: Embedder, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> int:
    """Compute and store vectors for the products that need one.

    A product needs one when ``embedding`` is NULL or ``embedding_model`` is
    not ``embedder.model_name``. Products are embedded in batches of
    ``batch_size``, each written in its own transaction (the model runs outside
    any transaction), so an interrupted refresh keeps its finished batches and
    the next one carries on. A product edited while its batch was embedding is
    left for the next refresh.

    Blocking and CPU-heavy: from async code, call it in a thread.

    Args:
        database: The project database (migrated and seeded first if needed).
        embedder: The model.
        batch_size: Products per batch.

    Returns:
        The number of products whose vector was stored.

    Raises:
        DatabaseUnavailable: If the database cannot be reached.
        ValueError: If ``batch_size`` is not positive, or the embedder returns
            the wrong number of vectors.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    model_name = embedder.model_name
    with unavailable_on_error("preparing the database"):
        database.ensure_ready()
    stored, after_id = 0, 0
    while True:
        batch = _next_batch(database, model_name, after_id, batch_size)
        if not batch:
            break
        after_id = batch[-1].id
        vectors = normalise_rows(embedder.embed([pending.text for pending in batch]))
        if vectors.shape[0] != len(batch):
            raise ValueError(
                f"the embedder returned {vectors.shape[0]} vectors for {len(batch)} texts"
            )
        stored += _store_batch(database, model_name, batch, vectors)
    if stored:
        logger.info("Stored %s embeddings for %d products.", model_name, stored)
    return stored


def load_vectors(database: Database, model_name: str) -> Tuple[List[str], np.ndarray]:
    """Read the stored vectors of one model.

    Vectors whose length differs from the first one read are skipped with a
    warning (a corrupt row must not break the index).

    Args:
        database: The project database.
        model_name: Only vectors of this model.

    Returns:
        The SKUs and a ``(len(skus), dimension)`` float32 matrix, in SKU order.

    Raises:
        DatabaseUnavailable: If the database cannot be reached.
    """
    statement = (
        select(Product.sku, Product.embedding)
        .where(Product.embedding.is_not(None), Product.embedding_model == model_name)
        .order_by(Product.sku)
    )
    skus: List[str] = []
    rows: List[np.ndarray] = []
    with unavailable_on_error("reading product embeddings"):
        database.ensure_ready()
        with database.session() as session:
            for sku, data in session.execute(statement):
                vector = decode_vector(data)
                if vector.size == 0 or (rows and vector.shape != rows[0].shape):
                    logger.warning("Skipping the malformed embedding of product %s.", sku)
                    continue
                skus.append(sku)
                rows.append(vector)
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    return skus, np.vstack(rows)
