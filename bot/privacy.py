"""Masking customers' personal data (emails, phone numbers, card numbers) in what staff read.

:func:`mask_pii` is applied to log records (:func:`install_log_masking`) and to
the transcripts the handoff API shows agents (:mod:`bot.handoff.rendering`).
What is stored and what is sent to the customer stay intact. The rules:

* **Email addresses**: the first character of the local part is kept, the
  rest of it becomes ``***``; the domain is kept: ``jane.doe@example.com`` ->
  ``j***@example.com``.
* **Card numbers**: 13 to 19 digits, optionally grouped by single spaces or
  hyphens, that pass the Luhn check. Every digit but the last four becomes
  ``*``, separators stay: ``4111 1111 1111 1111`` -> ``**** **** **** 1111``.
  A mistyped number (failing the Luhn check) is not recognised as a card.
* **Phone numbers**: 8 to 15 digits after a ``+`` (``+43 664 1234567``,
  ``whatsapp:+4366412345678``); 9 to 15 digits starting with ``0`` or ``(``
  (``0664 1234567``, ``(555) 123-4567``); or the North American
  ``555-123-4567``. Digits may be grouped by spaces, dots, hyphens, slashes
  and parentheses. Every digit but the last two becomes ``*``:
  ``+43 664 1234567`` -> ``+** *** *****67``. Dates such as ``01.03.2025``
  are left alone.

Order numbers (``ORD-104233``), SKUs, prices, times and ids in logs do not
match these patterns and stay readable.
"""

import logging
import re
import threading
from typing import Any, Callable, List, Tuple

_EMAIL = re.compile(
    r"(?<![\w.%+-])([\w%+-](?:[\w.%+-]{0,63}))@"
    r"((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24})(?![\w-])"
)
# A run of digit groups separated by single spaces or hyphens, not glued to a word.
_DIGIT_RUN = re.compile(r"(?<![\w.,+*])\d+(?:[ -]\d+)*(?![\w*])")
_GROUP = re.compile(r"\d+")
_PHONE = re.compile(r"(?<![\w.,+*/-])[+(]?\d[\d ().\-/]{5,24}\d(?![\w*])")
_DOUBLE_SEPARATOR = re.compile(r"[ .\-/]{2,}")
_NORTH_AMERICAN = re.compile(r"\d{3}[ .-]\d{3}[ .-]\d{4}")
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}")
MIN_CARD_DIGITS = 13
MAX_CARD_DIGITS = 19
KEEP_CARD_DIGITS = 4
KEEP_PHONE_DIGITS = 2
MASK = "*"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (card numbers do)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_digits(text: str, keep: int) -> str:
    """Replace every digit of ``text`` but the last ``keep`` with :data:`MASK`."""
    digits = sum(char.isdigit() for char in text)
    masked = []
    seen = 0
    for char in text:
        if char.isdigit():
            seen += 1
            masked.append(char if seen > digits - keep else MASK)
        else:
            masked.append(char)
    return "".join(masked)


def _mask_email(match: "re.Match[str]") -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def _card_spans(run: str) -> List[Tuple[int, int]]:
    """The card numbers in a run of digit groups, as (start, end) within the run.

    Windows of whole groups are tried from the left, the longest first, so a
    card number followed by more digits ("4111 1111 1111 1111 12") is found.
    """
    groups = [(match.start(), match.end()) for match in _GROUP.finditer(run)]
    spans = []
    first = 0
    while first < len(groups):
        found = None
        digits = ""
        candidates = []
        for last in range(first, len(groups)):
            digits += run[groups[last][0] : groups[last][1]]
            if len(digits) > MAX_CARD_DIGITS:
                break
            if len(digits) >= MIN_CARD_DIGITS:
                candidates.append((last, digits))
        for last, digits in reversed(candidates):
            if luhn_valid(digits):
                found = last
                break
        if found is None:
            first += 1
            continue
        spans.append((groups[first][0], groups[found][1]))
        first = found + 1
    return spans


def _mask_cards(match: "re.Match[str]") -> str:
    run = match.group(0)
    spans = _card_spans(run)
    if not spans:
        return run
    pieces = []
    end = 0
    for start, stop in spans:
        pieces.append(run[end:start])
        pieces.append(_mask_digits(run[start:stop], KEEP_CARD_DIGITS))
        end = stop
    pieces.append(run[end:])
    return "".join(pieces)


def is_phone_number(text: str) -> bool:
    """Whether a candidate (see the module docstring) is a phone number."""
    digits = sum(char.isdigit() for char in text)
    if _DATE.search(text) or _DOUBLE_SEPARATOR.search(text):
        return False
    if text.startswith("+"):
        return 8 <= digits <= 15
    if text.startswith(("0", "(")):
        return 9 <= digits <= 15
    return bool(_NORTH_AMERICAN.fullmatch(text))


def _mask_phone(match: "re.Match[str]") -> str:
    text = match.group(0)
    return _mask_digits(text, KEEP_PHONE_DIGITS) if is_phone_number(text) else text


def mask_pii(text: str) -> str:
    """Mask the emails, card numbers and phone numbers in ``text``.

    Args:
        text: Any text: a customer's message, a log line, a traceback.

    Returns:
        The text with each one masked as the module docstring describes;
        anything else unchanged.
    """
    if not text:
        return text
    text = _EMAIL.sub(_mask_email, text)
    text = _DIGIT_RUN.sub(_mask_cards, text)
    return _PHONE.sub(_mask_phone, text)


# --- logs ---------------------------------------------------------------------


class PiiLogFilter(logging.Filter):
    """A logging filter that masks a record's message, traceback and stack in place.

    It never drops a record. :func:`install_log_masking` applies it to every
    record the process creates; it can also be added to a handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask ``record`` (once) and let it through."""
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> None:
    """Mask the text of a log record: its message with arguments, traceback and stack."""
    if getattr(record, "pii_masked", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: logging reports it when it is emitted
        return
    record.msg = mask_pii(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_pii(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_pii(record.stack_info)
    record.pii_masked = True


class _MaskingRecordFactory:
    """A log record factory that masks each record the previous factory makes."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous
        self._filter = PiiLogFilter()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        self._filter.filter(record)
        return record


_install_lock = threading.Lock()


def install_log_masking() -> None:
    """Mask every log record this process creates from now on (idempotent).

    Installs :class:`PiiLogFilter` in the log record factory rather than on
    handlers, so that it also covers loggers and handlers configured later
    (Rasa configures its own) and records from third-party libraries.
    """
    if log_masking_installed():
        return
    with _install_lock:
        if not log_masking_installed():
            logging.setLogRecordFactory(_MaskingRecordFactory(logging.getLogRecordFactory()))


def log_masking_installed() -> bool:
    """Whether :func:`install_log_masking` is in effect."""
    return isinstance(logging.getLogRecordFactory(), _MaskingRecordFactory)


def uninstall_log_masking() -> None:
    """Restore the record factory :func:`install_log_masking` replaced (tests)."""
    with _install_lock:
        factory = logging.getLogRecordFactory()
        if isinstance(factory, _MaskingRecordFactory):
            logging.setLogRecordFactory(factory.previous)
