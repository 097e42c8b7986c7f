"""Synthetic catalogues for the recommender's index benchmark.

Product texts and customer requests from fixed vocabularies, vectors mixed
from real embeddings of those texts (see :mod:`actions.recommender.benchmark`
for why), and a batched insert of the products with their vectors.
"""

from datetime import datetime, timezone
from typing import List

import numpy as np

from actions.catalogue_store import Product
from actions.db import Database
from actions.recommender.embeddings import encode_vector, normalise_rows

INSERT_BATCH = 10_000
"""Products per INSERT (executemany) transaction."""

BASE_TEXTS = 1_000
"""Generated product texts embedded by the real model to shape the synthetic vectors."""

NOISE = 0.15
"""Norm of the Gaussian noise added to each synthetic vector (before normalising)."""

_CATEGORIES = {
    "headphones": ("Audio > Headphones", ["Sony", "Bose", "Sennheiser", "JBL", "Jabra"]),
    "laptops": ("Computers > Laptops", ["Dell", "Lenovo", "Apple", "HP", "Asus"]),
    "phones": ("Phones > Smartphones", ["Samsung", "Apple", "Google", "Xiaomi", "Nokia"]),
    "monitors": ("Computers > Monitors", ["LG", "Dell", "Samsung", "BenQ", "Asus"]),
    "smartwatches": ("Wearables > Smartwatches", ["Garmin", "Apple", "Samsung", "Fitbit"]),
    "cameras": ("Photo > Cameras", ["Canon", "Nikon", "Sony", "Fujifilm"]),
    "speakers": ("Audio > Speakers", ["JBL", "Bose", "Sonos", "Marshall"]),
    "keyboards": ("Computers > Keyboards", ["Logitech", "Keychron", "Razer", "Corsair"]),
    "tablets": ("Computers > Tablets", ["Apple", "Samsung", "Lenovo", "Amazon"]),
    "vacuum_cleaners": ("Home > Vacuum cleaners", ["Dyson", "Roborock", "iRobot", "Shark"]),
}
_ADJECTIVES = ["compact", "lightweight", "premium", "budget", "rugged", "slim", "pro", "wireless"]
_FEATURES = [
    "noise cancelling",
    "long battery life",
    "water resistant",
    "fast charging",
    "4K display",
    "bluetooth 5.3",
    "backlit keys",
    "GPS",
    "optical zoom",
    "voice assistant",
    "USB-C",
    "quiet operation",
]
_QUERIES = [
    "wireless headphones with good noise cancelling for flights",
    "a light laptop for university under 800 euros",
    "phone with the best camera and long battery",
    "27 inch monitor for photo editing",
    "smartwatch with GPS for running",
    "compact camera for travel",
    "portable speaker that survives the beach",
    "mechanical keyboard that is quiet",
    "tablet for drawing and note taking",
    "robot vacuum for pet hair",
    "something like the Sony headphones but cheaper",
    "gaming laptop with a good GPU",
    "cheap earbuds for the gym",
    "a 4K monitor for my Mac",
    "waterproof fitness tracker for swimming",
]


def product_texts(count: int, rng: np.random.Generator) -> List[str]:
    """Generate ``count`` plausible product texts (title, brand, category, features)."""
    keys = sorted(_CATEGORIES)
    texts = []
    for number in range(count):
        key = keys[int(rng.integers(len(keys)))]
        path, brands = _CATEGORIES[key]
        brand = brands[int(rng.integers(len(brands)))]
        adjective = _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))]
        features = rng.choice(_FEATURES, size=3, replace=False)
        leaf = path.split(">")[-1].strip()
        texts.append(
            f"{brand} {adjective} {leaf[:-1] if leaf.endswith('s') else leaf} {number}. "
            f"Brand: {brand}. Category: {leaf}. A {adjective} choice. "
            f"Features: {', '.join(features)}."
        )
    return texts


def query_texts(count: int, rng: np.random.Generator) -> List[str]:
    """Return ``count`` customer requests (the base list, varied with a budget)."""
    texts = []
    for number in range(count):
        base = _QUERIES[number % len(_QUERIES)]
        if number >= len(_QUERIES):
            base = f"{base}, budget around {int(rng.integers(5, 40)) * 50}"
        texts.append(base)
    return texts


def synthetic_vectors(
    count: int, base: np.ndarray, rng: np.random.Generator, noise: float = NOISE
) -> np.ndarray:
    """Mix pairs of base embeddings and add noise: ``count`` unit vectors."""
    first = rng.integers(base.shape[0], size=count)
    second = rng.integers(base.shape[0], size=count)
    weight = rng.uniform(0.5, 1.0, size=(count, 1)).astype(np.float32)
    gaussian = rng.standard_normal((count, base.shape[1]), dtype=np.float32)
    gaussian *= noise / np.sqrt(base.shape[1])
    mixed = weight * base[first] + (1.0 - weight) * base[second] + gaussian
    return normalise_rows(mixed)


def insert_products(
    database: Database,
    count: int,
    base: np.ndarray,
    model_name: str,
    rng: np.random.Generator,
    batch: int = INSERT_BATCH,
) -> None:
    """Insert ``count`` synthetic products with stored vectors, in batches."""
    database.ensure_ready()
    table = Product.__table__
    now = datetime.now(timezone.utc)
    keys = sorted(_CATEGORIES)
    with database.engine.begin() as connection:
        for start in range(0, count, batch):
            size = min(batch, count - start)
            vectors = synthetic_vectors(size, base, rng)
            rows = []
            for offset in range(size):
                number = start + offset
                key = keys[number % len(keys)]
                path, brands = _CATEGORIES[key]
                rows.append(
                    {
                        "sku": f"BENCH-{number:08d}",
                        "title": f"{brands[number % len(brands)]} {key} {number}",
                        "description": "Synthetic benchmark product.",
                        "category": path,
                        "category_key": key,
                        "brand": brands[number % len(brands)],
                        "price_cents": 1_000 + number % 200_000,
                        "currency": "EUR",
                        "rating": 3.0 + (number % 20) / 10,
                        "review_count": number % 5_000,
                        "stock": number % 50,
                        "attributes": "{}",
                        "embedding": encode_vector(vectors[offset]),
                        "embedding_model": model_name,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            connection.execute(table.insert(), rows)
