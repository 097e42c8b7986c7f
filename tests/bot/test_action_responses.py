"""Action server responses are checked as Rasa checks them, with a validator built once."""

from typing import Any, Dict, Iterator

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

from bot import action_responses

GOOD: Dict[str, Any] = {
    "events": [{"event": "slot", "name": "order_id", "value": "ORD-104187"}],
    "responses": [{"text": "Your order ships today."}],
}
BAD_RESPONSES: Dict[str, Any] = {"events": [], "responses": "not a list"}
BAD_EVENT: Dict[str, Any] = {"events": [{"event": "slot", "name": 7}], "responses": []}


@pytest.fixture
def rasa_original() -> Iterator[Any]:
    """Rasa's own method, in place for the test (other tests' servers may have installed ours)."""
    before = RemoteAction._validate_action_result
    original = action_responses.RASA_VALIDATE_ACTION_RESULT
    assert not getattr(original, "_validator_built_once", False)
    RemoteAction._validate_action_result = original  # type: ignore[method-assign]
    yield original
    RemoteAction._validate_action_result = before  # type: ignore[method-assign]


def _error(check: Any, response: Dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check(RemoteAction("action_order_status", None), response)
    return caught.value


def test_responses_are_judged_exactly_as_rasa_judges_them(rasa_original: Any) -> None:
    expected = {
        name: _error(rasa_original, r) for name, r in (("a", BAD_RESPONSES), ("b", BAD_EVENT))
    }
    assert action_responses.install() is True
    assert action_responses.install() is False
    check = RemoteAction._validate_action_result
    assert check(RemoteAction("action_order_status", None), GOOD) is True
    for name, response in (("a", BAD_RESPONSES), ("b", BAD_EVENT)):
        error = _error(check, response)
        assert error.message == expected[name].message
        assert error.message.endswith(action_responses.ADVICE)
        assert list(error.path) == list(expected[name].path)


def test_the_schema_is_checked_once_not_on_every_response(
    rasa_original: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    validator_class = validator_for(RemoteAction.action_response_format_spec())
    checks = []
    original_check = validator_class.check_schema
    monkeypatch.setattr(
        validator_class,
        "check_schema",
        classmethod(lambda cls, schema, **kw: checks.append(1) or original_check(schema, **kw)),
    )
    action = RemoteAction("action_order_status", None)
    rasa_original(action, GOOD)
    rasa_original(action, GOOD)
    assert len(checks) == 2  # Rasa's own: once per response
    action_responses.install()
    for _ in range(5):
        assert RemoteAction._validate_action_result(action, GOOD) is True
    assert len(checks) == 3  # once, when installed


def test_the_embedded_rest_channel_installs_it_on_start() -> None:
    from bot.channels.rest import HandoffRestInput

    async def on_new_message(_message: object) -> None:
        return None

    blueprint = HandoffRestInput().blueprint(on_new_message)
    # Sanic keeps a blueprint's listeners until the blueprint is registered.
    listeners = [(f.listener, f.event) for f in blueprint._future_listeners]
    assert listeners.count((action_responses.install_on_start, "after_server_start")) == 1
