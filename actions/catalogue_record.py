"""The product record: one product as the actions and files see it.

A frozen, database-free value. Prices are integer cents of ``currency``;
``attributes`` holds the product's specifications ("battery_hours",
"noise_cancelling", ...) under the names :mod:`actions.catalogue_vocabulary`
knows, as a read-only mapping in which JSON lists become tuples.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping, Optional


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


@dataclass(frozen=True)
class ProductRecord:
    """A product as the actions see it, detached from the database.

    Two records are equal when their catalogue data is; the timestamps are
    bookkeeping and are not compared.

    Attributes:
        sku: Stock keeping unit, unique, e.g. ``HPH-10231``.
        title: Product name shown to customers.
        description: One to three sentences of shop copy.
        category: Category path, e.g. ``Electronics > Audio > Headphones``.
        category_key: Short category key, e.g. ``headphones``.
        brand: Brand name as the shop spells it.
        price_cents: Price in cents of ``currency``.
        currency: ISO 4217 code, e.g. ``EUR``.
        rating: Average review rating from 0 to 5, None if unrated.
        review_count: Number of reviews behind ``rating``.
        stock: Units in stock; 0 means sold out.
        attributes: Specifications (read-only mapping; lists become tuples).
        created_at: When the product was first stored (None if not stored).
        updated_at: When its data last changed (None if not stored).
    """

    sku: str
    title: str
    description: str
    category: str
    category_key: str
    brand: str
    price_cents: int
    currency: str
    rating: Optional[float]
    review_count: int
    stock: int
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    created_at: Optional[datetime] = field(default=None, compare=False)
    updated_at: Optional[datetime] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        frozen = {key: _freeze(value) for key, value in self.attributes.items()}
        object.__setattr__(self, "attributes", MappingProxyType(frozen))

    @property
    def in_stock(self) -> bool:
        """Whether at least one unit is in stock."""
        return self.stock > 0

    def attributes_json(self) -> str:
        """Return the attributes as compact JSON with sorted keys."""
        plain = {key: _thaw(value) for key, value in self.attributes.items()}
        return json.dumps(plain, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
