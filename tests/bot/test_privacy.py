"""Masking emails, phone and card numbers in text and in log records."""

import logging
import sys
from typing import Iterator

import pytest

from bot.privacy import (
    PiiLogFilter,
    install_log_masking,
    log_masking_installed,
    luhn_valid,
    mask_pii,
    uninstall_log_masking,
)


@pytest.fixture(autouse=True)
def no_masking_left_behind() -> Iterator[None]:
    uninstall_log_masking()
    yield
    uninstall_log_masking()


@pytest.mark.parametrize(
    "text, masked",
    [
        ("mail me at jane.doe@example.com please", "mail me at j***@example.com please"),
        ("A.B+shop@mail.example.co.uk.", "A***@mail.example.co.uk."),
        ("<b>x@y.org</b>", "<b>x***@y.org</b>"),
        ("card 4111 1111 1111 1111 exp 12/27", "card **** **** **** 1111 exp 12/27"),
        ("4111-1111-1111-1111", "****-****-****-1111"),
        ("5555555555554444", "************4444"),
        ("amex 378282246310005", "amex ***********0005"),
        ("4111 1111 1111 1111 12", "**** **** **** 1111 12"),
        ("call +43 664 1234567", "call +** *** *****67"),
        ("whatsapp:+4366412345678", "whatsapp:+***********78"),
        ("0664 1234567", "**** *****67"),
        ("call 0664/1234567.", "call ****/*****67."),
        ("(555) 123-4567", "(***) ***-**67"),
        ("555-123-4567", "***-***-**67"),
        ("+43 (0) 664 123 45 67", "+** (*) *** *** ** 67"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "where is my order ORD-104233?",
        "sku HPH-10231, 549.99 EUR, under 1,299.99 euros",
        "2025-03-14T10:00:00+00:00 and 01.03.2025 10:00",
        "ticket 42 at 127.0.0.1:5005 took 0.123 s",
        "epoch 1741946400, version 3.6.21, id 9f1c2e3d4b5a",
        "4111 1111 1111 1112",  # fails the Luhn check: not a card
        "+43 664",  # too short for a phone number
        "1 - 2 - 3 - 4 - 5",
        "not an email: @example.com, a@b",
        "<script>alert('x')</script>'; DROP TABLE products; --",
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_the_luhn_check() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("79927398710")


def test_several_items_in_one_text_are_all_masked() -> None:
    text = "I'm ana@shop.example, +447911123456, card 4242424242424242; order ORD-104233"
    assert mask_pii(text) == (
        "I'm a***@shop.example, +**********56, card ************4242; order ORD-104233"
    )


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord(
        "bot.test",
        logging.ERROR,
        __file__,
        1,
        message,
        args,
        exc_info,  # type: ignore[arg-type]
    )


def test_the_filter_masks_the_message_with_its_arguments_and_lets_it_through() -> None:
    entry = record("Message of %r from %s", "mail ana@example.com", "+436641234567")
    assert PiiLogFilter().filter(entry) is True
    assert entry.getMessage() == "Message of 'mail a***@example.com' from +**********67"
    assert entry.args is None


def test_the_filter_masks_tracebacks() -> None:
    try:
        raise ValueError("cannot store 'card 4111 1111 1111 1111'")
    except ValueError:
        entry = record("failed", exc_info=sys.exc_info())
    PiiLogFilter().filter(entry)
    assert entry.exc_text is not None
    assert "ValueError: cannot store 'card **** **** **** 1111'" in entry.exc_text
    assert "4111 1111" not in logging.Formatter().format(entry)


def test_installed_masking_covers_every_logger_and_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert not log_masking_installed()
    install_log_masking()
    install_log_masking()  # idempotent
    assert log_masking_installed()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("user %s said %r", "+436641234567", "x@y.com")
    assert caplog.messages == ["user +**********67 said 'x***@y.com'"]
    uninstall_log_masking()
    assert not log_masking_installed()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("user %s", "+436641234567")
    assert caplog.messages[-1] == "user +436641234567"
