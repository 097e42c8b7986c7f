"""Shared test data for the recommender: a fixed catalogue and a fake embedder.

The fake embedder hashes words into buckets: texts that share words are
similar, deterministically, without loading a model. The real MiniLM model is
loaded by one slow test only.
"""

import re
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from actions.catalogue_record import ProductRecord
from actions.db import Database
from actions.recommender.embeddings import normalise_rows
from actions.settings import Settings

FAKE_DIMENSION = 256


class FakeEmbedder:
    """Bag of hashed words; records every call."""

    def __init__(self, model_name: str = "fake-bow", on_embed: Optional[Callable] = None) -> None:
        self._model_name = model_name
        self.calls: List[List[str]] = []
        self._on_embed = on_embed
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._model_name

    @staticmethod
    def vector(text: str) -> np.ndarray:
        vector = np.zeros(FAKE_DIMENSION, dtype=np.float32)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if len(word) > 3 and word.endswith("s"):
                word = word[:-1]
            vector[zlib.crc32(word.encode()) % FAKE_DIMENSION] += 1.0
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        if self._on_embed is not None:
            self._on_embed(texts)
        if not texts:
            return np.zeros((0, FAKE_DIMENSION), dtype=np.float32)
        return normalise_rows(np.stack([self.vector(text) for text in texts]))

    @property
    def texts_embedded(self) -> int:
        return sum(len(call) for call in self.calls)


def product(
    sku: str,
    title: str,
    category_key: str,
    brand: str,
    price_cents: int,
    *,
    rating: Optional[float] = 4.0,
    review_count: int = 10,
    stock: int = 5,
    description: str = "",
    **attributes: Any,
) -> ProductRecord:
    paths = {
        "headphones": "Electronics > Audio > Headphones",
        "laptops": "Electronics > Computers > Laptops",
        "coffee_machines": "Home & Kitchen > Coffee > Coffee machines",
    }
    return ProductRecord(
        sku=sku,
        title=title,
        description=description or title,
        category=paths[category_key],
        category_key=category_key,
        brand=brand,
        price_cents=price_cents,
        currency="EUR",
        rating=rating,
        review_count=review_count,
        stock=stock,
        attributes=attributes,
    )


CATALOGUE = (
    product(
        "HP-1", "Sony WH-1000XM5 Noise Cancelling Headphones", "headphones", "Sony", 32900,
        rating=4.5, review_count=58,
        description="Over-ear wireless headphones with noise cancelling for flights.",
        noise_cancelling=True, wireless=True, battery_hours=30, weight_g=250,
    ),
    product(
        "HP-2", "Bose QuietComfort Ultra Headphones", "headphones", "Bose", 44995,
        rating=4.7, review_count=1200,
        description="Quiet over-ear wireless headphones with noise cancelling.",
        noise_cancelling=True, wireless=True, battery_hours=24, weight_g=254,
    ),
    product(
        "HP-3", "Sony WH-CH520 Wireless Headphones", "headphones", "Sony", 5900,
        rating=4.2, review_count=300,
        description="Light on-ear wireless headphones with a long battery.",
        noise_cancelling=False, wireless=True, battery_hours=50, weight_g=147,
    ),
    product(
        "HP-4", "Sennheiser Momentum 4 Wireless Headphones", "headphones", "Sennheiser", 27900,
        rating=4.4, review_count=90,
        description="Over-ear wireless headphones with noise cancelling and 60 hours of battery.",
        noise_cancelling=True, wireless=True, battery_hours=60, weight_g=293,
    ),
    product(
        "HP-5", "JBL Tune 520BT Headphones", "headphones", "JBL", 4900,
        rating=4.0, review_count=10, stock=0,
        description="Budget wireless on-ear headphones.",
        noise_cancelling=False, wireless=True, battery_hours=57, weight_g=157,
    ),
    product(
        "HP-6", "Apple AirPods Pro 2 Earbuds", "headphones", "Apple", 27900,
        rating=4.6, review_count=2000,
        description="In-ear earbuds with noise cancelling for iPhone.",
        noise_cancelling=True, wireless=True, battery_hours=6, weight_g=5,
    ),
    product(
        "LT-1", "Dell XPS 13 Laptop", "laptops", "Dell", 129900, rating=4.5, review_count=40,
        description="Compact 13 inch laptop.", weight_g=1190, battery_hours=12,
    ),
    product(
        "LT-2", "Lenovo ThinkPad X1 Carbon Laptop", "laptops", "Lenovo", 172900,
        rating=4.6, review_count=25, description="Light business laptop.", weight_g=1120,
        battery_hours=15,
    ),
    product(
        "LT-3", "Acer Swift Go 14 Laptop", "laptops", "Acer", 72900, rating=4.1,
        review_count=80, description="Affordable 14 inch laptop.", weight_g=1320,
        battery_hours=10,
    ),
    product(
        "CM-1", "Sage Barista Express Espresso Machine", "coffee_machines", "Sage", 59900,
        rating=4.5, review_count=400, description="Espresso machine with grinder and steam wand.",
        milk_system=True, built_in_grinder=True,
    ),
)  # fmt: skip

BY_SKU: Dict[str, ProductRecord] = {record.sku: record for record in CATALOGUE}


def empty_database(path: Path) -> Database:
    """A database that is migrated but not seeded with the sample data."""
    return Database(Settings(database_url=f"sqlite:///{path}"), seeders=[])
