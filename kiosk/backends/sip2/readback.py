"""Exactly once over a protocol without idempotency keys: reading the library back.

SIP2 has no transaction id the library system would recognise a second time. When the kiosk
does not know whether a transaction reached the library (its answer was lost, the kiosk
crashed), sending it again could lend, return or renew twice; not sending it could lose it.
So before a replay the kiosk reads the library's records back (63 charged items, 17 -> 18
circulation status and due date) and decides from what they show: applied already (done,
nothing sent), never arrived (send it), or cannot tell (send as before, or leave it to staff).

The same reading decides what a VOID must send (SIP2 cannot undo by transaction id either)
and what a refused return meant. `Sip2Backend` is the records this reads through
(`LibraryRecords`); nothing here sends a circulation request.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Protocol

from domain.model import (
    Loan,
    Outcome,
    ReasonCode,
    ReplayResult,
    ReplayStatus,
    Transaction,
    TransactionKind,
)
from kiosk.backends.base import BackendUnavailable, Refused
from kiosk.backends.sip2.codec import Message
from kiosk.backends.sip2.dates import parse_due_date
from kiosk.backends.sip2.reasons import reason_from_text
from kiosk.backends.sip2.settings import Sip2Settings

log = logging.getLogger(__name__)

UNKNOWN_DUE = date.max  # a loan whose due date the server did not tell: sorts last, never overdue
# 18 circulation status: on loan to someone
ON_LOAN_STATUSES = frozenset({"04", "05", "07"})


class LibraryRecords(Protocol):
    """What the read-back asks of the library (the SIP2 backend answers)."""

    settings: Sip2Settings

    def item_information(self, item_id: str) -> Message: ...

    def charged_items(self, patron_id: str) -> list[str]: ...

    def loan(self, item_id: str) -> Loan: ...

    def checked_id(self, value: str, reason: ReasonCode, what: str) -> str: ...

    def remember(self, tx: Transaction, kind: TransactionKind, patron_id: str | None) -> None: ...


def unknown_item(reply: Message) -> bool:
    """An 18 that says the library does not know the item (no title, and says so)."""
    title = (reply.get("AJ") or "").strip()
    if title:
        return False
    text_says = reason_from_text(reply.screen_message) is ReasonCode.UNKNOWN_ITEM
    return text_says or reply.flag("circulation_status") == "01"


class ReadBack:
    """The library's records, read to forward each transaction exactly once."""

    def __init__(self, records: LibraryRecords) -> None:
        self._records = records

    def already_back(self, item_id: str) -> bool:
        """A refused return, read back: many library systems refuse a return of a book they
        already have back with a message the kiosk cannot read, or none at all. The item's
        circulation status (17 -> 18) tells: not on loan means the book is back, which the
        patron hears as "was not on loan", and a replayed return records as done, never as a
        conflict for staff."""
        try:
            return self.item_on_loan(item_id) is False
        except (BackendUnavailable, Refused):
            return False

    def shows_in_records(self, kind: TransactionKind, patron_id: str | None,
                          item_id: str) -> bool:
        """Whether the checkout or checkin a VOID cancels shows in the library's records, so the
        inverse act must be sent. SIP2 cannot undo by transaction id, and an inverse act for
        something that never arrived is itself a wrong act: a checkin of an item not on loan
        (refused: a conflict for staff) or a checkout of a book the patron still has (in effect
        a renewal nobody asked for). True when the library cannot tell us (sent as before)."""
        if kind is TransactionKind.CHECKOUT:
            return self.charged_to(patron_id, item_id) is not False
        return self.item_on_loan(item_id) is not True

    def void_renewal(self, tx: Transaction, patron_id: str | None) -> ReplayResult:
        """SIP2 has no message that undoes a renewal, so staff must restore the due date, but
        only when the renewal really reached the library: the patron heard "not renewed" after an
        answer was lost, and the renewal may never have arrived. The item's due date tells: not
        later than the one the patron saw (`due_before`) means nothing happened, so the VOID is
        done without sending anything. When the kiosk cannot tell (no due date from before, the
        item not on loan to this patron, an AH it cannot read), staff get the conflict as before.
        """
        cannot_undo = "SIP2 cannot undo a renewal; staff must restore the due date"
        due_now = self.due_now(patron_id, tx.item_id, tx.due_before)
        if due_now is None or tx.due_before is None:
            return ReplayResult(tx.tx_id, ReplayStatus.CONFLICT,
                                detail=f"void of a renewal: {cannot_undo}")
        due, _title = due_now
        if due <= tx.due_before:
            log.info("SIP2 replay: renewal voided by %s never reached the library; nothing sent",
                     tx.tx_id[:8])
            return ReplayResult(tx.tx_id, ReplayStatus.DONE,
                                detail="void of a renewal that never reached the library")
        return ReplayResult(tx.tx_id, ReplayStatus.CONFLICT, detail=(
            f"void of a renewal: the renewal did reach the library although the patron was told "
            f"it failed; the new due date is {due.isoformat()} (was {tx.due_before.isoformat()}); "
            f"{cannot_undo}"))

    def applied_before(self, tx: Transaction) -> Outcome | None:
        """A transaction whose earlier sending got no answer: did the library apply it?
        SIP2 has no idempotency key, so reading the library's records back is the only way to
        forward it exactly once. Returns None when it must be sent (or the server cannot tell us).

        A checkout was applied when the item is on this patron's loans (63, charged items);
        sending it again would renew it (or be refused as a renewal).

        A renewal was applied when the item's due date (17 -> 18 AH) is later than the one the
        patron saw before renewing (`tx.due_before`); sending it again would renew it twice (or be
        refused at the renewal limit, a conflict for staff). With no `due_before`, an AH the
        backend cannot read, or the item not seen on this patron's loans (e.g. a server listing
        titles in AU), the renewal is sent again as before (and may be renewed twice).

        A checkin was applied when the item is no longer on loan (17 -> 18 circulation status,
        whoever had it: a patron may return a family member's book). Sent again, most library
        systems refuse it ("not checked out"), which would leave a conflict for staff.
        """
        if not tx.maybe_applied:
            return None
        if tx.kind is TransactionKind.CHECKIN:
            return self.checkin_applied(tx)
        if not tx.patron_id:
            return None
        if tx.kind is TransactionKind.RENEW:
            return self.renewal_applied(tx, tx.patron_id)
        if tx.kind is not TransactionKind.CHECKOUT or not self.charged_to(tx.patron_id,
                                                                            tx.item_id):
            return None
        pid, item_id = tx.patron_id, tx.item_id
        self._records.remember(tx, TransactionKind.CHECKOUT, pid)  # a VOID can still undo it
        log.info("SIP2 replay: checkout %s was applied by an earlier attempt; not sent again",
                 tx.tx_id[:8])
        loan = self._records.loan(item_id)
        return Outcome(ok=True, item_id=item_id, title=loan.title,
                       due=None if loan.due == UNKNOWN_DUE else loan.due, tx_id=tx.tx_id)

    def checkin_applied(self, tx: Transaction) -> Outcome | None:
        """The answer to a checkin that reached the library (see `applied_before`), or None."""
        if self.item_on_loan(tx.item_id) is not False:
            return None
        # a VOID can still undo it
        self._records.remember(tx, TransactionKind.CHECKIN, tx.patron_id)
        log.info("SIP2 replay: checkin %s was applied by an earlier attempt; not sent again",
                 tx.tx_id[:8])
        return Outcome(ok=True, item_id=tx.item_id, tx_id=tx.tx_id)

    def charged_to(self, patron_id: str | None, item_id: str) -> bool | None:
        """Whether the item is among the patron's charged items (63) now; None when the kiosk
        cannot ask (no patron, or the server is not configured for the charged summary)."""
        if not patron_id or not self._records.settings.summary_supported("charged"):
            return None
        pid = self._records.checked_id(patron_id, ReasonCode.UNKNOWN_PATRON, "patron")
        item_id = self._records.checked_id(item_id, ReasonCode.UNKNOWN_ITEM, "item")
        return item_id in self._records.charged_items(pid)

    def item_on_loan(self, item_id: str) -> bool | None:
        """Whether the item is on loan to anyone now (17 -> 18 circulation status); None when
        the library does not know the item."""
        item_id = self._records.checked_id(item_id, ReasonCode.UNKNOWN_ITEM, "item")
        info = self._records.item_information(item_id)
        if unknown_item(info):
            return None
        return info.flag("circulation_status") in ON_LOAN_STATUSES

    def renewal_applied(self, tx: Transaction, patron_id: str) -> Outcome | None:
        """The answer to a renewal that reached the library (see `applied_before`), or None."""
        due_now = self.due_now(patron_id, tx.item_id, tx.due_before)
        if due_now is None or tx.due_before is None or due_now[0] <= tx.due_before:
            return None
        due, title = due_now
        self._records.remember(tx, TransactionKind.RENEW, patron_id)
        log.info("SIP2 replay: renewal %s was applied by an earlier attempt; not sent again",
                 tx.tx_id[:8])
        return Outcome(ok=True, item_id=tx.item_id, title=title, due=due, tx_id=tx.tx_id)

    def due_now(self, patron_id: str | None, item_id: str,
                 due_before: date | None) -> tuple[date, str] | None:
        """The item's due date and title as the library has them now, to read a renewal back;
        None when they cannot say whether a renewal by this patron moved the due date.

        18 does not name the borrower, only the circulation status: a due date that moved later
        also needs the item among this patron's charged items (63) when the server lists them,
        so a return and a loan to someone else is not taken for the renewal.
        """
        if due_before is None or due_before >= UNKNOWN_DUE or not patron_id:
            return None
        pid = self._records.checked_id(patron_id, ReasonCode.UNKNOWN_PATRON, "patron")
        item_id = self._records.checked_id(item_id, ReasonCode.UNKNOWN_ITEM, "item")
        info = self._records.item_information(item_id)
        if info.flag("circulation_status") not in ON_LOAN_STATUSES:
            return None
        due = parse_due_date(info.get("AH"), server_tz=self._records.settings.tz)
        if due is None:
            return None
        if due > due_before and self.charged_to(pid, item_id) is False:
            return None
        return due, (info.get("AJ") or "").strip()
