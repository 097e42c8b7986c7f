"""Fallback for messages the NLU is unsure about: suggest the likeliest intents.

Like Rasa's own two-stage fallback, the action reverts the user's message, so an
utterance nobody understood does not steer the dialogue policies; the customer
picks a button (which sends the intent directly) or rephrases.
"""

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

INTENT_LABELS: Dict[str, str] = {
    "greet": "Say hello",
    "goodbye": "Say goodbye",
    "thanks": "Say thanks",
    "affirm": "Yes",
    "deny": "No",
    "bot_challenge": "Am I talking to a bot?",
    "request_recommendation": "Get a product recommendation",
    "order_status": "Track an order",
    "return_refund": "Return an item or get a refund",
    "shipping_delivery": "Shipping and delivery",
    "payment_problem": "Sort out a payment problem",
    "complaint": "Make a complaint",
    "request_human": "Talk to a person",
    "inform": "Give more details",
}
"""Button titles for the intents of the domain."""

EXCLUDED_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
MAX_SUGGESTIONS = 2
ASK_TO_CHOOSE = (
    "Sorry, I'm not sure I understood. Did you mean one of these? If not, could you rephrase it?"
)
ASK_TO_REPHRASE = "Sorry, I didn't quite get that. Could you rephrase it?"


def intent_label(intent: str) -> str:
    """Return the button title for an intent.

    Args:
        intent: The intent's name.

    Returns:
        Its label, or the name with underscores as spaces for intents without one.
    """
    return INTENT_LABELS.get(intent, intent.replace("_", " "))


def suggested_intents(intent_ranking: List[Dict[str, Any]]) -> List[str]:
    """Pick the likeliest intents worth offering as buttons.

    Args:
        intent_ranking: The NLU's ranking (``name`` and ``confidence`` per entry).

    Returns:
        Up to ``MAX_SUGGESTIONS`` intent names, most confident first, without
        the fallback and out-of-scope intents.
    """
    ranked = sorted(intent_ranking, key=lambda entry: entry.get("confidence") or 0.0, reverse=True)
    names: List[str] = []
    for entry in ranked:
        name = entry.get("name")
        if name and name not in EXCLUDED_INTENTS and name not in names:
            names.append(name)
    return names[:MAX_SUGGESTIONS]


class ActionFallbackSuggestions(Action):
    """Asks the customer to rephrase, offering the two likeliest intents as buttons."""

    def name(self) -> str:
        """Return the action's name."""
        return "action_fallback_suggestions"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Send one message with suggestion buttons and revert the user's message.

        Returns:
            ``[UserUtteranceReverted()]``.
        """
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        intents = suggested_intents(ranking)
        if intents:
            buttons = [{"title": intent_label(name), "payload": f"/{name}"} for name in intents]
            dispatcher.utter_message(text=ASK_TO_CHOOSE, buttons=buttons)
        else:
            dispatcher.utter_message(text=ASK_TO_REPHRASE)
        return [UserUtteranceReverted()]
