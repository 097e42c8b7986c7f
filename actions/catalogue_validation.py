"""Validation of catalogue rows read from CSV or JSON Lines files.

Every row is checked completely: :func:`validate_row` returns either a
:class:`~actions.catalogue_store.ProductRecord` or every reason the row is
wrong, so one pass over a file reports all its problems.

Fields (CSV columns or JSON object keys):

============== ======== ===================================================
sku            required 3-32 upper-case letters/digits, single hyphens
title          required up to 200 characters
description             up to 2000 characters; default empty
category       required path such as ``Electronics > Audio > Headphones``
category_key   required e.g. ``headphones``: lower-case letters, digits, _
brand          required up to 80 characters
price_cents    required whole number of cents, 0 to 100,000,000
currency                three upper-case letters; default ``EUR``
rating                  0 to 5, or empty; default empty (unrated)
review_count            whole number, 0 or more; default 0
stock          required whole number of units, 0 or more
attributes              JSON object of specifications; default ``{}``
============== ======== ===================================================

In CSV every value is text: numbers are parsed and ``attributes`` holds JSON
text. In JSON Lines values must have their JSON types (a price is a number,
not a string) and ``attributes`` is an object.
"""

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from actions.catalogue_store import ProductRecord

FIELDS: Tuple[str, ...] = (
    "sku",
    "title",
    "description",
    "category",
    "category_key",
    "brand",
    "price_cents",
    "currency",
    "rating",
    "review_count",
    "stock",
    "attributes",
)
"""The fields of a catalogue row, in file column order."""

REQUIRED_FIELDS = frozenset(
    {"sku", "title", "category", "category_key", "brand", "price_cents", "stock"}
)

DEFAULT_CURRENCY = "EUR"
MAX_PRICE_CENTS = 100_000_000
MAX_STOCK = 1_000_000
MAX_REVIEW_COUNT = 100_000_000
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTES_JSON = 4000
MAX_ATTRIBUTE_TEXT = 200
MAX_ATTRIBUTE_LIST = 20
MAX_ATTRIBUTE_NUMBER = 10**12
_MAX_TEXT = {"title": 200, "description": 2000, "category": 200, "brand": 80}

SKU_PATTERN = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
CATEGORY_KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,39}")
ATTRIBUTE_KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MAX_CATEGORY_LEVELS = 6
# Characters that change how text is displayed without being visible.
_INVISIBLE = frozenset("\u200b\u200c\u200e\u200f\u2028\u2029\u2060\ufeff") | frozenset(
    chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
)


@dataclass(frozen=True)
class RowError:
    """Why one row of a catalogue file was rejected.

    Attributes:
        line: Line of the file where the row starts (1-based).
        reasons: What is wrong with it, one reason per problem.
        sku: The row's SKU as written, if it had a readable one.
    """

    line: int
    reasons: Tuple[str, ...]
    sku: Optional[str] = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (sku {self.sku})" if self.sku else "")
        return f"{where}: {'; '.join(self.reasons)}"


def bad_character(text: str) -> Optional[str]:
    """Return a description of the first control or invisible character, if any."""
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co") or char in _INVISIBLE:
            return f"control or invisible character U+{ord(char):04X} at position {index + 1}"
    return None


def _text(name: str, value: Any, errors: List[str], *, required: bool) -> str:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            errors.append(f"{name} is required")
        return ""
    if not isinstance(value, str):
        errors.append(f"{name} must be text, got {_json_type(value)}")
        return ""
    value = unicodedata.normalize("NFC", value.strip())
    problem = bad_character(value)
    if problem:
        errors.append(f"{name} contains a {problem}")
    return value


def _integer(
    name: str, value: Any, textual: bool, errors: List[str], *, maximum: int
) -> Optional[int]:
    if isinstance(value, str) and textual:
        text = value.strip()
        if not _INTEGER_TEXT.fullmatch(text):
            errors.append(f"{name} must be a whole number, got {value!r}")
            return None
        if len(text.lstrip("+-")) > len(str(maximum)):
            errors.append(f"{name} must be between 0 and {maximum:,}, got {len(text)} digits")
            return None
        number = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        errors.append(f"{name} must be a whole number, got {_json_type(value)} {value!r}")
        return None
    if not 0 <= number <= maximum:
        errors.append(f"{name} must be between 0 and {maximum:,}, got {number}")
        return None
    return number


def _rating(value: Any, textual: bool, errors: List[str]) -> Optional[float]:
    if value is None or (textual and isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, str) and textual:
        if not _DECIMAL_TEXT.fullmatch(value.strip()):
            errors.append(f"rating must be a number from 0 to 5, got {value!r}")
            return None
        number = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        errors.append(f"rating must be a number from 0 to 5, got {_json_type(value)} {value!r}")
        return None
    if not (math.isfinite(number) and 0 <= number <= 5):
        errors.append(f"rating must be between 0 and 5, got {value!r}")
        return None
    return round(number, 2)


def _attribute_value(key: str, value: Any, errors: List[str], *, in_list: bool = False) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_ATTRIBUTE_NUMBER:
            errors.append(f"attribute {key!r} is out of range")
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_ATTRIBUTE_NUMBER:
            errors.append(f"attribute {key!r} is out of range")
    elif isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_TEXT:
            errors.append(f"attribute {key!r} is longer than {MAX_ATTRIBUTE_TEXT} characters")
        problem = bad_character(value)
        if problem:
            errors.append(f"attribute {key!r} contains a {problem}")
    elif isinstance(value, list) and not in_list:
        if len(value) > MAX_ATTRIBUTE_LIST:
            errors.append(f"attribute {key!r} has more than {MAX_ATTRIBUTE_LIST} items")
        for item in value[:MAX_ATTRIBUTE_LIST]:
            _attribute_value(key, item, errors, in_list=True)
    else:
        allowed = "text, a number, true/false or null" + ("" if in_list else " or a list")
        errors.append(f"attribute {key!r} must be {allowed}, got {_json_type(value)}")


def _attributes(value: Any, textual: bool, errors: List[str]) -> Dict[str, Any]:
    if value is None or (textual and isinstance(value, str) and value.strip() == ""):
        return {}
    if textual and isinstance(value, str):
        if len(value) > MAX_ATTRIBUTES_JSON:
            errors.append(f"attributes is longer than {MAX_ATTRIBUTES_JSON} characters")
            return {}
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            errors.append(f"attributes is not valid JSON at character {exc.pos + 1}: {exc.msg}")
            return {}
        except (ValueError, RecursionError) as exc:
            errors.append(f"attributes is not valid JSON: {exc}")
            return {}
    if not isinstance(value, dict):
        errors.append(f"attributes must be a JSON object, got {_json_type(value)}")
        return {}
    if len(value) > MAX_ATTRIBUTES:
        errors.append(f"attributes has more than {MAX_ATTRIBUTES} entries")
        return {}
    before = len(errors)
    for key, item in value.items():
        if not ATTRIBUTE_KEY_PATTERN.fullmatch(key):
            errors.append(
                f"attribute name {key!r} must be lower-case letters, digits and underscores"
            )
        else:
            _attribute_value(key, item, errors)
    if len(errors) == before:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(encoded) > MAX_ATTRIBUTES_JSON:
            errors.append(f"attributes is longer than {MAX_ATTRIBUTES_JSON} characters as JSON")
    return value


def _category(value: str, errors: List[str]) -> str:
    if not value:
        return value
    levels = [level.strip() for level in value.split(">")]
    if any(not level for level in levels):
        errors.append(f"category must be a path like 'Electronics > Audio', got {value!r}")
    elif len(levels) > _MAX_CATEGORY_LEVELS:
        errors.append(f"category has more than {_MAX_CATEGORY_LEVELS} levels")
    return " > ".join(levels)


def validate_row(raw: Mapping[str, Any], *, textual: bool) -> Union[ProductRecord, Tuple[str, ...]]:
    """Check one catalogue row and convert it to a record.

    Args:
        raw: Field name to value, as read from the file.
        textual: Whether values are text to parse (CSV) rather than JSON values.

    Returns:
        The product record, or the reasons the row is invalid (never empty).
    """
    errors: List[str] = []
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        errors.append("unknown field" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown))
    texts = {
        name: _text(name, raw.get(name), errors, required=name in REQUIRED_FIELDS)
        for name in ("sku", "title", "description", "category", "category_key", "brand")
    }
    for name, limit in _MAX_TEXT.items():
        if len(texts[name]) > limit:
            errors.append(f"{name} is longer than {limit} characters ({len(texts[name])})")
    sku = texts["sku"]
    if sku and not (3 <= len(sku) <= 32 and SKU_PATTERN.fullmatch(sku)):
        errors.append(
            f"sku must be 3-32 upper-case letters or digits in hyphen-separated groups, got {sku!r}"
        )
    key = texts["category_key"]
    if key and not CATEGORY_KEY_PATTERN.fullmatch(key):
        errors.append(
            f"category_key must be 2-40 lower-case letters, digits or underscores, got {key!r}"
        )
    category = _category(texts["category"], errors)

    price = stock = None
    for name, maximum in (("price_cents", MAX_PRICE_CENTS), ("stock", MAX_STOCK)):
        if _missing(raw.get(name), textual):
            errors.append(f"{name} is required")
        elif name == "price_cents":
            price = _integer(name, raw[name], textual, errors, maximum=maximum)
        else:
            stock = _integer(name, raw[name], textual, errors, maximum=maximum)
    reviews = 0
    if not _missing(raw.get("review_count"), textual):
        reviews = _integer(
            "review_count", raw["review_count"], textual, errors, maximum=MAX_REVIEW_COUNT
        )
    currency = DEFAULT_CURRENCY
    if not _missing(raw.get("currency"), textual):
        currency = _text("currency", raw["currency"], errors, required=True)
        if currency and not CURRENCY_PATTERN.fullmatch(currency):
            errors.append(
                f"currency must be three upper-case letters such as EUR, got {currency!r}"
            )
    rating = _rating(raw.get("rating"), textual, errors)
    attributes = _attributes(raw.get("attributes"), textual, errors)

    if errors:
        return tuple(errors)
    assert price is not None and stock is not None and reviews is not None
    return ProductRecord(
        sku=sku,
        title=texts["title"],
        description=texts["description"],
        category=category,
        category_key=key,
        brand=texts["brand"],
        price_cents=price,
        currency=currency,
        rating=rating,
        review_count=reviews,
        stock=stock,
        attributes=attributes,
    )


def record_to_row(record: ProductRecord) -> Dict[str, Any]:
    """Return a record as the JSON Lines row that :func:`validate_row` reads back."""
    return {
        "sku": record.sku,
        "title": record.title,
        "description": record.description,
        "category": record.category,
        "category_key": record.category_key,
        "brand": record.brand,
        "price_cents": record.price_cents,
        "currency": record.currency,
        "rating": record.rating,
        "review_count": record.review_count,
        "stock": record.stock,
        "attributes": json.loads(record.attributes_json()),
    }


def _missing(value: Any, textual: bool) -> bool:
    return value is None or (textual and isinstance(value, str) and value.strip() == "")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
