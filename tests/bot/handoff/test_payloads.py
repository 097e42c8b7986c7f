from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff import queue
from bot.handoff.payloads import HandoffRequest, SentimentPoint

AT = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)


def test_sentiment_points_round_trip_through_json() -> None:
    point = SentimentPoint("negative", -0.75, "x" * 600, AT)

    assert len(point.text) == 500
    assert point.to_dict() == {
        "label": "negative",
        "score": -0.75,
        "text": "x" * 500,
        "at": "2025-03-14T10:00:00+00:00",
    }
    assert SentimentPoint.from_dict(point.to_dict()) == point


def test_sentiment_points_read_other_zones_and_naive_times_as_utc() -> None:
    vienna = timezone(timedelta(hours=1))
    local = SentimentPoint.from_dict(
        {"label": "neutral", "score": 0, "text": "ok", "at": "2025-03-14T11:00:00+01:00"}
    )
    naive = SentimentPoint.from_dict(
        {"label": "neutral", "score": 0, "text": "ok", "at": "2025-03-14T10:00:00"}
    )

    assert local.at == AT and local.at.tzinfo == timezone.utc
    assert naive.at == AT
    assert SentimentPoint("neutral", 0.0, "ok", AT.astimezone(vienna)).to_dict()["at"] == (
        "2025-03-14T10:00:00+00:00"
    )


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"label": "negative", "score": "bad", "text": "x", "at": "2025-03-14T10:00:00"},
        {"label": "negative", "score": True, "text": "x", "at": "2025-03-14T10:00:00"},
        {"label": "negative", "score": -1, "text": "x", "at": "yesterday"},
        {"label": "negative", "score": -1, "text": "x", "at": 5},
        {"label": None, "score": -1, "text": "x", "at": "2025-03-14T10:00:00"},
    ],
)
def test_malformed_points_are_refused(value: dict) -> None:
    with pytest.raises(ValueError):
        SentimentPoint.from_dict(value)


def test_requests_hold_tuples() -> None:
    request = HandoffRequest("c", "rest", "requested_human", [], ["greet"], [])  # type: ignore[arg-type]

    assert (request.sentiment_trail, request.recent_intents, request.transcript) == (
        (),
        ("greet",),
        (),
    )


def test_the_priority_formula() -> None:
    assert queue.negativity([]) == 0.0
    assert queue.negativity([0.9, -0.3, -0.6, -0.9]) == 0.6
    assert queue.negativity([0.5, 0.2]) == 0.0
    assert queue.negativity([-1.0, -1.0]) == 1.0
    assert queue.priority(0.6, 120) == 20.0
    assert queue.waiting_seconds(None, AT) == 0
    assert queue.waiting_seconds(AT - timedelta(seconds=90.7), AT) == 90
    assert queue.waiting_seconds(AT + timedelta(seconds=5), AT) == 0
    assert queue.expected_wait_s(3, 2, 300) == 450
    assert queue.expected_wait_s(1, 3, 100) == 34
    assert queue.expected_wait_s(1, 0, 300) is None
