"""Where the time of a turn goes: each stage timed on its own, one request at a time.

Run against an idle deployment (before the load), it holds every flow a few
times over REST with one client and then times, for the same messages and
conversations:

* **NLU**: Rasa's ``POST /model/parse`` on one instance (the whole pipeline:
  tokenizer, featurizers, CRF entities, the MiniLM intent classifier);
* **policies**: ``POST /conversations/<id>/predict`` (loads the tracker from
  the tracker store, featurizes it and runs every policy) times the number of
  predictions Rasa makes per turn (one per action it runs, plus the final
  ``action_listen``);
* **actions**: every custom action the turn ran, replayed on one action server
  directly with the tracker as it was just before the action
  (``GET /conversations/<id>/tracker?until=<time>``), and the turn monitor
  (``action_validate_slot_mappings``, the sentiment model, called by Rasa for
  every message) with the tracker as it was right after the message; this
  includes the database queries of the actions. Replaying has the actions'
  side effects again (recommendations shown, a second ticket for an angry
  message) in the benchmark's own database;
* **database**: the project database's queries alone, from this process: the
  order lookup and the open-ticket lookup.

What is left of the turn time is Rasa's own work around them (the REST
channel, the lock store, saving the tracker, the event broker, nginx, HTTP
between the processes).
"""

import time
import uuid
from dataclasses import dataclass
from statistics import fmean
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import requests

from bot.loadtest.deployments import Endpoints
from bot.loadtest.flows import SAMPLE_ORDER_IDS, Flow, render
from bot.loadtest.results import percentile

_ACTION_VERSION = "3.6.21"
TURN_MONITOR = "action_validate_slot_mappings"


@dataclass(frozen=True)
class Conversation:
    """One conversation held for the breakdown."""

    sender: str
    flow: str
    texts: Tuple[str, ...]
    turn_ms: Tuple[float, ...]


def _timed(call: Callable[[], requests.Response]) -> Tuple[float, requests.Response]:
    began = time.perf_counter()
    response = call()
    return (time.perf_counter() - began) * 1000, response


def _converse(endpoints: Endpoints, flows: Sequence[Flow], rounds: int) -> List[Conversation]:
    conversations = []
    for round_number in range(rounds):
        for flow in flows:
            sender = f"breakdown-{uuid.uuid4().hex[:12]}"
            order_id = SAMPLE_ORDER_IDS[round_number % len(SAMPLE_ORDER_IDS)]
            texts, times = [], []
            for step in flow.steps:
                message = render(step, order_id)
                payload = {"sender": sender, "message": message}
                elapsed, response = _timed(
                    lambda payload=payload: requests.post(
                        f"{endpoints.public_url}/webhooks/rest/webhook", json=payload, timeout=120
                    )
                )
                response.raise_for_status()
                texts.append(message)
                times.append(elapsed)
            conversations.append(Conversation(sender, flow.name, tuple(texts), tuple(times)))
    return conversations


def _api(endpoints: Endpoints, path: str) -> str:
    token = f"?token={endpoints.token}" if endpoints.token else ""
    return f"{endpoints.rasa_url}{path}{token}"


def _tracker(endpoints: Endpoints, sender: str, until: Optional[float] = None) -> Dict[str, Any]:
    params = {"until": f"{until:.6f}"} if until is not None else {}
    if endpoints.token:
        params["token"] = endpoints.token
    response = requests.get(
        f"{endpoints.rasa_url}/conversations/{sender}/tracker", params=params, timeout=60
    )
    response.raise_for_status()
    return response.json()


def _custom_actions(endpoints: Endpoints) -> List[str]:
    if endpoints.actions_url is None:
        return []
    response = requests.get(f"{endpoints.actions_url}/actions", timeout=30)
    response.raise_for_status()
    return [action["name"] for action in response.json()]


def _replay_actions(
    endpoints: Endpoints, sender: str, custom: Sequence[str], domain: Dict[str, Any]
) -> Tuple[Dict[str, List[float]], int]:
    """Time every custom action of the conversation; returns the times and the turn count."""
    events = _tracker(endpoints, sender)["events"]
    times: Dict[str, List[float]] = {}
    for event in events:
        if event.get("event") == "user" and TURN_MONITOR in custom:
            # Rasa calls the turn monitor right after adding the user's message;
            # it leaves no "action" event of its own in the tracker.
            name, state = TURN_MONITOR, _tracker(endpoints, sender, until=event["timestamp"])
        elif event.get("event") == "action" and event.get("name") in custom:
            name = event["name"]
            state = _tracker(endpoints, sender, until=event["timestamp"] - 1e-6)
        else:
            continue
        payload = {
            "next_action": name,
            "sender_id": sender,
            "tracker": state,
            "domain": domain,
            "version": _ACTION_VERSION,
        }
        elapsed, response = _timed(
            lambda payload=payload: requests.post(
                f"{endpoints.actions_url}/webhook", json=payload, timeout=120
            )
        )
        if response.status_code == 200:
            times.setdefault(name, []).append(elapsed)
    turns = sum(1 for event in events if event.get("event") == "user")
    return times, turns


def _predictions_per_turn(endpoints: Endpoints, senders: Sequence[str]) -> float:
    actions = turns = 0
    for sender in senders:
        events = _tracker(endpoints, sender)["events"]
        started = False
        for event in events:
            if event.get("event") == "user":
                started = True
                turns += 1
            elif started and event.get("event") == "action":
                actions += 1
    return actions / turns if turns else 0.0


def _database_times(database_url: str, repeats: int) -> Dict[str, float]:
    from actions.db import Database
    from actions.orders import OrderRepository
    from actions.settings import Settings
    from bot.handoff.settings import HandoffSettings
    from bot.handoff.store import HandoffStore

    database = Database(Settings(database_url=database_url))
    orders = OrderRepository(database)
    store = HandoffStore(database, settings=HandoffSettings.from_env({}))
    orders.get(SAMPLE_ORDER_IDS[0])  # migrations check and connection pool, not timed
    lookups, tickets = [], []
    for number in range(repeats):
        order_id = SAMPLE_ORDER_IDS[number % len(SAMPLE_ORDER_IDS)]
        began = time.perf_counter()
        orders.get(order_id)
        lookups.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        store.active_ticket_id(f"breakdown-{number}")
        tickets.append((time.perf_counter() - began) * 1000)
    database.dispose()
    return {
        "order_lookup_ms_p50": percentile(lookups, 50),
        "open_ticket_lookup_ms_p50": percentile(tickets, 50),
    }


def measure_breakdown(
    endpoints: Endpoints, flows: Sequence[Flow], rounds: int = 3
) -> Dict[str, Any]:
    """Time each stage of the deployment's turns, one request at a time.

    Args:
        endpoints: The running deployment.
        flows: The conversations to hold.
        rounds: How many times each flow is held.

    Returns:
        The report's ``breakdown`` object: medians per stage and the estimated
        split of a mean turn, in milliseconds.
    """
    conversations = _converse(endpoints, flows, rounds)
    turn_times = [ms for conversation in conversations for ms in conversation.turn_ms]

    parse_times = []
    for conversation in conversations:
        for message in conversation.texts:
            elapsed, response = _timed(
                lambda message=message: requests.post(
                    _api(endpoints, "/model/parse"), json={"text": message}, timeout=60
                )
            )
            response.raise_for_status()
            parse_times.append(elapsed)

    predict_times = []
    for conversation in conversations:
        elapsed, response = _timed(
            lambda sender=conversation.sender: requests.post(
                _api(endpoints, f"/conversations/{sender}/predict"), timeout=60
            )
        )
        response.raise_for_status()
        predict_times.append(elapsed)
    predictions = _predictions_per_turn(endpoints, [c.sender for c in conversations])

    action_times: Dict[str, List[float]] = {}
    custom = _custom_actions(endpoints)
    if custom:
        domain = requests.get(
            _api(endpoints, "/domain"), headers={"Accept": "application/json"}, timeout=60
        ).json()
        for conversation in conversations:
            times, _turns = _replay_actions(endpoints, conversation.sender, custom, domain)
            for name, values in times.items():
                action_times.setdefault(name, []).extend(values)
    total_action_ms = sum(sum(values) for values in action_times.values())

    turn_mean = fmean(turn_times)
    nlu_mean = fmean(parse_times)
    policies_mean = fmean(predict_times) * predictions
    actions_mean = total_action_ms / len(turn_times)
    breakdown: Dict[str, Any] = {
        "method": "one request at a time on the idle deployment; see bot/loadtest/breakdown.py",
        "turns": len(turn_times),
        "turn_ms_p50": percentile(turn_times, 50),
        "nlu_parse_ms_p50": percentile(parse_times, 50),
        "policy_predict_ms_p50": percentile(predict_times, 50),
        "predictions_per_turn": round(predictions, 2),
        "actions_ms_p50": {
            name: percentile(values, 50) for name, values in sorted(action_times.items())
        },
        "action_calls_per_turn": round(
            sum(len(values) for values in action_times.values()) / len(turn_times), 2
        ),
        "mean_turn_split_ms": {
            "turn": round(turn_mean, 1),
            "nlu": round(nlu_mean, 1),
            "policies": round(policies_mean, 1),
            "actions": round(actions_mean, 1),
            "rest": round(turn_mean - nlu_mean - policies_mean - actions_mean, 1),
        },
    }
    if endpoints.database_url:
        breakdown["database_ms_p50"] = _database_times(endpoints.database_url, repeats=50)
    return breakdown
