"""Messages to patrons on the real parts: staff publish on the service, the kiosk gets them
with its heartbeat (its own REST client), shows those for everyone on the idle screen and those
for a patron category after that patron's card, keeps them offline until their last day, and
the counts of times shown reach the service."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest
from test_session import FakeClock

from central.db import Database
from central.messages import BadMessage, active_for, parse, publish
from domain.demo_library import DEMO_KIOSK_ID, SEED_PATRONS
from domain.events import CardPresented
from domain.experiments import InvalidExperiment, category_of, message_of
from domain.model import Credential, CredentialKind
from kiosk.messages import MessageBoard
from kiosk.session import MessageShown, Session, SessionSettings, SetLanguage

CHILD = next(p for p in SEED_PATRONS if p.category == "child")
ADULT = next(p for p in SEED_PATRONS if p.patron_id == "P0015")
CLOSED = {"nl": "Op 25 en 26 december gesloten.", "fr": "Fermé les 25 et 26 décembre."}
STORY = {"nl": "Woensdag: voorleesuurtje!"}


def _publish(db_path, today, **overrides):
    with Database(db_path) as db:
        return publish(db, parse({"texts": CLOSED, "start": today.isoformat(),
                                  "end": (today + timedelta(days=10)).isoformat(),
                                  **overrides}), "alice")


def test_staff_forms_and_what_a_service_sends_are_checked():
    for bad in ({"texts": {}}, {"texts": {"xx": "hi"}}, {"texts": {"nl": "x" * 161}},
                {"end": "2000-01-01"}, {"audience": "Children of P0001!"}):
        with pytest.raises(BadMessage):
            parse({"texts": CLOSED, "start": "2026-12-01", "end": "2026-12-31", **bad})
    for bad in ({"message_id": True}, {"message_id": 0}, {"audience": "a b"},
                {"texts": {"nl": "\x07"}}, {"end": "soon"}):
        with pytest.raises(InvalidExperiment):
            message_of({"message_id": 1, "texts": CLOSED, "end": "2026-12-31", **bad})
    assert category_of(" Child ") == "child"
    assert category_of("J K!") == category_of(None) == ""


def test_the_kiosk_shows_them_to_the_right_patrons_and_counts_them(make_core, twin, tmp_path):
    core = make_core(on=twin, journal_path=tmp_path / "j.db")
    today = date.today()
    db_path = twin.app.state.service.db.path
    everyone = _publish(db_path, today)
    children = _publish(db_path, today, texts=STORY, audience="child")
    _publish(db_path, today, kiosks=["another-kiosk"])  # not this kiosk's
    board, sync = core.kiosk.messages, core.sync
    assert board is not None  # a REST kiosk that records visits shows messages too
    assert sync.heartbeat()
    assert [m.message_id for m in board.for_idle()] == [everyone]
    assert [m.message_id for m in board.for_patron("child")] == [children]

    session = Session(core.circulation, clock=FakeClock(), messages=board,
                      settings=SessionSettings(card_barcode_prefixes=("21",)))
    assert session.view.idle_messages == ((everyone, CLOSED["nl"]),)
    session.handle(SetLanguage("fr"))
    assert session.view.idle_messages == ((everyone, CLOSED["fr"]),)
    session.handle(MessageShown(everyone))  # the idle screen's rotation put it up
    session.handle(CardPresented(Credential(CredentialKind.BARCODE, CHILD.barcode)))
    assert session.view.patron_messages == ((children, STORY["nl"]),)  # no French: Dutch
    assert session.view.idle_messages == ()  # the idle screen's are not the home screen's

    adult = Session(core.circulation, clock=FakeClock(), messages=board,
                    settings=SessionSettings(card_barcode_prefixes=("21",)))
    adult.handle(CardPresented(Credential(CredentialKind.BARCODE, ADULT.barcode)))
    assert adult.view.patron_messages == ()

    twin.go_offline()
    assert not sync.heartbeat()  # the counts wait for the next heartbeat
    twin.go_online()
    assert sync.heartbeat()
    with sqlite3.connect(db_path) as conn:
        shown = dict(conn.execute("SELECT message_id, shown FROM messages"))
    assert shown[everyone] == 1 and shown[children] == 1

    # offline after a restart, the kiosk still shows them; after the last day, not any more
    again = MessageBoard(core.journal)
    assert [m.message_id for m in again.for_idle()] == [everyone]
    later = MessageBoard(core.journal, today=lambda: today + timedelta(days=11))
    assert later.for_idle() == [] and later.for_patron("child") == []


def test_branch_messages_reach_the_branch_kiosks_only(twin):
    today = date.today()
    db_path = twin.app.state.service.db.path
    with Database(db_path) as db, db.read() as conn:
        branch = conn.execute("SELECT branch FROM kiosks WHERE kiosk_id = ?",
                              (DEMO_KIOSK_ID,)).fetchone()[0]
    here = _publish(db_path, today, branches=[branch])
    _publish(db_path, today, branches=["Elders"])
    with Database(db_path) as db:
        assert [m.message_id for m in active_for(db, DEMO_KIOSK_ID, today)] == [here]
