"""Receipts by e-mail, against a real SMTP relay on loopback (STARTTLS and a login required)
and the reference library for the address: in each language, queued durably while the
library or the relay is away, the address never logged or kept, and the whole visit through
the session as a patron does it."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import pytest
from smtp_relay import PASSWORD, USER, Relay

from domain.demo_library import AVAILABLE_ITEMS, SEED_PATRONS
from domain.events import BarcodeScanned, CardPresented
from domain.model import Credential, CredentialKind
from drivers.printer import Receipt
from kiosk import config
from kiosk.app import build_kiosk
from kiosk.journal import Journal
from kiosk.receipt_mail import ReceiptMailer, SmtpRelay
from kiosk.session import ChooseMode, Done, EmailReceipt, Mode, Screen
from kiosk.testing.in_process import InProcessLibrary

MARIE = next(p for p in SEED_PATRONS if p.patron_id == "P0015")
JAN = next(p for p in SEED_PATRONS if p.patron_id == "P0001")  # the library has no address
DUE = date(2026, 12, 24)
SAID = {  # what each language's receipt must say
    "nl": ("Uw ticket van Bibliotheek Demo", "Terugbrengen op: 24 december 2026"),
    "fr": ("Votre ticket de Bibliotheek Demo", "À rendre le : 24 décembre 2026"),
    "de": ("Ihr Beleg von Bibliotheek Demo", "Rückgabe bis: 24. Dezember 2026"),
    "en": ("Your receipt from Bibliotheek Demo", "Due: 24 December 2026"),
}


def email_settings(relay: Relay, tmp_path: Path, *, password: str = PASSWORD
                   ) -> config.EmailSection:
    secret = tmp_path / "relay-password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    return config.EmailSection(enabled=True, host=relay.host, port=relay.port,
                               username=USER, password_file=str(secret),
                               from_address="kiosk@bib.example.org", ca_file=str(relay.ca_file),
                               timeout_s=5.0)


def paper(language: str, title: str = "Het begijnhof van oma Rosa") -> Receipt:
    return Receipt(library_name="Bibliotheek Demo", when=datetime(2026, 12, 3, 14, 5),
                   language=language, lines=((title, DUE),), kind="loan")


@pytest.fixture
def mailer_for(relay: Relay, twin: InProcessLibrary, tmp_path: Path):
    journals: list[Journal] = []

    def make(*, password: str = PASSWORD) -> tuple[ReceiptMailer, Journal]:
        journal = Journal(tmp_path / f"journal-{len(journals)}.db")
        journals.append(journal)
        mailer = ReceiptMailer(journal, twin.backend(),
                               SmtpRelay(email_settings(relay, tmp_path, password=password)),
                               sender="kiosk@bib.example.org", library_name="Bibliotheek Demo")
        return mailer, journal

    yield make
    for journal in journals:
        journal.close()


@pytest.mark.parametrize("language", list(SAID))
def test_a_receipt_is_mailed_in_the_patrons_language(relay: Relay, mailer_for, language: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mailer, journal = mailer_for()
    assert mailer.queue(paper(language), MARIE.patron_id)
    assert mailer.send_pending() == 1
    (msg,) = relay.inbox.messages
    subject, due = SAID[language]
    assert msg["Subject"] == subject and msg["To"] == MARIE.email
    assert msg["Content-Language"] == language
    body = msg.get_payload(decode=True).decode("utf-8")
    assert "Het begijnhof van oma Rosa" in body and due in body
    assert journal.mail_pending() == []  # sent: nothing of it stays on the kiosk
    stored = b"".join(p.read_bytes() for p in journal.path.parent.glob(journal.path.name + "*"))
    assert MARIE.email.encode() not in stored and MARIE.patron_id.encode() not in stored
    # the kiosk's own log (the relay's server-side debug log is the relay's business)
    logged = "\n".join(r.getMessage() for r in caplog.records
                       if not r.name.startswith(("mail.log", "aiosmtpd")))
    assert "e-mailed a receipt" in logged
    assert MARIE.email not in logged and MARIE.email.split("@")[0] not in logged


def test_offline_the_receipt_waits_and_goes_when_the_library_answers(
        relay: Relay, mailer_for, twin: InProcessLibrary) -> None:
    mailer, journal = mailer_for()
    twin.go_offline()
    assert mailer.queue(paper("nl"), MARIE.patron_id)
    assert mailer.send_pending() == 0
    (row,) = journal.mail_pending()
    assert row.attempts == 1 and relay.inbox.messages == []
    twin.go_online()
    assert mailer.send_pending() == 1 and len(relay.inbox.messages) == 1
    assert journal.mail_pending() == []


def test_a_relay_that_refuses_the_login_keeps_the_receipt_queued(relay: Relay,
                                                                 mailer_for) -> None:
    mailer, journal = mailer_for(password="wrong")
    mailer.queue(paper("en"), MARIE.patron_id)
    assert mailer.send_pending() == 0
    (row,) = journal.mail_pending()
    last_error = journal._db.execute("SELECT last_error FROM mail_out").fetchone()[0]
    assert last_error.startswith("SMTP") and PASSWORD not in last_error
    assert row.attempts == 1 and relay.inbox.messages == []


def test_no_address_or_a_rejected_one_drops_the_receipt(relay: Relay, mailer_for) -> None:
    mailer, journal = mailer_for()
    mailer.queue(paper("nl"), JAN.patron_id)  # the library holds no address for Jan
    relay.inbox.refuse.add(MARIE.email)
    mailer.queue(paper("nl"), MARIE.patron_id)
    assert mailer.send_pending() == 0
    assert journal.mail_pending() == [] and relay.inbox.messages == []


def test_a_patron_chooses_e_mail_on_the_receipt_screen(relay: Relay, twin: InProcessLibrary,
                                                       tmp_path: Path) -> None:
    settings = config.Settings(
        kiosk=config.KioskSection(id="demo-kiosk-1", data_dir=str(tmp_path)),
        library=config.LibrarySection(name="Bibliotheek Demo"),
        email=email_settings(relay, tmp_path))
    kiosk = build_kiosk(settings, backend=twin.backend())
    try:
        session = kiosk.session
        session.handle(CardPresented(Credential(CredentialKind.BARCODE, MARIE.barcode)))
        session.handle(ChooseMode(Mode.BORROW))
        session.handle(BarcodeScanned(AVAILABLE_ITEMS[90]))
        session.handle(Done())
        view = session.view
        assert view.screen == Screen.RECEIPT and not view.receipt_available  # no printer
        assert view.email_hint == "m\u2022\u2022\u2022@example.org"  # never the address
        session.handle(EmailReceipt())
        assert session.view.screen == Screen.GOODBYE
        assert kiosk.mailer is not None and kiosk.mailer.send_pending() == 1
    finally:
        kiosk.close()
    (msg,) = relay.inbox.messages
    assert msg["To"] == MARIE.email and msg["Subject"] == "Uw ticket van Bibliotheek Demo"
    assert "Terugbrengen op:" in msg.get_payload(decode=True).decode("utf-8")
