"""Receipts by e-mail: queued durably at the kiosk, sent through the library's SMTP relay.

Why this shape: the patron's address is the library's, not the kiosk's. The journal keeps the
patron id and what the receipt says (as a transaction keeps its patron id) until the relay
has taken the message; the address is asked of the library (`CatalogBackend.email_of`) just
before sending, lives in memory for that one message, and is never logged. Offline, the
receipt waits like a transaction and goes when the library answers again.

Delivery is at least once: a kiosk killed between the relay's "250 OK" and the row's delete
sends that receipt again after restarting (the Message-ID is the same, so a mail program
shows one). Losing a receipt the patron was promised would be worse than a second copy.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.printer import Receipt as PaperReceipt
from drivers.printer import receipt_words
from kiosk.backends.base import BackendUnavailable, CatalogBackend, Refused
from kiosk.journal import Journal, JournalError, MailRow

if TYPE_CHECKING:
    from kiosk.config import EmailSection
    from kiosk.session_io import Receipt as SessionReceipt

log = logging.getLogger(__name__)

GIVE_UP_AFTER = 50  # attempts (about a day of retries): then the row is dropped and logged
RETRY_S = 30.0


class MailUnavailable(Exception):
    """The relay cannot take mail now (unreachable, busy, TLS or login failed): try later."""


class MailRefused(Exception):
    """The relay refuses this message for good (the address is rejected)."""


def receipt_json(receipt: PaperReceipt) -> str:
    """What the journal keeps of a receipt until it is sent: no patron identifier."""
    return json.dumps({
        "library_name": receipt.library_name, "when": receipt.when.isoformat(),
        "language": receipt.language, "offline": receipt.offline, "kind": receipt.kind,
        "lines": [[title, due.isoformat() if isinstance(due, date) else due, isinstance(due, date)]
                  for title, due in receipt.lines],
    })


def receipt_from_json(text: str) -> PaperReceipt:
    data = json.loads(text)
    return PaperReceipt(
        library_name=data["library_name"], when=datetime.fromisoformat(data["when"]),
        language=data["language"], offline=data["offline"], kind=data["kind"],
        lines=tuple((title, date.fromisoformat(due) if is_date else due)
                    for title, due, is_date in data["lines"]))


def compose(receipt: PaperReceipt, *, to: str, sender: str, key: str) -> EmailMessage:
    """The message in the receipt's language: the same sentences as the paper one."""
    from kiosk.i18n import translations

    _ = translations(receipt.language).gettext
    words = receipt_words(receipt, _)
    msg = EmailMessage()
    msg["Subject"] = _("Your receipt from {library}").format(library=receipt.library_name)
    msg["From"] = formataddr((receipt.library_name, sender))
    msg["To"] = to
    msg["Message-ID"] = make_msgid(idstring=key, domain=sender.rpartition("@")[2] or None)
    body = [receipt.library_name, words.heading, words.stamp, ""]
    for title, detail in words.items:
        body += [title, f"  {detail}" if detail else ""]
    if words.offline:
        body += [words.offline]
    body += ["", words.thanks]
    msg.set_content("\n".join(body) + "\n")
    msg["Content-Language"] = receipt.language  # after set_content, which resets Content-*
    return msg


@dataclass
class SmtpRelay:
    """The library's relay: STARTTLS (verified), then login when a username is set."""

    settings: EmailSection

    def send(self, msg: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file or None)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls(context=context)
                if s.username:
                    smtp.login(s.username, _password(s.password_file))
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRefused("the relay refused the recipient") from exc
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise MailUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _password(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise MailUnavailable(f"cannot read the relay's password file: {exc.strerror}") from exc


class ReceiptMailer:
    """Queues receipts (the session's `email_receipt`) and sends them on its own thread."""

    def __init__(self, journal: Journal, backend: CatalogBackend, relay: SmtpRelay, *,
                 sender: str, library_name: str, retry_s: float = RETRY_S) -> None:
        self._library_name = library_name
        self._journal = journal
        self._backend = backend
        self._relay = relay
        self._sender = sender
        self._retry_s = retry_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def queue_receipt(self, receipt: SessionReceipt, patron_id: str) -> bool:
        """The session's `email_receipt`: what the patron did, as the paper receipt says it."""
        from kiosk.devices import paper_receipt

        return self.queue(paper_receipt(receipt, library_name=self._library_name), patron_id)

    def queue(self, receipt: PaperReceipt, patron_id: str) -> bool:
        """Durably; True when the patron may be told it will be e-mailed."""
        try:
            self._journal.queue_mail(patron_id, receipt_json(receipt))
        except JournalError as exc:
            log.error("could not queue an e-mailed receipt: %s", exc)
            return False
        self._wake.set()
        return True

    def send_pending(self) -> int:
        """Send what is queued, oldest first; stops at the first sign the library or the
        relay is away. Returns how many were sent."""
        sent = 0
        for row in self._journal.mail_pending():
            try:
                if self._send(row):
                    sent += 1
            except (BackendUnavailable, MailUnavailable) as exc:
                log.info("e-mailed receipts wait: %s", exc)
                self._journal.mail_failed(row.row_id, str(exc))
                return sent
        if self._journal.needs_scrub and not self._journal.pending_count():
            self._journal.scrub()  # the WAL's copies of the rows just deleted go too
        return sent

    def _send(self, row: MailRow) -> bool:
        try:
            address = self._backend.email_of(row.patron_id)
        except Refused:
            address = None
        if address is None:
            log.warning("an e-mailed receipt was dropped: the library holds no address")
            self._journal.mail_done(row.row_id)
            return False
        msg = compose(receipt_from_json(row.receipt), to=address, sender=self._sender,
                      key=f"receipt-{row.row_id}")
        try:
            self._relay.send(msg)
        except MailRefused:
            log.warning("an e-mailed receipt was dropped: the relay refused the address")
            self._journal.mail_done(row.row_id)
            return False
        except MailUnavailable:
            if row.attempts + 1 >= GIVE_UP_AFTER:
                log.error("an e-mailed receipt was dropped after %d attempts", GIVE_UP_AFTER)
                self._journal.mail_done(row.row_id)
                return False
            raise
        self._journal.mail_done(row.row_id)
        log.info("e-mailed a receipt")
        return True

    # ---- its thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_pending()
            except Exception:  # the mail thread must survive a bad row or a bug
                log.exception("e-mailing receipts failed")
            self._wake.wait(self._retry_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
