"""Reading the turn monitor's view of the conversation from Rasa's tracker."""

from datetime import datetime, timedelta, timezone
from typing import Any, Dict

from rasa_sdk.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from actions.handoff_turn import customer_text, read_trail, read_turn, transcript_of
from bot.handoff.payloads import SentimentPoint, TranscriptLine
from tests.actions.conftest import make_tracker, user_message

NOW = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)


def clock() -> datetime:
    return NOW


def at(seconds_before_now: float) -> datetime:
    return NOW - timedelta(seconds=seconds_before_now)


def user(text: str, intent: str, seconds: float, channel: str = "rest") -> Dict[str, Any]:
    return UserUttered(
        text, user_message(text, intent), timestamp=at(seconds).timestamp(), input_channel=channel
    )


def test_no_customer_message_yet_is_no_turn() -> None:
    assert read_turn(make_tracker([ActionExecuted("action_listen")]), clock) is None


def test_a_plain_turn() -> None:
    tracker = make_tracker(
        [
            user("/session_start", "session_start", 300),
            user("hi", "greet", 200, channel="telegram"),
            BotUttered("Hello!", timestamp=at(199).timestamp()),
            SlotSet("recommended_skus", ["HPH-1", "HPH-2"]),
            user("where is my parcel", "order_status", 100, channel="telegram"),
        ]
    )
    turn = read_turn(tracker, clock)
    assert turn is not None
    assert (turn.conversation_id, turn.channel, turn.text, turn.scorable_text, turn.intent) == (
        "customer-1",
        "telegram",
        "where is my parcel",
        "where is my parcel",
        "order_status",
    )
    assert turn.at == at(100)
    assert (turn.handoff_active, turn.ticket_id, turn.already_handled) == (False, None, False)
    assert turn.recent_intents == ("greet", "order_status")
    assert turn.recommended_skus == ("HPH-1", "HPH-2")
    assert turn.transcript == (
        TranscriptLine("customer", "hi", at(200)),
        TranscriptLine("bot", "Hello!", at(199)),
        TranscriptLine("customer", "where is my parcel", at(100)),
    )


def test_a_message_without_a_channel_comes_from_an_unknown_one() -> None:
    tracker = make_tracker([UserUttered("hi", user_message("hi", "greet"), timestamp=None)])
    turn = read_turn(tracker, clock)
    assert turn is not None
    assert (turn.channel, turn.at) == ("unknown", NOW)


def test_handoff_slots_are_read() -> None:
    tracker = make_tracker(
        [
            SlotSet("handoff_active", True),
            SlotSet("handoff_ticket_id", 12.0),
            user("hello?", "greet", 10),
        ]
    )
    turn = read_turn(tracker, clock)
    assert turn is not None
    assert (turn.handoff_active, turn.ticket_id) == (True, 12)


def test_agent_and_handback_lines_in_the_transcript() -> None:
    events = [
        BotUttered("Hi, Dana here.", metadata={"handoff": {"agent": "Dana"}}, timestamp=1.0),
        BotUttered("Back to the bot.", metadata={"handoff": {"handback": True}}, timestamp=2.0),
        BotUttered("Pick one", data={"buttons": [{"title": "A"}, {"title": "B"}]}, timestamp=3.0),
        BotUttered("", timestamp=4.0),
        UserUttered("/request_human", user_message("/request_human", "request_human"), 5.0),
    ]
    moment = datetime.fromtimestamp
    assert transcript_of(events, NOW) == (
        TranscriptLine("agent", "Hi, Dana here.", moment(1.0, timezone.utc), agent_name="Dana"),
        TranscriptLine("system", "Back to the bot.", moment(2.0, timezone.utc)),
        TranscriptLine("bot", "Pick one\n[Buttons: A | B]", moment(3.0, timezone.utc)),
        TranscriptLine("customer", "[Button] Talk to a person", moment(5.0, timezone.utc)),
    )


def test_the_transcript_keeps_the_latest_fifty_lines() -> None:
    events = [BotUttered(f"line {i}", timestamp=float(i)) for i in range(60)]
    lines = transcript_of(events, NOW)
    assert [line.text for line in lines] == [f"line {i}" for i in range(10, 60)]


def test_customer_text_names_buttons() -> None:
    assert customer_text("  hello ", "greet") == "hello"
    assert customer_text("/request_human", "request_human") == "[Button] Talk to a person"
    assert customer_text("/odd", None) == "[Button] /odd"
    assert customer_text(None, None) == ""


def test_malformed_trail_entries_are_skipped() -> None:
    good = {"label": "negative", "score": -0.5, "text": "bad", "at": "2025-03-14T10:00:00+00:00"}
    assert read_trail([good, {"label": "x"}, "junk", {**good, "score": "high"}]) == (
        SentimentPoint("negative", -0.5, "bad", NOW),
    )
    assert read_trail("not a list") == ()
    assert read_trail(None) == ()


def test_counting_starts_after_the_latest_handoff() -> None:
    trail = [
        {"label": "negative", "score": -0.8, "text": "awful", "at": at(300).isoformat()},
        {"label": "negative", "score": -0.5, "text": "bad", "at": at(100).isoformat()},
    ]
    tracker = make_tracker(
        [
            user("awful", "nlu_fallback", 300),
            SlotSet("handoff_active", True, timestamp=at(299).timestamp()),
            user("bad", "nlu_fallback", 250),
            SlotSet("handoff_active", False, timestamp=at(200).timestamp()),
            user("bad", "nlu_fallback", 100),
            SlotSet("sentiment_trail", trail),
            user("still bad", "nlu_fallback", 50),
        ]
    )
    turn = read_turn(tracker, clock)
    assert turn is not None
    assert [p.text for p in turn.trail] == ["awful", "bad"]
    assert [p.text for p in turn.earlier_points] == ["bad"]
    assert turn.fallbacks_in_a_row == 2
