import asyncio
import json
import time
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.db import Database
from actions.needs import StatedNeed
from actions.recommender.actions import ActionRecommendationFeedback, ActionRecommendProducts
from actions.recommender.payloads import SearchRequest, Vote
from actions.recommender.service import Recommender
from actions.settings import Settings
from tests.actions.recommender.support import FakeEmbedder

BUTTONS = [
    {"title": "Cheaper", "payload": '/refine_recommendation{"refinement":"cheaper"}'},
    {
        "title": "More like #1",
        "payload": '/refine_recommendation{"refinement":"more_like","position":"1"}',
    },
    {"title": "Other brands", "payload": '/refine_recommendation{"refinement":"other_brands"}'},
]
FIRST_TEXT = "noise cancelling headphones under 400 euros"
FIRST_NEED = StatedNeed(
    text=FIRST_TEXT,
    budget_max_cents=40000,
    currency="EUR",
    currency_stated=True,
    category_key="headphones",
    features=("noise_cancelling",),
)
FIRST_SHOWN = ["HP-1", "HP-4", "HP-6"]

Turn = Callable[..., Tracker]


@pytest.fixture
def turn(build_tracker: Callable[..., Tracker], parse_data: Callable[..., Dict[str, Any]]) -> Turn:
    """A tracker for one customer message, after an earlier recommendation if given."""

    def build(
        text: str,
        *,
        intent: str = "request_recommendation",
        entities: Optional[List[Dict[str, Any]]] = None,
        slots_this_turn: Optional[Dict[str, Any]] = None,
        earlier: Optional[Tuple[SearchRequest, Sequence[str]]] = None,
        earlier_slots: Optional[Dict[str, Any]] = None,
        channel: Optional[str] = None,
    ) -> Tracker:
        events: List[Dict[str, Any]] = [ActionExecuted("action_listen")]
        for name, value in (earlier_slots or {}).items():
            events.append(SlotSet(name, value))
        if earlier is not None:
            request, shown = earlier
            events += [
                UserUttered("earlier", parse_data("earlier", "request_recommendation")),
                ActionExecuted("action_recommend_products"),
                BotUttered("Here's what I'd suggest: ..."),
                SlotSet("recommended_skus", list(shown)),
                SlotSet("product_need", request.to_json()),
                ActionExecuted("action_listen"),
            ]
        message = parse_data(text, intent, entities)
        events.append(UserUttered(text, message, input_channel=channel))
        for name, value in (slots_this_turn or {}).items():
            events.append(SlotSet(name, value))
        return build_tracker(events, latest_message=message)

    return build


async def run(action: Any, tracker: Tracker) -> Tuple[List[Dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return events, dispatcher


def only_message(dispatcher: CollectingDispatcher) -> Dict[str, Any]:
    assert len(dispatcher.messages) == 1
    return dispatcher.messages[0]


def need_slot(events: List[Dict[str, Any]]) -> SearchRequest:
    (value,) = [e["value"] for e in events if e["name"] == "product_need"]
    request = SearchRequest.from_json(value)
    assert request is not None
    return request


FIRST_LINES = (
    "Here's what I'd suggest:\n"
    "1. Sony WH-1000XM5 Noise Cancelling Headphones: €329, €71 under your €400 budget; "
    "noise cancelling; rated 4.5/5 from 58 reviews\n"
    "2. Sennheiser Momentum 4 Wireless Headphones: €279, €121 under your €400 budget; "
    "noise cancelling; rated 4.4/5 from 90 reviews\n"
    "3. Apple AirPods Pro 2 Earbuds: €279, €121 under your €400 budget; "
    "noise cancelling; rated 4.6/5 from 2,000 reviews"
)
FOLLOW_UPS = (
    "Reply 'cheaper', 'more like 2' or 'other brands' for other suggestions, "
    "or say 'thumbs up for the first' or 'thumbs down on the second' to rate one."
)


def first_turn(turn: Turn, channel: Optional[str]) -> Tracker:
    return turn(
        FIRST_TEXT,
        entities=[{"entity": "product_category", "value": "headphones"}],
        slots_this_turn={"product_category": "headphones", "budget": "under 400 euros"},
        channel=channel,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("channel", ["twilio", None, "some_custom_connector"])
async def test_recommends_the_top_three_as_numbered_text_where_there_are_no_buttons(
    recommender: Recommender, turn: Turn, channel: Optional[str]
) -> None:
    events, dispatcher = await run(ActionRecommendProducts(recommender), first_turn(turn, channel))

    message = only_message(dispatcher)
    assert message["text"] == f"{FIRST_LINES}\n{FOLLOW_UPS}"
    assert (message["buttons"], message["attachment"], message["custom"]) == ([], None, {})
    assert events == [
        SlotSet("recommended_skus", FIRST_SHOWN),
        SlotSet("product_need", SearchRequest(FIRST_NEED).to_json()),
    ]


def thumbs(sku: str) -> List[Dict[str, str]]:
    return [
        {
            "title": "👍 Like it",
            "payload": f'/recommendation_feedback{{"sku":"{sku}","vote":"up"}}',
        },
        {
            "title": "👎 Not for me",
            "payload": f'/recommendation_feedback{{"sku":"{sku}","vote":"down"}}',
        },
    ]


def more_like(position: int) -> Dict[str, str]:
    return {
        "title": "More like this",
        "payload": f'/refine_recommendation{{"refinement":"more_like","position":"{position}"}}',
    }


OTHER_CHOICES = [BUTTONS[0], BUTTONS[2]]


@pytest.mark.asyncio
async def test_rest_gets_the_text_with_buttons_then_thumbs_for_every_product(
    recommender: Recommender, turn: Turn
) -> None:
    events, dispatcher = await run(ActionRecommendProducts(recommender), first_turn(turn, "rest"))

    first, rate = dispatcher.messages
    assert (first["text"], first["buttons"]) == (f"{FIRST_LINES}\n{FOLLOW_UPS}", BUTTONS)
    assert rate["text"] == "Tell me what you think of them:"
    assert [b["title"] for b in rate["buttons"]] == [
        "👍 Like it #1", "👎 Not for me #1", "👍 Like it #2", "👎 Not for me #2",
        "👍 Like it #3", "👎 Not for me #3",
    ]  # fmt: skip
    assert [b["payload"] for b in rate["buttons"]] == [
        b["payload"] for sku in FIRST_SHOWN for b in thumbs(sku)
    ]
    assert events[0] == SlotSet("recommended_skus", FIRST_SHOWN)


@pytest.mark.asyncio
async def test_the_web_widget_gets_a_carousel(recommender: Recommender, turn: Turn) -> None:
    _, dispatcher = await run(ActionRecommendProducts(recommender), first_turn(turn, "socketio"))

    intro, carousel, others = dispatcher.messages
    assert (intro["text"], intro["buttons"], intro["attachment"]) == (
        "Here's what I'd suggest:",
        [],
        None,
    )
    assert carousel["text"] is None
    elements = carousel["attachment"]["payload"]["elements"]
    assert [e["title"] for e in elements] == [
        "Sony WH-1000XM5 Noise Cancelling Headphones",
        "Sennheiser Momentum 4 Wireless Headphones",
        "Apple AirPods Pro 2 Earbuds",
    ]
    assert elements[0]["subtitle"] == (
        "€329, €71 under your €400 budget; noise cancelling; rated 4.5/5 from 58 reviews"
    )
    assert elements[2]["buttons"] == [
        {"type": "postback", **button} for button in [*thumbs("HP-6"), more_like(3)]
    ]
    assert (others["text"], others["buttons"]) == (
        "Not quite right? I can look for cheaper ones or other brands.",
        OTHER_CHOICES,
    )


@pytest.mark.asyncio
async def test_telegram_gets_one_message_with_buttons_per_product(
    recommender: Recommender, turn: Turn
) -> None:
    _, dispatcher = await run(ActionRecommendProducts(recommender), first_turn(turn, "telegram"))

    texts = [message["text"] for message in dispatcher.messages]
    lines = FIRST_LINES.split("\n")
    assert texts == [
        f"{lines[0]}\n{lines[1]}",
        lines[2],
        lines[3],
        "Not quite right? I can look for cheaper ones or other brands.",
    ]
    assert [message["buttons"] for message in dispatcher.messages] == [
        [*thumbs("HP-1"), more_like(1)],
        [*thumbs("HP-4"), more_like(2)],
        [*thumbs("HP-6"), more_like(3)],
        OTHER_CHOICES,
    ]


@pytest.mark.asyncio
async def test_slots_fill_in_what_the_message_leaves_open(
    recommender: Recommender, turn: Turn
) -> None:
    tracker = turn(
        "something for work",
        slots_this_turn={"product_category": "laptop", "budget": "max 1400", "brand": ["dell"]},
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    assert only_message(dispatcher)["text"].splitlines()[1] == (
        "1. Dell XPS 13 Laptop: €1,299, €101 under your €1,400 budget; "
        "Dell, a brand you asked for; rated 4.5/5 from 40 reviews"
    )
    assert events[0] == SlotSet("recommended_skus", ["LT-1", "LT-3"])
    assert need_slot(events).need == StatedNeed(
        text="something for work",
        budget_max_cents=140000,
        category_key="laptops",
        brands_wanted=("Dell",),
    )


@pytest.mark.asyncio
async def test_the_cheaper_button_lowers_the_budget_below_what_was_shown(
    recommender: Recommender, turn: Turn
) -> None:
    tracker = turn(
        '/refine_recommendation{"refinement":"cheaper"}',
        intent="refine_recommendation",
        entities=[{"entity": "refinement", "value": "cheaper"}],
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
        earlier_slots={"budget": "under 400 euros", "product_category": "headphones"},
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    assert only_message(dispatcher)["text"] == (
        "Here's what I'd suggest:\n"
        "1. Sony WH-CH520 Wireless Headphones: €59, €219.99 under your €278.99 budget; "
        "rated 4.2/5 from 300 reviews\n"
        "Reply 'cheaper', 'more like 1' or 'other brands' for other suggestions, "
        "or say 'thumbs up for the first' or 'thumbs down on the first' to rate one."
    )
    assert events == [
        SlotSet("recommended_skus", ["HP-3"]),
        SlotSet("product_need", SearchRequest(replace_budget(FIRST_NEED, 27899)).to_json()),
    ]


def replace_budget(need: StatedNeed, cents: int) -> StatedNeed:
    return replace(need, budget_max_cents=cents)


@pytest.mark.asyncio
async def test_an_old_budget_slot_does_not_undo_cheaper(
    recommender: Recommender, turn: Turn
) -> None:
    earlier = (SearchRequest(replace_budget(FIRST_NEED, 27899)), ["HP-3"])
    tracker = turn(
        "ideally with a long battery",
        intent="inform",
        earlier=earlier,
        earlier_slots={"budget": "under 400 euros"},
    )

    events, _ = await run(ActionRecommendProducts(recommender), tracker)

    need = need_slot(events).need
    assert need.budget_max_cents == 27899
    assert need.features == ("noise_cancelling", "long_battery")
    assert need.text == f"{FIRST_TEXT} ideally with a long battery"


@pytest.mark.asyncio
async def test_a_typed_refinement_can_add_constraints(recommender: Recommender, turn: Turn) -> None:
    tracker = turn(
        "something cheaper, and not Sony",
        intent="refine_recommendation",
        earlier=(SearchRequest(FIRST_NEED), ["HP-2", "HP-1"]),
    )

    events, _ = await run(ActionRecommendProducts(recommender), tracker)

    assert events[0] == SlotSet("recommended_skus", ["HP-4", "HP-6"])
    need = need_slot(events).need
    assert (need.budget_max_cents, need.brands_excluded, need.text) == (
        32899,
        ("Sony",),
        FIRST_TEXT,
    )


@pytest.mark.asyncio
async def test_another_category_starts_a_new_search(recommender: Recommender, turn: Turn) -> None:
    tracker = turn(
        "actually I need a cheaper laptop",
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
    )

    events, _ = await run(ActionRecommendProducts(recommender), tracker)

    assert sorted(events[0]["value"]) == ["LT-1", "LT-2", "LT-3"]
    assert need_slot(events).need == StatedNeed(
        "actually I need a cheaper laptop", category_key="laptops"
    )


@pytest.mark.asyncio
async def test_more_like_the_first_one(recommender: Recommender, turn: Turn) -> None:
    tracker = turn(
        "more like the first one",
        intent="refine_recommendation",
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
        channel="rest",
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    assert events[0] == SlotSet("recommended_skus", ["HP-4", "HP-6", "HP-3"])
    request = need_slot(events)
    assert (request.like_sku, request.exclude_skus, request.need) == ("HP-1", ("HP-1",), FIRST_NEED)
    assert dispatcher.messages[0]["buttons"] == BUTTONS


@pytest.mark.asyncio
async def test_more_like_a_product_that_was_not_shown(recommender: Recommender, turn: Turn) -> None:
    tracker = turn(
        '/refine_recommendation{"refinement":"more_like","position":"4"}',
        intent="refine_recommendation",
        entities=[
            {"entity": "refinement", "value": "more_like"},
            {"entity": "position", "value": "4"},
        ],
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    assert events == []
    assert only_message(dispatcher)["text"] == "I showed you 3 products; which one do you mean?"


@pytest.mark.asyncio
async def test_other_brands_can_leave_nothing_and_says_what_to_relax(
    recommender: Recommender, turn: Turn
) -> None:
    tracker = turn(
        "show me other brands",
        intent="refine_recommendation",
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    message = only_message(dispatcher)
    assert message["text"] == (
        "Sorry, I couldn't find any headphones up to €400, not from Sony, Sennheiser or Apple. "
        "You could raise the budget to €449.95, or drop the brand exclusion (Sony, Sennheiser, "
        "Apple), or include products that are sold out right now."
    )
    assert message["buttons"] == []
    assert events[0] == SlotSet("recommended_skus", [])
    assert need_slot(events).need.brands_excluded == ("Sony", "Sennheiser", "Apple")


@pytest.mark.asyncio
async def test_a_vague_request_asks_what_the_customer_needs(
    recommender: Recommender, turn: Turn
) -> None:
    events, dispatcher = await run(
        ActionRecommendProducts(recommender), turn("can you recommend something?")
    )

    assert events == []
    assert only_message(dispatcher)["response"] == "utter_ask_product_needs"


@pytest.mark.asyncio
async def test_a_customer_who_skips_the_question_gets_the_best_rated_products(
    recommender: Recommender,
    build_tracker: Callable[..., Tracker],
    parse_data: Callable[..., Dict[str, Any]],
) -> None:
    skipped = parse_data("no idea, just show me something", "inform")
    tracker = build_tracker(
        [
            ActionExecuted("action_listen"),
            UserUttered(
                "recommend me something",
                parse_data("recommend me something", "request_recommendation"),
            ),
            ActionExecuted("action_recommend_products"),
            BotUttered(
                "Happy to help you choose! ...",
                metadata={"utter_action": "utter_ask_product_needs"},
            ),
            ActionExecuted("action_listen"),
            UserUttered("no idea, just show me something", skipped),
        ],
        latest_message=skipped,
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    expected = recommender.recommend(
        SearchRequest(need=need_slot(events).need), conversation_id="x", top_k=3
    )
    shown = [e["value"] for e in events if e["name"] == "recommended_skus"]
    assert shown == [[item.sku for item in expected.items]] and len(shown[0]) == 3
    assert dispatcher.messages[0]["response"] is None


@pytest.mark.asyncio
async def test_a_vague_request_after_another_bot_message_still_asks(
    recommender: Recommender,
    build_tracker: Callable[..., Tracker],
    parse_data: Callable[..., Dict[str, Any]],
) -> None:
    vague = parse_data("can you recommend something?", "request_recommendation")
    tracker = build_tracker(
        [
            ActionExecuted("action_listen"),
            UserUttered("hi", parse_data("hi", "greet")),
            BotUttered("Hello!", metadata={"utter_action": "utter_greet"}),
            ActionExecuted("action_listen"),
            UserUttered("can you recommend something?", vague),
        ],
        latest_message=vague,
    )

    events, dispatcher = await run(ActionRecommendProducts(recommender), tracker)

    assert events == []
    assert only_message(dispatcher)["response"] == "utter_ask_product_needs"


@pytest.mark.asyncio
async def test_an_unreachable_catalogue_is_reported(turn: Turn) -> None:
    unreachable = Settings(database_url="postgresql://postgres@127.0.0.1:1/shop?connect_timeout=2")
    action = ActionRecommendProducts(Recommender(Database(unreachable), FakeEmbedder()))

    events, dispatcher = await run(action, turn(FIRST_TEXT))

    assert events == []
    assert only_message(dispatcher)["text"] == (
        "Sorry, I can't reach our product catalogue right now, please try again in a few minutes."
    )


@pytest.mark.asyncio
async def test_a_thumbs_down_is_recorded_and_used_in_the_conversation(
    recommender: Recommender, turn: Turn
) -> None:
    feedback = turn(
        '/recommendation_feedback{"sku":"HP-1","vote":"down"}',
        intent="recommendation_feedback",
        entities=[{"entity": "sku", "value": "HP-1"}, {"entity": "vote", "value": "down"}],
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
    )

    events, dispatcher = await run(ActionRecommendationFeedback(recommender), feedback)

    assert events == []
    assert only_message(dispatcher)["text"] == (
        "Got it, I won't suggest the Sony WH-1000XM5 Noise Cancelling Headphones again."
    )
    (vote,) = recommender.feedback.for_conversation("customer-1")
    assert (vote.sku, vote.vote, vote.need_text) == ("HP-1", Vote.DOWN, FIRST_TEXT)

    again, _ = await run(ActionRecommendProducts(recommender), turn(FIRST_TEXT))
    assert again[0] == SlotSet("recommended_skus", ["HP-4", "HP-6", "HP-3"])


@pytest.mark.asyncio
async def test_a_thumbs_up_by_position(recommender: Recommender, turn: Turn) -> None:
    tracker = turn(
        "I like the second one",
        intent="recommendation_feedback",
        entities=[{"entity": "position", "value": "2"}, {"entity": "vote", "value": "up"}],
        earlier=(SearchRequest(FIRST_NEED), FIRST_SHOWN),
    )

    _, dispatcher = await run(ActionRecommendationFeedback(recommender), tracker)

    assert only_message(dispatcher)["text"] == (
        "Thanks! I'll look for more like the Sennheiser Momentum 4 Wireless Headphones."
    )
    assert [e.sku for e in recommender.feedback.for_conversation("customer-1")] == ["HP-4"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("entities", "reply"),
    [
        ([{"entity": "vote", "value": "up"}], "Sorry, which product do you mean?"),
        ([{"entity": "sku", "value": "HP-1"}], "Sorry, which product do you mean?"),
        (
            [{"entity": "sku", "value": "NOPE-1"}, {"entity": "vote", "value": "up"}],
            "Sorry, I couldn't find that product any more.",
        ),
    ],
)
async def test_unclear_feedback_is_not_recorded(
    recommender: Recommender, turn: Turn, entities: List[Dict[str, Any]], reply: str
) -> None:
    tracker = turn("/recommendation_feedback", intent="recommendation_feedback", entities=entities)

    _, dispatcher = await run(ActionRecommendationFeedback(recommender), tracker)

    assert only_message(dispatcher)["text"] == reply
    assert recommender.feedback.for_conversation("customer-1") == []


@pytest.mark.asyncio
async def test_embedding_runs_off_the_event_loop(catalogue_database: Database, turn: Turn) -> None:
    slow = FakeEmbedder(on_embed=lambda texts: time.sleep(0.05))
    action = ActionRecommendProducts(Recommender(catalogue_database, slow))
    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    events, _ = await run(action, turn(FIRST_TEXT))
    done.set()
    await ticker

    assert events[0] == SlotSet("recommended_skus", FIRST_SHOWN)
    assert len(slow.calls) == 2  # the catalogue, then the query: 0.1 s of blocking work
    assert ticks >= 5


def test_the_need_slot_holds_readable_json() -> None:
    payload = json.loads(SearchRequest(FIRST_NEED).to_json())

    assert payload["format"] == 1
    assert payload["need"]["budget_max_cents"] == 40000
    assert payload["need"]["features"] == ["noise_cancelling"]
