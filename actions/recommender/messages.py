"""What the recommendation actions say to customers."""

import json
from typing import Dict, List, Sequence

from actions.needs import StatedNeed
from actions.recommender.payloads import NoMatch, Recommendation, SearchRequest, Vote
from actions.recommender.reasons import format_money

CATALOGUE_UNAVAILABLE = (
    "Sorry, I can't reach our product catalogue right now, please try again in a few minutes."
)
ASK_FOR_NEEDS_RESPONSE = "utter_ask_product_needs"
"""Domain response asking what the customer is shopping for."""
UNKNOWN_PRODUCT = "Sorry, I couldn't find that product any more."
FEEDBACK_UNCLEAR = "Sorry, which product do you mean?"

REFINE_INTENT = "refine_recommendation"
FEEDBACK_INTENT = "recommendation_feedback"

INTRO = "Here's what I'd suggest:"
NOT_QUITE_RIGHT = "Not quite right? I can look for cheaper ones or other brands."
RATE_THEM = "Tell me what you think of them:"
THUMBS_UP = "👍 Like it"
THUMBS_DOWN = "👎 Not for me"
MORE_LIKE_THIS = "More like this"
MORE_LIKE_FIRST = "More like #1"
_ORDINALS = ("first", "second", "third", "fourth", "fifth")


def _payload(intent: str, entities: Dict[str, str]) -> str:
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}"


def refinement_buttons() -> List[Dict[str, str]]:
    """Return the buttons under a list of recommendations."""
    return [
        {"title": "Cheaper", "payload": _payload(REFINE_INTENT, {"refinement": "cheaper"})},
        {"title": MORE_LIKE_FIRST, "payload": more_like_payload(1)},
        {
            "title": "Other brands",
            "payload": _payload(REFINE_INTENT, {"refinement": "other_brands"}),
        },
    ]


def more_like_payload(position: int) -> str:
    """Return the payload of a "more like" button for the product at a 1-based position."""
    return _payload(REFINE_INTENT, {"refinement": "more_like", "position": str(position)})


def feedback_payload(sku: str, vote: Vote) -> str:
    """Return the payload of a thumbs-up or thumbs-down button for a product."""
    return _payload(FEEDBACK_INTENT, {"sku": sku, "vote": Vote(vote).value})


def feedback_position_payload(position: int, vote: Vote) -> str:
    """Return a thumbs payload naming the product by its place in the list shown."""
    return _payload(FEEDBACK_INTENT, {"position": str(position), "vote": Vote(vote).value})


def recommendation_line(number: int, item: Recommendation) -> str:
    """One product: "1. Sony WH-1000XM5: €329, €71 under your €400 budget; ..."."""
    return f"{number}. {item.title}: {'; '.join(item.reasons)}"


def recommendations_text(items: Sequence[Recommendation]) -> str:
    """List recommendations, one numbered line each: title, then the reasons.

    Example::

        Here's what I'd suggest:
        1. Sony WH-1000XM5: €329, €71 under your €400 budget; noise cancelling; ...
    """
    lines = [INTRO]
    lines.extend(recommendation_line(number, item) for number, item in enumerate(items, start=1))
    return "\n".join(lines)


def _ordinal(position: int) -> str:
    return _ORDINALS[position - 1] if 1 <= position <= len(_ORDINALS) else f"number {position}"


def follow_up_words(shown: int) -> str:
    """Spell out the follow-ups for channels without buttons.

    Example (three products): "Reply 'cheaper', 'more like 2' or 'other brands'
    for other suggestions, or say 'thumbs up for the first' or 'thumbs down on
    the second' to rate one."
    """
    other = 2 if shown >= 2 else 1
    return (
        f"Reply 'cheaper', 'more like {other}' or 'other brands' for other suggestions, "
        f"or say 'thumbs up for the first' or 'thumbs down on the {_ordinal(other)}' "
        "to rate one."
    )


def _what(need: StatedNeed) -> str:
    return need.category_key.replace("_", " ") if need.category_key else "products"


def _or_list(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def describe_constraints(request: SearchRequest) -> str:
    """Describe a request's budget and brand constraints: "up to €100, not from Sony"."""
    need = request.need
    parts = []
    low, high = need.budget_min_cents, need.budget_max_cents
    if low is not None and high is not None:
        parts.append(
            f"between {format_money(low, need.currency)} and {format_money(high, need.currency)}"
        )
    elif high is not None:
        parts.append(f"up to {format_money(high, need.currency)}")
    elif low is not None:
        parts.append(f"from {format_money(low, need.currency)}")
    if need.brands_excluded:
        parts.append(f"not from {_or_list(need.brands_excluded)}")
    if request.brands_only and need.brands_wanted:
        parts.append(f"from {_or_list(need.brands_wanted)} only")
    return ", ".join(parts)


def no_match_text(result: NoMatch) -> str:
    """Explain that nothing matched and what the customer could relax.

    Example: "Sorry, I couldn't find any headphones up to €100, not from Sony.
    You could raise the budget to €129, or drop the brand exclusion (Sony)."
    """
    need = result.request.need
    if result.category_empty:
        if need.category_key:
            return f"Sorry, we don't have any {_what(need)} at the moment."
        return "Sorry, our catalogue is empty at the moment."
    constraints = describe_constraints(result.request)
    sentence = f"Sorry, I couldn't find any {_what(need)}" + (
        f" {constraints}." if constraints else "."
    )
    if not result.relaxations:
        return sentence + " Could you tell me a bit more about what you need?"
    options = [relaxation.suggestion for relaxation in result.relaxations]
    return sentence + " You could " + ", or ".join(options) + "."


def position_unclear(shown: int) -> str:
    """Reply when "more like #N" names a product that was not shown."""
    noun = "product" if shown == 1 else "products"
    return f"I showed you {shown} {noun}; which one do you mean?"


def feedback_thanks(title: str, vote: Vote) -> str:
    """Acknowledge a thumbs up or down."""
    if vote is Vote.UP:
        return f"Thanks! I'll look for more like the {title}."
    return f"Got it, I won't suggest the {title} again."
