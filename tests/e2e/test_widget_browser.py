"""The web chat widget in a real browser against the real servers.

Headless chromium (Debian's, driven by Playwright) opens the page served by
``python -m bot.web serve``, which relays to the session's Rasa (see
``conftest.servers`` and ``conftest.widget_server``). The customer greets the
bot, gets recommendations as a carousel, rates one, reloads the page and finds
the conversation still there, gets a bot message emitted while the connection
was down (the widget server was killed), the same text as one shown live
seconds before, exactly once after it is back, turns
angry and is handed to an agent, and gets the agent's messages live, labelled
as the agent's, also one the agent sent while the connection was down, exactly
once.
"""

import time
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
from sqlalchemy import select

from actions.catalogue_store import Product
from actions.db import Database
from actions.escalation import EscalationReason
from actions.handoff_messages import escalation_reply
from actions.recommender import messages
from actions.recommender.payloads import Vote
from actions.settings import Settings
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore
from tests.e2e.conftest import WidgetServer
from tests.e2e.helpers import chromium_page
from tests.e2e.test_handoff_conversation import _eventually, _login, _ticket
from tests.e2e.test_rest_conversation import _variants

pytestmark = pytest.mark.slow

TIMEOUT_MS = 30_000
RECOMMENDATION_TIMEOUT_MS = 120_000  # the first search embeds the catalogue
ASK = "I need noise cancelling headphones under 300 euros"
ANGRY = "This is the worst service ever, I am furious!"
AGENT_REPLY = "Hi, I'm Dana from the support team. I'm sorry about this, let me help."
WHILE_DOWN = "I've found your order: it ships today. Are you still there?"
BOT = ".rw-from-response .rw-response"
AGENT = '.rw-response[style*="--rw-agent-name"]'
NOTICE = ".rw-response.rw-handoff-notice"
# Chrome's messages while the server is down, and the Inter font the widget's
# stylesheet imports from Google, which the page's CSP blocks.
EXPECTED_ERRORS = ("Failed to load resource", "fonts.googleapis.com", "ERR_CONNECTION_REFUSED")


@pytest.fixture
def page(widget_server: WidgetServer) -> Iterator[Any]:
    """Headless chromium on the chat page; fails the test on script errors."""
    with chromium_page(
        widget_server.url, 1000, TIMEOUT_MS, lambda text: any(e in text for e in EXPECTED_ERRORS)
    ) as page:
        yield page


def bot_texts(page: Any) -> List[str]:
    return [text.strip() for text in page.locator(BOT).all_inner_texts()]


def conversation(page: Any) -> List[str]:
    """Every bubble and carousel card, in order, as the customer sees them."""
    items = page.locator(".rw-response, .rw-client, .rw-carousel-card-title")
    return [text.strip() for text in items.all_inner_texts()]


def say(page: Any, text: str) -> None:
    page.get_by_placeholder("Type a message…").fill(text)
    page.keyboard.press("Enter")


def session_id(page: Any) -> str:
    value = page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")
    assert isinstance(value, str) and len(value) == 32
    return value


def catalogue_titles(database_url: str) -> List[str]:
    database = Database(Settings(database_url=database_url))
    try:
        with database.session() as session:
            return list(session.execute(select(Product.title)).scalars())
    finally:
        database.dispose()


def agent_bubbles(page: Any, text: str) -> int:
    return page.locator(AGENT, has_text=text).count()


def test_a_customer_chats_gets_recommendations_and_an_agent(
    page: Any, servers: Dict[str, str], widget_server: WidgetServer
) -> None:
    from playwright.sync_api import expect

    greetings = _variants("utter_greet")
    expect(page.locator("#chat-status")).to_have_text("Connected")
    # The widget greets on opening (its init payload is /greet), and again on "hi".
    expect(page.locator(BOT)).to_have_count(1)
    say(page, "hi")
    expect(page.locator(".rw-client")).to_have_text(["hi"])
    expect(page.locator(BOT)).to_have_count(2)
    assert all(text in greetings for text in bot_texts(page))

    # Recommendations: a text, a carousel of catalogue products, follow-up buttons.
    say(page, ASK)
    cards = page.locator(".rw-carousel-card")
    expect(cards.first).to_be_visible(timeout=RECOMMENDATION_TIMEOUT_MS)
    expect(page.locator(BOT).last).to_have_text(messages.NOT_QUITE_RIGHT)
    assert messages.INTRO in bot_texts(page)
    titles = [t.strip() for t in page.locator(".rw-carousel-card-title").all_inner_texts()]
    assert 1 <= len(titles) <= 10
    assert set(titles) <= set(catalogue_titles(servers["database_url"]))
    assert page.locator(".rw-replies .rw-reply").all_inner_texts() == ["Cheaper", "Other brands"]

    # A product's thumbs-up button: the bot thanks and names the product.
    cards.first.locator(".rw-reply", has_text="Like it").click()
    thanks = messages.feedback_thanks(titles[0], Vote.UP)
    expect(page.locator(BOT).last).to_have_text(thanks)

    # Reloading keeps the conversation and the session.
    before = conversation(page)
    session = session_id(page)
    page.reload()
    expect(page.locator("#chat-status")).to_have_text("Connected")
    expect(page.locator(BOT).last).to_have_text(thanks)
    assert conversation(page) == before
    assert session_id(page) == session

    # The bot says something (pushed through Rasa's HTTP API, as a reminder would
    # be): shown live. The connection drops; meanwhile the bot says exactly the same
    # again, seconds later; Rasa's emit reaches nobody. After the reconnection the
    # widget catches the repeat up from the inbox, once.
    bubbles = page.locator(BOT).count()
    shipping = push_intent(servers, session, "shipping_delivery")
    assert [shipping] == _variants("utter_shipping_info")  # one variant: the same text twice
    expect(page.locator(BOT)).to_have_count(bubbles + 1)
    shown = bot_texts(page)[-1]  # as rendered (a Markdown list)
    widget_server.kill()
    expect(page.locator("#chat-status")).to_have_text("Reconnecting…")
    assert push_intent(servers, session, "shipping_delivery") == shipping
    assert page.locator(BOT).count() == bubbles + 1
    widget_server.start()
    expect(page.locator("#chat-status")).to_have_text("Connected", timeout=60_000)
    expect(page.locator(BOT)).to_have_count(bubbles + 2)
    time.sleep(4)  # the widget looks a second time 2 s after connecting
    assert page.locator(BOT).count() == bubbles + 2
    before = conversation(page)
    page.reload()
    expect(page.locator("#chat-status")).to_have_text("Connected")
    time.sleep(4)
    assert conversation(page) == before
    assert bot_texts(page)[-2:] == [shown, shown]

    # Very angry: the bot hands over to a person and says where the customer is in line.
    say(page, ANGRY)
    store = HandoffStore(
        Database(Settings(database_url=servers["database_url"])),
        settings=HandoffSettings.from_env({"HANDOFF_OFFICE_HOURS": "24/7"}),
    )
    ticket_id = _eventually(lambda: store.active_ticket_id(session), "the ticket")
    expected = escalation_reply(
        EscalationReason.STRONG_NEGATIVE,
        store.queue_status(ticket_id),
        HandoffSettings.from_env({"HANDOFF_OFFICE_HOURS": "24/7"}).office_hours,
    )
    expect(page.locator(BOT).last).to_have_text(expected)
    agent = _login(servers)
    assert _ticket(servers, agent, ticket_id)["channel"] == "socketio"

    # The agent claims the ticket and answers: the widget says who joined and labels the reply.
    claimed = requests.post(
        f"{servers['handoff']}/api/tickets/{ticket_id}/claim", headers=agent, timeout=10
    )
    assert claimed.status_code == 200, claimed.text
    send(servers, agent, ticket_id, AGENT_REPLY)
    reply = page.locator(AGENT, has_text=AGENT_REPLY)
    expect(reply).to_have_text(AGENT_REPLY)
    expect(page.locator(NOTICE)).to_have_text(["Dana has joined the conversation."])
    assert reply.get_attribute("style") == '--rw-agent-name: "Dana";'
    label = reply.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"Dana" " · support agent"' or label == '"Dana · support agent"'
    assert reply.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(255, 243, 220)"
    notice = page.locator(NOTICE)
    assert notice.evaluate("el => getComputedStyle(el).backgroundColor") == "rgba(0, 0, 0, 0)"
    assert bot_texts(page)[-3:] == [expected, "Dana has joined the conversation.", AGENT_REPLY]

    # The connection drops (the server dies); the agent writes meanwhile; Rasa's
    # emit reaches nobody. After the reconnection the widget catches up, once.
    widget_server.kill()
    expect(page.locator("#chat-status")).to_have_text("Reconnecting…")
    message_id = send(servers, agent, ticket_id, WHILE_DOWN)
    _eventually(lambda: delivered(servers, agent, ticket_id, message_id), "delivery to Rasa")
    assert agent_bubbles(page, WHILE_DOWN) == 0
    widget_server.start()
    expect(page.locator("#chat-status")).to_have_text("Connected", timeout=60_000)
    expect(page.locator(AGENT, has_text=WHILE_DOWN)).to_have_count(1)
    time.sleep(4)  # the widget looks a second time 2 s after connecting
    assert agent_bubbles(page, WHILE_DOWN) == 1
    assert agent_bubbles(page, AGENT_REPLY) == 1
    expect(page.locator(NOTICE)).to_have_count(1)
    # Rasa stored the escalation reply (the turn monitor's) with a later time than
    # it was emitted with; the catch-up still knows it was shown.
    assert bot_texts(page).count(expected) == 1

    # And once more after a reload: nothing shown twice, nothing lost.
    after = conversation(page)
    page.reload()
    expect(page.locator("#chat-status")).to_have_text("Connected")
    time.sleep(4)
    assert conversation(page) == after
    assert after[-2:] == [AGENT_REPLY, WHILE_DOWN]


def push_intent(servers: Dict[str, str], session: str, intent: str) -> str:
    """Trigger ``intent`` in the conversation through Rasa's HTTP API; return the bot's reply.

    With ``output_channel=latest`` Rasa emits the reply over socket.io; this
    returns once the conversation's tracker has it.
    """
    started = time.time()
    triggered = requests.post(
        f"{servers['rasa']}/conversations/{session}/trigger_intent",
        params={"output_channel": "latest"},
        json={"name": intent},
        timeout=60,
    )
    assert triggered.status_code == 200, triggered.text

    def reply() -> Optional[str]:
        tracker = requests.get(f"{servers['rasa']}/conversations/{session}/tracker", timeout=10)
        texts = [
            event["text"]
            for event in tracker.json()["events"]
            if event["event"] == "bot" and event["timestamp"] >= started
        ]
        return texts[-1] if texts else None

    return _eventually(reply, "the bot's reply in the tracker")


def send(servers: Dict[str, str], agent: Dict[str, str], ticket_id: int, text: str) -> int:
    sent = requests.post(
        f"{servers['handoff']}/api/tickets/{ticket_id}/messages",
        headers=agent,
        json={"text": text},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    return int(sent.json()["id"])


def delivered(
    servers: Dict[str, str], agent: Dict[str, str], ticket_id: int, message_id: int
) -> Optional[bool]:
    lines = _ticket(servers, agent, ticket_id)["messages"]
    return next((True for m in lines if m["id"] == message_id and m["delivered"]), None)
