"""Check action server responses against Rasa's schema without re-checking the schema.

Rasa validates every custom action's response (``RemoteAction._validate_action_result``)
with ``jsonschema.validate``, which first checks the *schema itself* against
its meta-schema and builds a new validator, on every call. The schema is a
constant (``RemoteAction.action_response_format_spec()``), and under load that
repeated check was about a quarter of a Rasa instance's CPU time
(``py-spy`` profile in docs/benchmarks.md, "Load"): this project calls the
action server for every message (the turn monitor) and for most actions.

:func:`install` swaps in a validator built once. Responses are checked exactly
as before: the same schema, the same ``jsonschema`` error (``best_match``, as
``jsonschema.validate`` raises) with the same advice appended. The project's
channels install it when Rasa starts (:func:`install_on_start`).
"""

import logging
from typing import Any, Callable, Dict

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

logger = logging.getLogger(__name__)

RASA_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
"""Rasa's own check, as it was when this module was imported (before :func:`install`)."""

_MARKER = "_validator_built_once"
ADVICE = (
    ". Failed to validate Action server response from API, "
    "make sure your response from the Action endpoint is valid. "
    "For more information about the format visit "
    f"{DOCS_BASE_URL}/custom-actions"
)


def _cached_check() -> Callable[[RemoteAction, Dict[str, Any]], bool]:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += ADVICE
            raise error
        return True

    setattr(_validate_action_result, _MARKER, True)
    return _validate_action_result


def install() -> bool:
    """Make Rasa check action server responses with a validator built once.

    Returns:
        Whether it was installed now (False when it already was).
    """
    if getattr(RemoteAction._validate_action_result, _MARKER, False):
        return False
    RemoteAction._validate_action_result = _cached_check()  # type: ignore[method-assign]
    logger.debug("Action server responses are checked with a validator built once.")
    return True


async def install_on_start(_app: Any, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener that calls :func:`install`."""
    install()
