from typing import Any, Callable, Dict, List, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, UserUtteranceReverted, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallbackSuggestions, intent_label

ASK_TO_CHOOSE = (
    "Sorry, I'm not sure I understood. Did you mean one of these? If not, could you rephrase it?"
)
ASK_TO_REPHRASE = "Sorry, I didn't quite get that. Could you rephrase it?"


@pytest.fixture
def fallback_tracker(
    build_tracker: Callable[..., Tracker],
) -> Callable[[List[Dict[str, Any]]], Tracker]:
    def build(ranking: List[Dict[str, Any]]) -> Tracker:
        message = {
            "text": "hmm the thing with the stuff",
            "intent": {"name": "nlu_fallback", "confidence": 0.5},
            "entities": [],
            "intent_ranking": ranking,
        }
        events = [ActionExecuted("action_listen"), UserUttered(message["text"], message)]
        return build_tracker(events, latest_message=message)

    return build


async def run(tracker: Tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionFallbackSuggestions().run(dispatcher, tracker, {})
    return events, dispatcher.messages


@pytest.mark.asyncio
async def test_offers_the_two_likeliest_real_intents_and_reverts_the_message(
    fallback_tracker: Callable[[List[Dict[str, Any]]], Tracker],
) -> None:
    tracker = fallback_tracker(
        [
            {"name": "nlu_fallback", "confidence": 0.5},
            {"name": "order_status", "confidence": 0.41},
            {"name": "out_of_scope", "confidence": 0.3},
            {"name": "return_refund", "confidence": 0.2},
            {"name": "greet", "confidence": 0.05},
        ]
    )

    events, messages = await run(tracker)

    assert events == [UserUtteranceReverted()]
    assert len(messages) == 1
    assert messages[0]["text"] == ASK_TO_CHOOSE
    assert messages[0]["buttons"] == [
        {"title": "Track an order", "payload": "/order_status"},
        {"title": "Return an item or get a refund", "payload": "/return_refund"},
    ]


@pytest.mark.asyncio
async def test_a_single_candidate_gives_a_single_button(
    fallback_tracker: Callable[[List[Dict[str, Any]]], Tracker],
) -> None:
    tracker = fallback_tracker(
        [
            {"name": "nlu_fallback", "confidence": 0.5},
            {"name": "request_human", "confidence": 0.3},
            {"name": "out_of_scope", "confidence": 0.2},
        ]
    )

    events, messages = await run(tracker)

    assert events == [UserUtteranceReverted()]
    assert messages[0]["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]


@pytest.mark.asyncio
async def test_an_intent_without_a_label_uses_its_name(
    fallback_tracker: Callable[[List[Dict[str, Any]]], Tracker],
) -> None:
    tracker = fallback_tracker(
        [
            {"name": "check_gift_card_balance", "confidence": 0.4},
            {"name": "payment_problem", "confidence": 0.3},
        ]
    )

    _, messages = await run(tracker)

    assert messages[0]["buttons"] == [
        {"title": "check gift card balance", "payload": "/check_gift_card_balance"},
        {"title": "Sort out a payment problem", "payload": "/payment_problem"},
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "ranking",
    [
        [],
        [{"name": "nlu_fallback", "confidence": 0.9}, {"name": "out_of_scope", "confidence": 0.1}],
    ],
)
async def test_without_candidates_it_just_asks_to_rephrase(
    fallback_tracker: Callable[[List[Dict[str, Any]]], Tracker], ranking: List[Dict[str, Any]]
) -> None:
    events, messages = await run(fallback_tracker(ranking))

    assert events == [UserUtteranceReverted()]
    assert [message["text"] for message in messages] == [ASK_TO_REPHRASE]
    assert messages[0]["buttons"] == []


@pytest.mark.asyncio
async def test_a_message_without_a_ranking_just_asks_to_rephrase(
    build_tracker: Callable[..., Tracker],
) -> None:
    events, messages = await run(build_tracker([], latest_message={"text": "?"}))

    assert events == [UserUtteranceReverted()]
    assert [message["text"] for message in messages] == [ASK_TO_REPHRASE]


@pytest.mark.parametrize(
    ("intent", "label"),
    [
        ("greet", "Say hello"),
        ("goodbye", "Say goodbye"),
        ("thanks", "Say thanks"),
        ("affirm", "Yes"),
        ("deny", "No"),
        ("bot_challenge", "Am I talking to a bot?"),
        ("request_recommendation", "Get a product recommendation"),
        ("order_status", "Track an order"),
        ("return_refund", "Return an item or get a refund"),
        ("shipping_delivery", "Shipping and delivery"),
        ("payment_problem", "Sort out a payment problem"),
        ("complaint", "Make a complaint"),
        ("request_human", "Talk to a person"),
        ("inform", "Give more details"),
        ("some_new_intent", "some new intent"),
    ],
)
def test_intent_labels(intent: str, label: str) -> None:
    assert intent_label(intent) == label
