from actions.db import Database
from bot.handoff.events import GAP_GRACE_S, EventLog, EventTail
from bot.handoff.store import HandoffStore
from tests.bot.handoff.support import SETTINGS, Clock, request


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_tail_remembers_skipped_ids_for_a_while() -> None:
    ticks = Ticks()
    tail = EventTail(3, clock=ticks)

    tail.seen(4)
    tail.seen(7)  # 5 and 6 are not committed yet

    assert (tail.cursor, tail.gaps, tail.watermark) == (7, (5, 6), 4)
    started = tail.now()
    tail.seen(6)  # found on a later read
    tail.expire(started)
    assert (tail.gaps, tail.watermark) == ((5,), 4)

    ticks.now += GAP_GRACE_S + 1
    tail.expire(ticks.now)  # a read after the grace did not find 5: given up
    assert (tail.cursor, tail.gaps, tail.watermark) == (7, (), 7)
    tail.seen(2)  # old ids change nothing
    assert (tail.cursor, tail.gaps) == (7, ())


def test_a_gap_is_not_given_up_before_a_read_after_its_grace() -> None:
    ticks = Ticks()
    tail = EventTail(0, clock=ticks)
    tail.seen(2)
    started = tail.now()
    ticks.now += GAP_GRACE_S * 10  # a long pause (a webhook retrying) before the next read

    tail.expire(started)

    assert tail.gaps == (1,)


def test_the_log_reads_events_with_current_summaries(database: Database) -> None:
    store = HandoffStore(database, settings=SETTINGS, clock=Clock())
    log = EventLog(database, store)
    assert log.latest_id() == 0
    first = store.open_ticket(request("a")).ticket_id
    store.add_customer_message("a", "more")
    second = store.open_ticket(request("b")).ticket_id

    events = log.read(0)

    assert [(e.id, e.type, e.ticket.id) for e in events] == [
        (1, "ticket.created", first),
        (2, "message.created", first),
        (3, "ticket.created", second),
    ]
    assert events[1].message is not None and events[1].message.text == "more"
    assert events[0].ticket.preview == "more"  # the ticket as it is now
    assert [e.id for e in log.read(2)] == [3]
    assert [e.id for e in log.read(3, also=[1])] == [1]
    assert log.read(3) == []
    assert log.latest_id() == 3
