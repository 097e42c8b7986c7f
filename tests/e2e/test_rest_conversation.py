"""Conversations over the REST channel against real Rasa and action servers."""

from datetime import datetime, timezone
from typing import Dict, List

import pytest
import requests
import yaml

from actions.db import Database
from actions.fallback import ASK_TO_CHOOSE, ASK_TO_REPHRASE
from actions.order_messages import return_message, status_message, unknown_order
from actions.order_policy import decide_return
from actions.orders import OrderRepository
from actions.settings import Settings
from tests.e2e.helpers import ROOT

pytestmark = pytest.mark.slow

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]


def _variants(name: str) -> List[str]:
    return [variant["text"] for variant in RESPONSES[name]]


def _say(servers: Dict[str, str], sender: str, text: str) -> List[str]:
    response = requests.post(
        f"{servers['rasa']}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    response.raise_for_status()
    return [message.get("text", "") for message in response.json()]


def _repository(servers: Dict[str, str]) -> OrderRepository:
    return OrderRepository(Database(Settings(database_url=servers["database_url"])))


def test_greeting_gets_a_greeting(servers: Dict[str, str]) -> None:
    replies = _say(servers, "e2e-greet", "hello there!")
    assert len(replies) == 1 and replies[0] in _variants("utter_greet")


def test_order_status_is_answered_from_the_orders_table(servers: Dict[str, str]) -> None:
    replies = _say(servers, "e2e-status", "hi, where is my order ORD-104233?")
    order = _repository(servers).get("ORD-104233")
    assert order is not None
    today = datetime.now(timezone.utc).date()
    assert replies[0] == status_message(order, today)
    assert replies[1:] and replies[1] in _variants("utter_anything_else")


def test_return_eligibility_is_answered_from_the_orders_table(servers: Dict[str, str]) -> None:
    replies = _say(servers, "e2e-return", "I'd like to return order ORD-104187 please")
    order = _repository(servers).get("ORD-104187")
    assert order is not None
    now = datetime.now(timezone.utc)
    decision = decide_return(order, window_days=30, now=now)
    assert decision.eligible
    assert replies[0] == return_message(decision, now.date())


def test_unknown_order_gets_a_helpful_reply_and_the_form_asks_again(
    servers: Dict[str, str],
) -> None:
    replies = _say(servers, "e2e-unknown", "where is my order ORD-999999")
    assert replies[0] == unknown_order("ORD-999999")
    assert replies[1] in _variants("utter_ask_order_id")


@pytest.mark.parametrize("text", ["", "   ", "asdkjh qwpoeiru zmxncb"])
def test_empty_or_unintelligible_message_gets_asked_to_rephrase(
    servers: Dict[str, str], text: str
) -> None:
    replies = _say(servers, f"e2e-rephrase-{len(text)}", text)
    rephrase = {ASK_TO_CHOOSE, ASK_TO_REPHRASE, *_variants("utter_default")}
    assert len(replies) == 1 and replies[0] in rephrase


def test_malformed_json_is_refused_with_400(servers: Dict[str, str]) -> None:
    response = requests.post(
        f"{servers['rasa']}/webhooks/rest/webhook",
        data=b'{"sender": "x"',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400


def _post(servers: Dict[str, str], sender: str, text: str) -> List[dict]:
    response = requests.post(
        f"{servers['rasa']}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=120,
    )
    response.raise_for_status()
    return response.json()


def _prices(text: str) -> List[float]:
    import re

    return [
        float(p.replace(",", "")) for p in re.findall(r"^\d\. .*?: €([\d,]+(?:\.\d+)?)", text, re.M)
    ]


def test_recommendations_come_from_the_catalogue_and_refine(servers: Dict[str, str]) -> None:
    first = _post(servers, "e2e-reco", "I need noise cancelling headphones under 300 euros")
    assert first[0]["text"].startswith("Here's what I'd suggest:")
    assert [b["title"] for b in first[0]["buttons"]] == ["Cheaper", "More like #1", "Other brands"]
    prices = _prices(first[0]["text"])
    assert 1 <= len(prices) <= 3 and all(price <= 300 for price in prices)

    cheaper = _post(servers, "e2e-reco", "something cheaper please")
    cheaper_prices = _prices(cheaper[0]["text"])
    assert cheaper_prices and max(cheaper_prices) < min(prices)
