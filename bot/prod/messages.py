"""What customers are told when part of the production topology is down.

The same texts are rendered into the nginx configuration (answers nginx gives
itself when no upstream answers) and used by the production REST channel, so
a client sees one error shape whichever layer failed.
"""

import json

ASSISTANT_UNAVAILABLE = (
    "The assistant could not answer your message just now. Please send it again in a moment."
)
"""The ``error`` of a 503 on the REST webhook: the client should send the message again."""

ACTIONS_UNAVAILABLE = (
    "Sorry, part of our system is not answering right now, so I can't look anything up "
    "for you. Please try again in a few minutes."
)
"""The bot's reply, once per message, while no action server answers."""

RASA_UNAVAILABLE = "No Rasa instance is answering; try again shortly."
"""The ``error`` of a 503 on Rasa's HTTP API when every instance is down."""

RETRY_AFTER_S = 5
"""The ``Retry-After`` of those 503 answers."""


def error_body(message: str) -> str:
    """Return the JSON error body ``{"error": message}``.

    Args:
        message: The error message.

    Returns:
        The body, ASCII only.
    """
    return json.dumps({"error": message})


def actions_down_body() -> str:
    """Return the action server answer that makes Rasa send :data:`ACTIONS_UNAVAILABLE`.

    Returns:
        A rasa-sdk webhook response with no events and the one reply.
    """
    return json.dumps({"events": [], "responses": [{"text": ACTIONS_UNAVAILABLE}]})
