"""What the library learns from each visit (kiosk/visits.py): the record a patron's visit leaves,
and that it reaches the central service exactly once and leaves the kiosk then.

The session is driven as the kiosk drives it (events in, a fake clock) against the reference
service in this process (`twin`); the records go through the kiosk's own REST client into the
service's own database.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from test_session import JAN, PATRON, FakeClock

from central.db import Database
from central.insights import Scope, summary
from domain.demo_library import AVAILABLE_ITEMS, DEMO_PIN, HELD_ITEMS, SEED_PATRONS
from domain.events import BarcodeScanned, CardPresented
from domain.model import Credential, CredentialKind
from domain.visits import InvalidVisit, Visit, check
from kiosk.backends.base import BackendUnavailable
from kiosk.session import (
    AccessUsed,
    CancelPin,
    ChooseMode,
    Done,
    EnterPin,
    Feedback,
    FeedbackReason,
    Mode,
    ReceiptChoice,
    RenewItems,
    Session,
    SessionSettings,
)
from kiosk.visits import VisitForwarder, VisitRecorder

BRUSSELS = timezone(timedelta(hours=1))
WALL = datetime(2026, 12, 3, 10, 38, 12, tzinfo=BRUSSELS)


class Visiting:
    """A session whose visits land in `records`."""

    def __init__(self, circulation, **settings: object) -> None:
        self.clock = FakeClock()
        self.records: list[Visit] = []
        self.recorder = VisitRecorder(self.records.append, clock=self.clock,
                                      wall_clock=lambda: WALL)
        self.session = Session(circulation, clock=self.clock, visits=self.recorder,
                               print_receipt=lambda receipt: None,
                               settings=SessionSettings(**{"card_barcode_prefixes": ("21",),
                                                           "goodbye_s": 4.0, **settings}))

    def do(self, event: object, after: float = 0.0) -> None:
        self.clock.advance(after)
        self.session.handle(event)

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.session.tick()

    def card(self, patron, after: float = 0.0) -> None:
        self.do(CardPresented(Credential(CredentialKind.BARCODE, patron.barcode)), after)


@pytest.fixture
def visiting(make_core, twin):
    def build(**settings: object) -> Visiting:
        return Visiting(make_core(on=twin).circulation, **settings)
    return build


def test_a_borrow_visit_leaves_what_was_done_and_how_long_it_took(visiting):
    v = visiting()
    v.do(AccessUsed("large_text"))  # chosen on the idle screen, before the card
    v.card(PATRON)
    v.do(ChooseMode(Mode.BORROW), after=3)
    for item in AVAILABLE_ITEMS[:2]:
        v.do(BarcodeScanned(item), after=5)
    v.do(BarcodeScanned(HELD_ITEMS[0]), after=5)  # on hold for someone else: refused
    v.do(Done(), after=4)
    v.do(ReceiptChoice(print_receipt=True), after=2)
    assert v.records == []  # still on the goodbye screen
    v.wait(5)

    [visit] = v.records
    assert (visit.ended, visit.last_screen, visit.identified_by, visit.pin) == (
        "done", "goodbye", "barcode", False)
    assert [(j.kind, j.items, j.ok) for j in visit.journeys] == [("borrow", 3, 2)]
    assert visit.refusals == {"on_hold_for_other": 1}
    assert visit.receipt == "print" and visit.access == ("large_text",)
    assert visit.steps == {"home": 3, "borrow": 19, "receipt": 2, "goodbye": 5}
    assert visit.seconds == 29 and not visit.offline and visit.language == "nl"
    assert visit.started == "2026-12-03T10:30+01:00"  # the quarter hour, local time


def test_no_record_holds_a_patron_an_item_a_title_or_a_pin(visiting, twin):
    v = visiting(require_pin=True)
    v.card(JAN)
    v.do(EnterPin(DEMO_PIN))
    v.do(ChooseMode(Mode.ACCOUNT))
    v.do(RenewItems(()))
    v.do(ChooseMode(Mode.BORROW))
    v.do(BarcodeScanned(AVAILABLE_ITEMS[0]))
    v.do(Done())
    v.do(ReceiptChoice(print_receipt=False))
    v.wait(5)
    [visit] = v.records
    text = visit.to_json()
    assert visit.pin and [j.kind for j in visit.journeys] == ["account", "renew", "borrow"]
    secrets = [JAN.patron_id, JAN.barcode, JAN.name, DEMO_PIN, AVAILABLE_ITEMS[0],
               *(p.name.split()[0] for p in SEED_PATRONS)]
    with Database(twin.app.state.service.db.path) as db, db.read() as conn:
        titles = [r[0] for r in conn.execute("SELECT title FROM items")]
    assert not [s for s in [*secrets, *titles] if s and s in text]
    assert check(json.loads(text)) == visit  # what the kiosk writes, the service accepts


def test_walking_off_giving_up_and_a_refused_card_each_say_so(visiting):
    v = visiting(timeout_s=30, warning_s=10)
    v.card(PATRON)
    v.do(ChooseMode(Mode.RETURN), after=2)
    v.wait(31)
    v.wait(10)  # the warning ran out
    v.do(CardPresented(Credential(CredentialKind.BARCODE, "2199999999999")), after=5)
    v.do(BarcodeScanned(AVAILABLE_ITEMS[3]), after=5)  # a return without a card
    v.do(CancelPin(), after=1)  # "stop" from the return screen: back to the start
    endings = [(r.ended, r.last_screen) for r in v.records]
    assert endings == [("timeout", "return"), ("refused", "idle"), ("abandoned", "return")]
    assert v.records[1].refusals == {"unknown_patron": 1}
    assert [(j.kind, j.items, j.ok) for j in v.records[2].journeys] == [("return", 1, 1)]


def test_hostile_records_are_refused_word_by_word():
    good = json.loads(Visit("0b0f6c1e-7d0e-4e0b-9a6e-1f2b3c4d5e6f", "2026-12-03T10:30+01:00",
                            "done", "goodbye", 30).to_json())
    assert check(good).seconds == 30
    for bad in ({"patron_id": "P0001"}, {"ended": "P0001"}, {"language": "xx"},
                {"started": "2026-12-03T10:31+01:00"}, {"started": "2026-12-03T10:30"},
                {"refusals": {"P0001": 1}}, {"journeys": [{"kind": "borrow", "title": "x"}]},
                {"journeys": [{"kind": "borrow", "items": 1, "ok": 2}]}, {"seconds": -1},
                {"feedback": 9}, {"variants": {"idle message": "Jan Peeters"}},
                {"access": ["keypad", "P0001"]}):
        with pytest.raises(InvalidVisit):
            check({**good, **bad})


class LosesAnswers:
    """The service stores the batch, but its answer never reaches the kiosk."""

    def __init__(self, inner, times: int) -> None:
        self.inner, self.times = inner, times

    def send_visits(self, records):
        settled = self.inner.send_visits(records)
        if self.times:
            self.times -= 1
            raise BackendUnavailable("the answer was lost on the way back")
        return settled


def test_visits_reach_the_library_once_even_when_answers_are_lost(make_core, twin):
    core = make_core(on=twin)
    v = Visiting(core.circulation)
    for patron in (PATRON, JAN):
        v.card(patron)
        v.do(ChooseMode(Mode.RETURN))
        v.do(Done())
        v.wait(5)
    assert core.journal.record_visits([(r.visit_id, r.to_json()) for r in v.records])
    forwarder = VisitForwarder(core.journal, LosesAnswers(core.backend, times=2))

    assert forwarder.forward() == 0 and core.journal.visit_count() == 2  # kept: no answer
    assert forwarder.forward() == 0  # sent again, lost again
    assert forwarder.forward() == 2 and core.journal.visit_count() == 0  # gone once settled

    db_path = twin.app.state.service.db.path
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 2
    with Database(db_path) as db:
        day = WALL.date()
        assert summary(db, Scope(day, day), k=1)["visits"] == 2  # counted once each


def _borrow_one(v: Visiting, patron, item: str) -> None:
    v.card(patron)
    v.do(ChooseMode(Mode.BORROW))
    v.do(BarcodeScanned(item))
    v.do(Done())
    v.do(ReceiptChoice(print_receipt=False))


def test_how_did_it_go_is_asked_every_nth_visit_and_a_low_score_asks_why(visiting):
    v = visiting(feedback=True, feedback_every=2)
    _borrow_one(v, PATRON, AVAILABLE_ITEMS[0])
    assert v.session.view.feedback == ""  # the first of two is not asked
    v.wait(5)
    _borrow_one(v, JAN, AVAILABLE_ITEMS[1])
    assert v.session.view.feedback == "ask"
    v.wait(6)  # a patron deciding is not hurried off after the usual 4 s
    assert v.session.view.screen.value == "goodbye"
    v.do(Feedback(2))
    assert v.session.view.feedback == "why"
    v.do(FeedbackReason("too_slow"))
    assert v.session.view.feedback == "thanks"
    v.wait(3)  # thanked, then the idle screen
    assert v.session.view.screen.value == "idle"
    first, second = v.records
    assert (first.feedback_asked, first.feedback) == (False, None)
    assert (second.feedback_asked, second.feedback, second.feedback_reason) == (
        True, 2, "too_slow")


def test_a_patron_who_walks_off_is_not_kept_by_the_question(visiting):
    v = visiting(feedback=True)
    _borrow_one(v, PATRON, AVAILABLE_ITEMS[2])
    assert v.session.view.feedback == "ask"
    v.do(FeedbackReason("other"))  # no reason before a score; nothing happens
    v.do(Feedback(7))  # not a face
    v.wait(13)
    assert v.session.view.screen.value == "idle"
    [visit] = v.records
    assert (visit.feedback_asked, visit.feedback, visit.feedback_reason) == (True, None, "")
    # the next patron's card on the goodbye screen does not wait for the answer either
    _borrow_one(v, JAN, AVAILABLE_ITEMS[3])
    v.card(PATRON)
    assert v.session.view.screen.value == "home" and len(v.records) == 2


def test_a_visit_that_only_looked_is_not_asked(visiting):
    v = visiting(feedback=True)
    v.card(PATRON)
    v.do(ChooseMode(Mode.ACCOUNT))
    v.do(Done())
    assert v.session.view.feedback == ""
