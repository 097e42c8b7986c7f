"""The escalation policy: every trigger, and the boundaries where it does not fire."""

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import pytest

from actions.escalation import EscalationPolicy, EscalationReason, decide
from actions.settings import PROJECT_ROOT, Settings
from bot.handoff.payloads import SentimentPoint

AT = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
POLICY = EscalationPolicy()


def point(score: float, label: Optional[str] = None) -> SentimentPoint:
    if label is None:
        label = "negative" if score <= -0.05 else "positive" if score >= 0.05 else "neutral"
    return SentimentPoint(label=label, score=score, text="message", at=AT)


def test_defaults() -> None:
    assert POLICY == EscalationPolicy(
        strong_negative_score=-0.6,
        negative_score=-0.3,
        negative_turns=2,
        negative_window=3,
        fallbacks_in_a_row=2,
        on_request=True,
    )


# --- strong negative --------------------------------------------------------


def test_a_message_at_the_strong_negative_threshold_escalates() -> None:
    assert decide(POLICY, intent="complaint", latest=point(-0.6)) is (
        EscalationReason.STRONG_NEGATIVE
    )
    assert decide(POLICY, intent="complaint", latest=point(-0.95)) is (
        EscalationReason.STRONG_NEGATIVE
    )


def test_a_message_just_above_the_strong_negative_threshold_does_not() -> None:
    assert decide(POLICY, intent="complaint", latest=point(-0.59)) is None


def test_a_strong_score_needs_the_negative_label() -> None:
    # A classifier may rank neutral first while p(neg) - p(pos) is still large.
    assert decide(POLICY, intent="complaint", latest=point(-0.7, label="neutral")) is None


def test_strong_negative_wins_over_the_other_triggers() -> None:
    reason = decide(
        POLICY,
        intent="request_human",
        latest=point(-0.8),
        earlier=[point(-0.5), point(-0.5)],
        fallbacks_in_a_row=3,
    )
    assert reason is EscalationReason.STRONG_NEGATIVE


# --- asking for a person ------------------------------------------------------


def test_asking_for_a_person_escalates() -> None:
    assert decide(POLICY, intent="request_human", latest=point(0.0)) is (
        EscalationReason.REQUESTED_HUMAN
    )


def test_asking_for_a_person_by_button_escalates_without_a_score() -> None:
    assert decide(POLICY, intent="request_human", latest=None) is (EscalationReason.REQUESTED_HUMAN)


def test_asking_for_a_person_does_not_escalate_when_turned_off() -> None:
    policy = EscalationPolicy(on_request=False)
    assert decide(policy, intent="request_human", latest=point(0.0)) is None


def test_other_intents_are_no_request() -> None:
    assert decide(POLICY, intent="complaint", latest=point(0.0)) is None
    assert decide(POLICY, intent=None, latest=point(0.0)) is None


# --- sustained negative -----------------------------------------------------------


def test_two_negative_of_the_last_three_escalate() -> None:
    reason = decide(POLICY, intent="inform", latest=point(-0.34), earlier=[point(-0.3), point(0.2)])
    assert reason is EscalationReason.SUSTAINED_NEGATIVE


def test_two_negative_in_a_row_escalate() -> None:
    reason = decide(POLICY, intent="inform", latest=point(-0.4), earlier=[point(-0.45)])
    assert reason is EscalationReason.SUSTAINED_NEGATIVE


def test_one_negative_of_the_last_three_does_not() -> None:
    assert decide(
        POLICY, intent="inform", latest=point(-0.5), earlier=[point(0.0), point(0.3)]
    ) is (None)


def test_a_negative_message_outside_the_window_does_not_count() -> None:
    earlier = [point(-0.5), point(0.0), point(0.1)]
    assert decide(POLICY, intent="inform", latest=point(-0.5), earlier=earlier) is None


def test_the_first_message_alone_is_not_sustained() -> None:
    assert decide(POLICY, intent="inform", latest=point(-0.5), earlier=[]) is None


def test_mildly_negative_messages_do_not_count() -> None:
    # VADER scores a plain "no" -0.296: negative label, but not negative enough.
    assert decide(POLICY, intent="deny", latest=point(-0.296), earlier=[point(-0.5)]) is None
    assert decide(POLICY, intent="inform", latest=point(-0.5), earlier=[point(-0.29)]) is None


def test_earlier_negative_messages_need_a_negative_latest_message() -> None:
    earlier = [point(-0.5), point(-0.5)]
    assert decide(POLICY, intent="thanks", latest=point(0.4), earlier=earlier) is None
    assert decide(POLICY, intent="affirm", latest=None, earlier=earlier) is None


def test_a_negative_score_with_another_label_does_not_count() -> None:
    earlier = [point(-0.4, label="neutral")]
    assert decide(POLICY, intent="inform", latest=point(-0.4), earlier=earlier) is None


def test_the_window_and_count_are_configurable() -> None:
    policy = EscalationPolicy(negative_turns=3, negative_window=4)
    earlier = [point(-0.5), point(0.1), point(-0.5)]
    assert decide(policy, intent="inform", latest=point(-0.5), earlier=earlier) is (
        EscalationReason.SUSTAINED_NEGATIVE
    )
    assert decide(policy, intent="inform", latest=point(-0.5), earlier=earlier[1:]) is None


def test_a_window_of_one_escalates_on_any_negative_message() -> None:
    policy = EscalationPolicy(negative_turns=1, negative_window=1)
    assert decide(policy, intent="inform", latest=point(-0.3), earlier=[point(0.5)]) is (
        EscalationReason.SUSTAINED_NEGATIVE
    )
    assert decide(policy, intent="inform", latest=point(-0.29), earlier=[point(-0.9)]) is None


# --- repeated fallback ---------------------------------------------------------------


def test_two_fallbacks_in_a_row_escalate() -> None:
    assert decide(POLICY, intent="nlu_fallback", latest=point(0.0), fallbacks_in_a_row=2) is (
        EscalationReason.REPEATED_FALLBACK
    )
    assert decide(POLICY, intent="nlu_fallback", latest=point(0.0), fallbacks_in_a_row=5) is (
        EscalationReason.REPEATED_FALLBACK
    )


def test_one_fallback_does_not() -> None:
    assert decide(POLICY, intent="nlu_fallback", latest=point(0.0), fallbacks_in_a_row=1) is None


def test_the_fallback_trigger_can_be_turned_off() -> None:
    policy = EscalationPolicy(fallbacks_in_a_row=0)
    assert decide(policy, intent="nlu_fallback", latest=point(0.0), fallbacks_in_a_row=9) is None


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strong_negative_score": 0.1}, "strong_negative_score must be between -1 and 0, got 0.1"),
        ({"negative_score": -1.5}, "negative_score must be between -1 and 0, got -1.5"),
        ({"negative_turns": 0}, "negative_turns must be at least 1, got 0"),
        (
            {"negative_turns": 4, "negative_window": 3},
            "negative_turns (4) must not exceed negative_window (3)",
        ),
        ({"fallbacks_in_a_row": -1}, "fallbacks_in_a_row must not be negative, got -1"),
    ],
)
def test_invalid_thresholds_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        EscalationPolicy(**kwargs)
    assert str(error.value) == message


def test_the_policy_reads_the_escalation_settings() -> None:
    settings = Settings.from_env(
        {
            "ESCALATION_STRONG_NEGATIVE_SCORE": "-0.75",
            "ESCALATION_NEGATIVE_SCORE": "-0.2",
            "ESCALATION_NEGATIVE_TURNS": "3",
            "ESCALATION_NEGATIVE_WINDOW": "5",
            "ESCALATION_FALLBACKS_IN_A_ROW": "0",
            "ESCALATION_ON_REQUEST": "false",
        }
    )
    assert EscalationPolicy.from_settings(settings) == EscalationPolicy(
        strong_negative_score=-0.75,
        negative_score=-0.2,
        negative_turns=3,
        negative_window=5,
        fallbacks_in_a_row=0,
        on_request=False,
    )


def test_the_settings_default_to_the_policy_defaults() -> None:
    settings = Settings.from_env({})
    assert EscalationPolicy.from_settings(settings) == POLICY
    assert settings.sentiment_model_dir == PROJECT_ROOT / "models" / "sentiment"


def test_a_relative_sentiment_model_dir_is_relative_to_the_project(tmp_path: Path) -> None:
    relative = Settings.from_env({"ASSISTANT_SENTIMENT_MODEL_DIR": "models/other"})
    absolute = Settings.from_env({"ASSISTANT_SENTIMENT_MODEL_DIR": str(tmp_path)})
    assert relative.sentiment_model_dir == PROJECT_ROOT / "models" / "other"
    assert absolute.sentiment_model_dir == tmp_path


@pytest.mark.parametrize(
    "environ, message",
    [
        (
            {"ESCALATION_STRONG_NEGATIVE_SCORE": "very"},
            "ESCALATION_STRONG_NEGATIVE_SCORE must be a number, got 'very'",
        ),
        (
            {"ESCALATION_NEGATIVE_SCORE": "0.5"},
            "ESCALATION_NEGATIVE_SCORE must be between -1.0 and 0.0, got 0.5",
        ),
        (
            {"ESCALATION_NEGATIVE_TURNS": "0"},
            "ESCALATION_NEGATIVE_TURNS must be at least 1, got 0",
        ),
        (
            {"ESCALATION_NEGATIVE_TURNS": "4"},
            "ESCALATION_NEGATIVE_TURNS must not exceed ESCALATION_NEGATIVE_WINDOW, got 4 > 3",
        ),
        (
            {"ESCALATION_FALLBACKS_IN_A_ROW": "-1"},
            "ESCALATION_FALLBACKS_IN_A_ROW must be at least 0, got -1",
        ),
        (
            {"ESCALATION_ON_REQUEST": "maybe"},
            "ESCALATION_ON_REQUEST must be a boolean (true/false), got 'maybe'",
        ),
    ],
)
def test_malformed_escalation_settings_are_rejected(environ: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        Settings.from_env(environ)
    assert str(error.value) == message
