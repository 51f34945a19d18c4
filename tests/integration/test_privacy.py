"""Patron privacy end to end: a whole visit (card, PIN, loans, offline loans, sync, account,
renewal) leaves no PIN, card number, patron id or name in any log line, in the kiosk's files
after sync, or on screen after the session ends."""

from __future__ import annotations

import logging

from domain.demo_library import AVAILABLE_ITEMS, DEMO_PIN, SEED_PATRONS
from domain.events import BarcodeScanned, CardPresented
from domain.model import Credential, CredentialKind
from kiosk.session import (
    ChooseMode,
    Done,
    EnterPin,
    Mode,
    RenewItems,
    Screen,
    Session,
    SessionSettings,
)

PATRON = next(p for p in SEED_PATRONS if p.card_uid and p.patron_id != "P0001")


def test_a_whole_visit_leaves_no_patron_trace(make_core, library, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    core = make_core(journal_path=tmp_path / "journal.db")
    clock = [0.0]
    session = Session(core.circulation, clock=lambda: clock[0],
                      settings=SessionSettings(require_pin=True, card_barcode_prefixes=("21",)))
    session.handle(CardPresented(Credential(CredentialKind.CARD_UID, PATRON.card_uid)))
    session.handle(EnterPin("999999"))  # a wrong one first
    session.handle(EnterPin(DEMO_PIN))
    assert session.view.screen == Screen.HOME
    session.handle(ChooseMode(Mode.BORROW))
    session.handle(BarcodeScanned(AVAILABLE_ITEMS[70]))
    library.proxy.cut()
    session.handle(BarcodeScanned(AVAILABLE_ITEMS[71]))
    library.proxy.restore()
    core.sync.drain()
    session.handle(ChooseMode(Mode.ACCOUNT))
    session.handle(RenewItems(()))
    assert any(line.ok for line in session.view.renewals)
    session.handle(Done())
    clock[0] += 30
    session.tick()
    assert session.view.screen == Screen.IDLE
    core.sync.step()  # the queue is empty: the worker scrubs the journal

    secrets = [PATRON.card_uid, PATRON.barcode, PATRON.patron_id, PATRON.name,
               PATRON.name.split()[-1], "999999"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records, "the visit should have been logged"
    for secret in secrets:
        assert secret not in logged, f"{secret!r} reached the log"
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("journal.db*"))  # kiosk running
    # the offline cache keeps the patron id (never the card); what they borrowed is gone
    for secret in [PATRON.card_uid, PATRON.barcode, PATRON.name, "999999", DEMO_PIN,
                   AVAILABLE_ITEMS[70], AVAILABLE_ITEMS[71]]:
        assert secret.encode() not in stored, f"{secret!r} stayed on the kiosk's disk"
    for secret in secrets:
        assert secret not in repr(session.view)
