"""Why a change to a ticket was refused; the API maps each to a status code."""


class TicketNotFound(LookupError):
    """No ticket has the given id (404)."""


class NotTicketOwner(Exception):
    """The ticket belongs to another agent (403)."""


class TicketConflict(Exception):
    """The ticket is not in a state that allows the change: claimed, closed (409)."""


class InvalidText(ValueError):
    """An agent's text is empty or cannot be stored (400)."""


class TextTooLong(ValueError):
    """An agent's text is longer than ``HandoffSettings.max_message_chars`` (413)."""
