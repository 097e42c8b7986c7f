"""The agent console in a real browser against the real handoff service.

The service runs as ``python -m bot.handoff serve`` over a temporary SQLite
database; the test writes tickets and customer messages through
``HandoffStore`` as the action server does, and a small aiohttp server stands in
for Rasa's HTTP API. Debian's chromium is driven headless by Playwright.
"""

import base64
import hashlib
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from actions.db import Database
from actions.settings import Settings
from bot.handoff.store import HandoffStore
from tests.bot.handoff.browser_support import (
    HOSTILE,
    PASSWORD,
    FakeRasa,
    RasaCall,
    RunningService,
    escalation,
    point,
    running_service,
)
from tests.e2e.helpers import chromium_page

pytestmark = pytest.mark.slow

CONVERSATION = "browser-conv-1"
MINUS = "\u2212"
INLINE_PROBE = "window.__inline = 1"
# Chrome names a blocked inline script by its hash in the CSP report.
PROBE_HASH = base64.b64encode(hashlib.sha256(INLINE_PROBE.encode()).digest()).decode()
TIMEOUT_MS = 10_000


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    rasa = FakeRasa()
    rasa.start()
    yield rasa
    rasa.stop()


@pytest.fixture
def handoff_service(tmp_path: Path, fake_rasa: FakeRasa) -> Iterator[RunningService]:
    """``python -m bot.handoff serve`` on a free port, with agents Dana and Bob."""
    with running_service(tmp_path, fake_rasa.url) as service:
        yield service


@pytest.fixture
def ticket_store(handoff_service: RunningService) -> Iterator[HandoffStore]:
    """The store as the action server uses it, on the service's database."""
    database = Database(Settings(database_url=handoff_service.database_url, seed_sample_data=False))
    yield HandoffStore(database)
    database.dispose()


@pytest.fixture
def page(handoff_service: RunningService) -> Iterator[Any]:
    """Headless chromium on the console; fails the test on script errors or CSP reports.

    It is closed before the service stops (it depends on it).
    """
    url = handoff_service.url
    with chromium_page(url, 1400, TIMEOUT_MS, _expected_console_error) as page:
        yield page


def _expected_console_error(text: str) -> bool:
    # Chrome logs every 4xx answer and refused connection (the wrong password
    # and the stopped service are meant to cause them); CSP reports still count.
    network = ("Failed to load resource", "WebSocket connection to")
    return text.startswith(network) or PROBE_HASH in text


def log_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_agent_takes_over_a_conversation_and_hands_it_back(
    page: Any,
    handoff_service: RunningService,
    ticket_store: HandoffStore,
    fake_rasa: FakeRasa,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    ticket_id = ticket_store.open_ticket(escalation(CONVERSATION)).ticket_id

    log_in(page, "dana", "not the password")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page.locator("#app-view")).to_be_hidden()

    log_in(page, "dana", PASSWORD)
    expect(page.locator("#me-name")).to_have_text("Dana Agent")
    expect(page.locator("#connection")).to_have_text("Live")
    token = page.evaluate("sessionStorage.getItem('handoff.token')")
    assert isinstance(token, str) and len(token) > 20
    # The session survives a reload of the tab.
    page.reload()
    expect(page.locator("#me-name")).to_have_text("Dana Agent")
    expect(page.locator("#connection")).to_have_text("Live")

    items = page.locator("#queue-list .queue-item")
    expect(items).to_have_count(1)
    item = items.first
    expect(item.locator(".reason")).to_have_text("Very upset")
    expect(item.locator(".channel")).to_have_text("Web")
    expect(item.locator(".preview")).to_have_text(HOSTILE)
    expect(item.locator(".sentiment")).to_have_text(f"negative {MINUS}0.91")
    expect(item.locator(".waiting")).to_have_text(re.compile(r"^waiting \d{1,2} s$"))
    expect(item.locator(".queue-item-status")).to_have_text(f"#{ticket_id} \u00b7 Waiting")
    expect(page.locator("#queue-count")).to_have_text("1")

    item.click()
    expect(page.locator("#ticket-title")).to_have_text(f"Ticket #{ticket_id} \u00b7 Very upset")
    expect(page.locator("#ticket-meta span")).to_have_text(["Waiting", "Web", CONVERSATION])
    expect(page.locator("#transcript .author")).to_have_text(["Customer", "Bot", "Customer"])
    expect(page.locator("#transcript .message-text")).to_have_text(
        ["where is my kettle?", "Order 1042 left our warehouse on Monday.", HOSTILE]
    )
    # The hostile message is text: no element was made from it and nothing ran.
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1
    # And had it become markup, the Content-Security-Policy would not run it.
    with page.expect_console_message(lambda message: PROBE_HASH in message.text):
        page.evaluate(
            """probe => {
                const script = document.createElement("script");
                script.id = "probe";
                script.textContent = probe;
                document.body.append(script);
            }""",
            INLINE_PROBE,
        )
    assert page.evaluate("typeof window.__inline") == "undefined"
    page.locator("#probe").evaluate("script => script.remove()")
    expect(page.locator("#transcript .message-customer .sentiment")).to_have_text(
        [f"neutral {MINUS}0.12", f"negative {MINUS}0.91"]
    )
    expect(page.locator("#trail .trail-label")).to_have_text(
        [f"1. neutral {MINUS}0.12", f"2. negative {MINUS}0.91"]
    )
    expect(page.locator("#intents li")).to_have_text(["order_status", "complaint"])
    expect(page.locator("#products-body tr")).to_have_text(
        ["KTL-1200Steel kettle 1.7 l\u20ac29.90", "MUG-0042Stoneware mug\u2014"]
    )
    reply = page.get_by_label("Reply to the customer")
    expect(reply).to_be_disabled()
    expect(page.locator("#reply-hint")).to_have_text("Claim the ticket to reply.")
    expect(page.get_by_role("button", name="Hand back to bot")).to_be_hidden()

    page.get_by_role("button", name="Claim").click()
    expect(page.locator("#ticket-meta .status")).to_have_text("Assigned \u00b7 you")
    expect(page.get_by_role("button", name="Claim")).to_be_hidden()
    took_over = page.locator("#transcript .message").last
    expect(took_over.locator(".author")).to_have_text("System")
    expect(took_over.locator(".message-text")).to_have_text("Dana Agent took over.")
    expect(reply).to_be_focused()

    # Enter sends, Shift+Enter starts a new line.
    reply.fill("I'm so sorry about this.")
    reply.press("Shift+Enter")
    reply.press_sequentially("Let me check order 1042 right now.")
    reply.press("Enter")
    agent_line = page.locator("#transcript .message-agent")
    expect(agent_line.locator(".message-text")).to_have_text(
        "I'm so sorry about this.\nLet me check order 1042 right now."
    )
    expect(agent_line.locator(".author")).to_have_text("Agent \u00b7 Dana Agent")
    expect(reply).to_have_value("")
    reply_id = int(agent_line.get_attribute("data-message-id") or "0")
    [call] = fake_rasa.wait_for_calls(1)
    assert call == RasaCall(
        path=f"/conversations/{CONVERSATION}/tracker/events",
        query={"output_channel": "latest", "execute_side_effects": "true"},
        events=[
            {
                "event": "bot",
                "text": "I'm so sorry about this.\nLet me check order 1042 right now.",
                "metadata": {
                    "handoff": {
                        "ticket_id": ticket_id,
                        "message_id": reply_id,
                        "agent": "Dana Agent",
                    }
                },
            }
        ],
    )
    expect(agent_line.locator(".undelivered")).to_have_count(0)
    expect(item.locator(".waiting")).to_have_text("answered")

    # A customer message stored by the action server shows up without a reload.
    page.evaluate("window.__sameDocument = true")
    assert (
        ticket_store.add_customer_message(
            CONVERSATION,
            "Hello?? Is anyone there?",
            point("negative", -0.55, "Hello?? Is anyone there?", 0),
        )
        == ticket_id
    )
    expect(page.locator("#transcript .message").last.locator(".message-text")).to_have_text(
        "Hello?? Is anyone there?"
    )
    expect(page.locator("#trail .trail-label")).to_have_text(
        [f"1. neutral {MINUS}0.12", f"2. negative {MINUS}0.91", f"3. negative {MINUS}0.55"]
    )
    expect(item.locator(".preview")).to_have_text("Hello?? Is anyone there?")
    expect(item.locator(".waiting")).to_have_text(re.compile(r"^waiting \d{1,2} s$"))
    assert page.evaluate("window.__sameDocument") is True

    note = page.get_by_label("Internal note (only agents see it)")
    note.fill("Order 1042 is stuck in Linz; called the carrier.")
    note.press("Enter")
    note_line = page.locator("#transcript .message-note")
    expect(note_line.locator(".author")).to_have_text("Note \u00b7 Dana Agent")
    expect(note_line.locator(".message-text")).to_have_text(
        "Order 1042 is stuck in Linz; called the carrier."
    )

    page.screenshot(path=str(tmp_path / "console-assigned.png"), full_page=True)

    page.get_by_role("button", name="Hand back to bot").click()
    expect(page.locator("#ticket-meta .status")).to_have_text("Handed back \u00b7 you")
    system_line = page.locator("#transcript .message-system").last
    expect(system_line.locator(".message-text")).to_have_text(
        "You're back with the virtual assistant. How else can I help you?"
    )
    handback_id = int(system_line.get_attribute("data-message-id") or "0")
    calls = fake_rasa.wait_for_calls(2)
    # The note never reached Rasa: the reply and the hand back are all it got.
    assert len(calls) == 2
    assert calls[1] == RasaCall(
        path=f"/conversations/{CONVERSATION}/tracker/events",
        query={"output_channel": "latest", "execute_side_effects": "true"},
        events=[
            {"event": "slot", "name": "handoff_active", "value": False},
            {"event": "slot", "name": "handoff_ticket_id", "value": None},
            {
                "event": "bot",
                "text": "You're back with the virtual assistant. How else can I help you?",
                "metadata": {
                    "handoff": {"ticket_id": ticket_id, "message_id": handback_id, "handback": True}
                },
            },
        ],
    )
    expect(system_line.locator(".undelivered")).to_have_count(0)
    expect(page.locator("#queue-list .queue-item")).to_have_count(0)
    expect(page.locator("#queue-empty")).to_be_visible()
    expect(reply).to_be_disabled()
    expect(page.locator("#reply-hint")).to_have_text("This conversation is back with the bot.")

    # A new escalation appears live; this time the agent works by keyboard and closes it.
    second_id = ticket_store.open_ticket(escalation("browser-conv-3", "Cancel it. Now.")).ticket_id
    expect(item.locator(".preview")).to_have_text("Cancel it. Now.")
    item.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-title")).to_have_text(f"Ticket #{second_id} \u00b7 Very upset")
    page.get_by_role("button", name="Claim").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-meta .status")).to_have_text("Assigned \u00b7 you")
    page.get_by_role("button", name="Close").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-meta .status")).to_have_text("Closed \u00b7 you")
    close_line = page.locator("#transcript .message-system").last
    expect(close_line.locator(".message-text")).to_have_text(
        "Our team has closed this conversation. "
        "You're back with the virtual assistant if you need anything else."
    )
    close_id = int(close_line.get_attribute("data-message-id") or "0")
    calls = fake_rasa.wait_for_calls(3)
    assert calls[2] == RasaCall(
        path="/conversations/browser-conv-3/tracker/events",
        query={"output_channel": "latest", "execute_side_effects": "true"},
        events=[
            {"event": "slot", "name": "handoff_active", "value": False},
            {"event": "slot", "name": "handoff_ticket_id", "value": None},
            {
                "event": "bot",
                "text": "Our team has closed this conversation. "
                "You're back with the virtual assistant if you need anything else.",
                "metadata": {
                    "handoff": {"ticket_id": second_id, "message_id": close_id, "closed": True}
                },
            },
        ],
    )
    expect(close_line.locator(".undelivered")).to_have_count(0)
    expect(page.locator("#queue-list .queue-item")).to_have_count(0)

    # Like every list: the highest priority first (the first customer was the angrier).
    page.get_by_label("Show tickets").select_option("closed")
    expect(page.locator("#queue-list .queue-item-status")).to_have_text(
        [
            f"#{ticket_id} \u00b7 Handed back \u00b7 Dana Agent",
            f"#{second_id} \u00b7 Closed \u00b7 Dana Agent",
        ]
    )
    page.screenshot(path=str(tmp_path / "console-closed.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('handoff.token')") is None
    answer = requests.get(
        f"{handoff_service.url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 401


def test_a_lost_claim_race_and_polling_while_the_socket_is_down(
    page: Any, handoff_service: RunningService, ticket_store: HandoffStore
) -> None:
    from playwright.sync_api import expect

    # Every websocket is refused, so the console must fall back to polling.
    page.route_web_socket("**/api/ws*", lambda socket: socket.close())
    log_in(page, "dana", PASSWORD)
    expect(page.locator("#connection")).to_have_text("Reconnecting \u00b7 updating every 5 s")
    expect(page.locator("#queue-empty")).to_be_visible()

    ticket_id = ticket_store.open_ticket(
        escalation("browser-conv-2", "This is the worst!")
    ).ticket_id
    item = page.locator("#queue-list .queue-item")
    expect(item.locator(".preview")).to_have_text("This is the worst!", timeout=8000)

    def bob_claims_first(route: Any) -> None:
        session = requests.Session()
        login = session.post(
            f"{handoff_service.url}/api/login",
            json={"username": "bob", "password": PASSWORD},
            timeout=10,
        )
        token = login.json()["token"]
        claimed = session.post(
            f"{handoff_service.url}/api/tickets/{ticket_id}/claim",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert claimed.status_code == 200, claimed.text
        route.continue_()

    page.route(f"**/api/tickets/{ticket_id}/claim", bob_claims_first)
    item.click()
    page.get_by_role("button", name="Claim").click()
    expect(page.locator("#ticket-error")).to_have_text("Already claimed by Bob Builder.")
    expect(page.locator("#ticket-meta .status")).to_have_text("Assigned \u00b7 Bob Builder")
    expect(page.get_by_role("button", name="Claim")).to_be_hidden()
    expect(page.get_by_label("Reply to the customer")).to_be_disabled()
    expect(page.locator("#reply-hint")).to_have_text("Only Bob Builder can reply.")
    expect(item.locator(".queue-item-status")).to_have_text(
        f"#{ticket_id} \u00b7 Assigned \u00b7 Bob Builder"
    )
    # Notes are open to every agent, owner or not.
    note = page.get_by_label("Internal note (only agents see it)")
    note.fill("Bob has it.")
    note.press("Enter")
    expect(page.locator("#transcript .message-note .message-text")).to_have_text("Bob has it.")

    # A token revoked elsewhere ends the session at the next poll.
    token = page.evaluate("sessionStorage.getItem('handoff.token')")
    revoked = requests.post(
        f"{handoff_service.url}/api/logout",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert revoked.status_code == 204
    expect(page.locator("#login-error")).to_have_text(
        "Your session has expired. Please sign in again.", timeout=8000
    )
    expect(page.locator("#app-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('handoff.token')") is None


def test_the_console_says_when_the_service_is_down(
    page: Any, handoff_service: RunningService
) -> None:
    from playwright.sync_api import expect

    log_in(page, "dana", PASSWORD)
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#banner")).to_be_hidden()

    # A crash: nothing is closed in an orderly way.
    handoff_service.process.kill()
    handoff_service.process.wait(15)

    expect(page.locator("#banner")).to_have_text(
        "Can't reach the handoff service. Retrying every few seconds\u2026"
    )
    expect(page.locator("#connection")).to_have_text("Reconnecting \u00b7 updating every 5 s")
    # The agent stays signed in; the console keeps trying.
    expect(page.locator("#app-view")).to_be_visible()
