"""The action endpoint's selective domain: the domain goes to the actions that read it."""

from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.forms import ValidationAction

from bot.prod.settings import ProductionSettings
from bot.prod.topology import child_environment

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.mark.parametrize("path", ["endpoints.yml", "deploy/endpoints.prod.yml"])
def test_both_modes_send_the_domain_selectively(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in child_environment(ProductionSettings(rasa_auth_token="x"), {}).items():
        monkeypatch.setenv(variable, value)
    endpoint = read_endpoint_config(str(ROOT / path), "action_endpoint")
    assert endpoint is not None
    assert endpoint.kwargs["enable_selective_domain"] is True


def test_every_action_that_reads_the_domain_is_sent_it(domain: Domain) -> None:
    # rasa-sdk's validation actions (the forms') read the domain's slots and
    # forms; the project's other actions never look at it.
    executor = ActionExecutor()
    executor.register_package("actions")
    readers = set()
    for name in executor.actions:
        action = executor.actions[name].__self__
        if isinstance(action, ValidationAction):
            readers.add(name)
    assert readers == {"validate_order_status_form", "validate_return_form"}
    assert set(domain._actions_which_explicitly_need_domain) == readers


@pytest.mark.parametrize(
    "name, sent",
    [
        ("action_validate_slot_mappings", False),  # the turn monitor, on every message
        ("action_recommend_products", False),
        ("action_order_status", False),
        ("validate_order_status_form", True),
        ("validate_return_form", True),
    ],
)
def test_the_call_carries_the_domain_only_when_the_action_reads_it(
    domain: Domain, name: str, sent: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in child_environment(ProductionSettings(rasa_auth_token="x"), {}).items():
        monkeypatch.setenv(variable, value)
    endpoint = read_endpoint_config(str(ROOT / "deploy/endpoints.prod.yml"), "action_endpoint")
    tracker = DialogueStateTracker.from_events("ana", [], domain.slots)
    body = RemoteAction(name, endpoint)._action_call_format(tracker, domain)
    assert ("domain" in body) is sent
    if sent:
        assert body["domain"] == domain.as_dict()
