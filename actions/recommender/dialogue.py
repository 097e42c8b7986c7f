"""One conversational turn of the recommender, free of rasa-sdk.

:class:`Turn` is what the action reads from the tracker; :func:`respond` works
out the :class:`Reply` (blocking: it reads the database and embeds text, so
the action runs it in a thread). The need is built from the latest message,
filled in from the slots ``product_category``, ``budget`` and ``brand``, and
merged into the previous need kept in ``product_need``; a follow-up ("cheaper",
"more like #2", "other brands") refines the previous request instead.
"""

import re
from dataclasses import dataclass, field, replace
from typing import Any, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from actions.catalogue_budget import parse_budget
from actions.catalogue_vocabulary import CATEGORY_BY_KEY
from actions.needs import StatedNeed, find_brands, find_category, merge_need, parse_need
from actions.recommender import messages
from actions.recommender.payloads import NoMatch, Recommendation, SearchRequest
from actions.recommender.refinements import (
    RefinementKind,
    apply_refinement,
    parse_refinement,
    wants_only_brands,
)
from actions.recommender.service import Recommender

CATEGORY_SLOT = "product_category"
BUDGET_SLOT = "budget"
BRAND_SLOT = "brand"
NEED_SLOT = "product_need"
SKUS_SLOT = "recommended_skus"
TOP_K = 3

_GENERIC_WORDS = frozenset(
    "a an and any anything advice are buy can choose could do find for get good help i i'd "
    "i'm idea ideas is it like looking me my need new please product products recommend "
    "recommendation recommendations should show some something suggest suggestion "
    "suggestions the thing things to want what which would you".split()
)


@dataclass(frozen=True)
class Turn:
    """What the recommender needs from the conversation.

    Attributes:
        conversation_id: The sender id.
        text: The latest user message ("" for a button payload).
        entities: The latest message's entities.
        slots: Values of ``product_category``, ``budget``, ``brand``.
        slots_set_this_turn: Which of those were set since the latest message.
        previous: The request kept in ``product_need``, if any.
        shown_skus: The products shown last (``recommended_skus``).
        asked_for_needs: Whether the bot's previous message asked what the
            customer is shopping for (so a reply with nothing to search for
            means "skip": show the best-rated products rather than ask again).
    """

    conversation_id: str
    text: str
    entities: Tuple[Mapping[str, Any], ...] = ()
    slots: Mapping[str, Any] = field(default_factory=dict)
    slots_set_this_turn: FrozenSet[str] = frozenset()
    previous: Optional[SearchRequest] = None
    shown_skus: Tuple[str, ...] = ()
    asked_for_needs: bool = False


@dataclass(frozen=True)
class Reply:
    """What to send and which slots to set.

    Attributes:
        text: A text message, if any.
        response: A domain response to send instead, if any.
        recommendations: Products to show, best first; the action renders
            them for the customer's channel (:mod:`actions.recommender.rendering`).
        slots: Slots to set, by name.
    """

    text: Optional[str] = None
    response: Optional[str] = None
    recommendations: Tuple[Recommendation, ...] = ()
    slots: Mapping[str, Any] = field(default_factory=dict)


def _values(value: Any) -> List[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(item).strip() for item in items if item not in (None, "") and str(item).strip()]


def category_key_for(value: Any) -> Optional[str]:
    """Map a ``product_category`` slot value ("laptop", "television") to a category key."""
    for text in _values(value):
        key = text.lower().replace(" ", "_")
        if key in CATEGORY_BY_KEY:
            return key
        found = find_category(text)
        if found:
            return found
    return None


def _canonical_brands(value: Any, brands: Sequence[str]) -> List[str]:
    by_lower = {brand.lower(): brand for brand in brands}
    found: List[str] = []
    for text in _values(value):
        brand = by_lower.get(text.lower())
        if brand is None:
            wanted, _ = find_brands(text, brands)
            brand = wanted[0] if wanted else None
        if brand is not None and brand not in found:
            found.append(brand)
    return found


def need_from_turn(turn: Turn, brands: Sequence[str]) -> StatedNeed:
    """Read the need of the latest message, completed from slots and merged.

    Slots fill only what the message leaves open, and once a previous need
    exists only slots set in this turn count (an old ``budget`` slot must not
    undo a "cheaper").
    """
    previous = turn.previous.need if turn.previous else None
    text = "" if turn.text.startswith("/") else turn.text
    update = parse_need(text, brands=brands)

    def slot(name: str) -> Any:
        if previous is not None and name not in turn.slots_set_this_turn:
            return None
        return turn.slots.get(name)

    if update.category_key is None:
        update = replace(update, category_key=category_key_for(slot(CATEGORY_SLOT)))
    if not update.has_budget:
        budget = next((b for b in map(parse_budget, _values(slot(BUDGET_SLOT))) if b), None)
        if budget is not None:
            update = replace(
                update,
                budget_min_cents=budget.min_cents,
                budget_max_cents=budget.max_cents,
                currency=budget.currency or update.currency,
                currency_stated=budget.currency is not None,
            )
    said = set(update.brands_wanted) | set(update.brands_excluded)
    said |= set(previous.brands_excluded) if previous else set()
    extra = [b for b in _canonical_brands(slot(BRAND_SLOT), brands) if b not in said]
    if extra:
        update = replace(update, brands_wanted=(*update.brands_wanted, *extra))
    return merge_need(previous, update) if previous is not None else update


def says_nothing(need: StatedNeed) -> bool:
    """Whether a need gives nothing to search for ("can you recommend something?")."""
    if need.category_key or need.has_budget or need.features or need.brands_wanted:
        return False
    words = re.findall(r"[a-z0-9']+", need.text.lower())
    return all(word in _GENERIC_WORDS for word in words)


def _refined(turn: Turn, recommender: Recommender) -> Union[Reply, SearchRequest, None]:
    """Apply a follow-up to the previous request, if the message asks for one.

    A message that names another category ("a cheaper laptop" after
    headphones) starts a new search instead.
    """
    previous = turn.previous
    if previous is None or not turn.shown_skus:
        return None
    refinement = parse_refinement(turn.text, turn.entities, shown_count=len(turn.shown_skus))
    if refinement is None:
        return None
    is_payload = turn.text.startswith("/")
    extra = parse_need("" if is_payload else turn.text, brands=recommender.brands())
    if extra.category_key not in (None, previous.need.category_key):
        return None
    if refinement.kind is RefinementKind.MORE_LIKE and not (
        refinement.position and 1 <= refinement.position <= len(turn.shown_skus)
    ):
        return Reply(text=messages.position_unclear(len(turn.shown_skus)))
    records = {record.sku: record for record in recommender.products(turn.shown_skus)}
    if refinement.kind is RefinementKind.MORE_LIKE:
        chosen = turn.shown_skus[(refinement.position or 1) - 1]
        if chosen not in records:
            return Reply(text=messages.UNKNOWN_PRODUCT)
        shown = [records[chosen]]
        refinement = replace(refinement, position=1)
    else:
        shown = [records[sku] for sku in turn.shown_skus if sku in records]
    # "Cheaper, and not Sony": what else the message says joins the need; its
    # words do not, or "cheaper" would become part of the semantic query.
    merged = merge_need(previous.need, replace(extra, text=""))
    base = previous.with_need(replace(merged, text=previous.need.text))
    return apply_refinement(refinement, base, shown)


def respond(turn: Turn, recommender: Recommender) -> Reply:
    """Work out the reply to one turn (blocking).

    Returns:
        Up to three recommendations, the relax-constraint message when
        nothing matches, or the question about the customer's needs when the
        message gives nothing to search for.

    Raises:
        DatabaseUnavailable: If the catalogue cannot be reached.
    """
    refined = _refined(turn, recommender)
    if isinstance(refined, Reply):
        return refined
    if refined is not None:
        request = refined
    else:
        need = need_from_turn(turn, recommender.brands())
        if turn.previous is None and says_nothing(need) and not turn.asked_for_needs:
            return Reply(response=messages.ASK_FOR_NEEDS_RESPONSE)
        keep_only = bool(
            turn.previous
            and turn.previous.brands_only
            and turn.previous.need.category_key == need.category_key
        )
        request = SearchRequest(
            need=need,
            brands_only=bool(need.brands_wanted)
            and (keep_only or wants_only_brands(turn.text, need.brands_wanted)),
        )
    result = recommender.recommend(request, conversation_id=turn.conversation_id, top_k=TOP_K)
    if isinstance(result, NoMatch):
        return Reply(
            text=messages.no_match_text(result),
            slots={SKUS_SLOT: [], NEED_SLOT: request.to_json()},
        )
    return Reply(
        recommendations=result.items,
        slots={SKUS_SLOT: [item.sku for item in result.items], NEED_SLOT: request.to_json()},
    )


def entities_of(message: Mapping[str, Any]) -> Tuple[Mapping[str, Any], ...]:
    """Return a parsed message's entities as a tuple."""
    entities: Iterable[Mapping[str, Any]] = message.get("entities") or ()
    return tuple(entity for entity in entities if isinstance(entity, Mapping))
