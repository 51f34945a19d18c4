"""`Sip2Backend`: the kiosk's `CatalogBackend` spoken as SIP2 to the library system.

Construct with ``Sip2Backend(Sip2Settings.from_mapping(config["sip2"]))``.

What leaves this module is only `BackendUnavailable` (and subclasses, from the
client) or `Refused`: replies are parsed here, so a reply the client accepted
but that does not make sense (an impossible count, a broken date) is turned
into `MalformedReply`, and input the protocol cannot carry (a barcode with a
'|') into `Refused` before anything is sent.

Privacy: patron identifiers and PINs never reach a log line; messages are
logged by command name only (see `Message.__repr__`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

from domain.experiments import category_of
from domain.model import (
    ACCOUNT_LIST_LIMIT,
    Account,
    Credential,
    Hold,
    Item,
    Loan,
    Outcome,
    Patron,
    ReasonCode,
    ReplayResult,
    ReplayStatus,
    Transaction,
    TransactionKind,
    listable,
    utcnow,
)
from domain.privacy import masked_email
from kiosk.backends.base import (
    BackendStatus,
    BackendUnavailable,
    MalformedReply,
    Refused,
    StackAnswer,
    answer_of,
    seam_guard,
)
from kiosk.backends.sip2.client import Sip2Client
from kiosk.backends.sip2.codec import Message, ProtocolError, make
from kiosk.backends.sip2.dates import format_sip_date, parse_due_date, parse_sip_date
from kiosk.backends.sip2.parallel import ConnectionPool, send_parallel
from kiosk.backends.sip2.readback import ON_LOAN_STATUSES, UNKNOWN_DUE, ReadBack, unknown_item
from kiosk.backends.sip2.reasons import block_from_status, reason_from_text
from kiosk.backends.sip2.settings import (
    SUMMARY_POSITIONS,
    HoldCounting,
    PatronPasswordMode,
    Sip2Settings,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
# 18 circulation status: what the kiosk cares about (on loan: see readback.ON_LOAN_STATUSES)
NOT_LOANABLE_STATUSES = frozenset({"02", "11", "12", "13"})
ON_HOLD_SHELF = "08"
HOLD_ALERT_TYPES = frozenset({"01", "02"})  # CV: hold for this / another library
_RECENT_LIMIT = 2000


class _BadInput(Refused):
    """Input the protocol cannot carry; never sent, never retried (REJECTED in a replay)."""


@seam_guard
class Sip2Backend:
    """CatalogBackend over SIP2. Thread-safe: the client serialises requests."""

    # The sync worker hands `replay` one transaction at a time, so each answer is journaled
    # before the next request goes out. SIP2 has no idempotency key: after a crash the kiosk
    # reads the library back to learn whether a transaction in doubt was applied, and that only
    # works for one transaction; with a whole batch in doubt, a loan and a later return of the
    # same item both applied look exactly like neither applied, and both would be sent again.
    replay_batch_limit = 1

    def __init__(self, settings: Sip2Settings, *, client: Sip2Client | None = None) -> None:
        self.settings = settings
        self._client = client if client is not None else Sip2Client(settings)
        self._pool = ConnectionPool(self._client, settings.connections,
                                    lambda: Sip2Client(settings))
        self._bound = threading.local()  # the connection this thread's stack item uses
        # tx_id -> (kind, patron_id) of what we sent, so a later VOID knows what to undo.
        self._recent: OrderedDict[str, tuple[TransactionKind, str | None]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._readback = ReadBack(self)

    # -- CatalogBackend -------------------------------------------------------

    def identify(self, credential: Credential, pin: str | None = None) -> Patron:
        patron_id = self.checked_id(credential.value.strip(), ReasonCode.INVALID_CARD, "card")
        send_pin = pin is not None and self.settings.patron_password is PatronPasswordMode.VERIFY
        if send_pin and not _carryable(pin or "", self.settings.codec_charset):
            raise _BadInput(ReasonCode.WRONG_PIN, "")
        if self._uses_patron_status():
            reply = self._call(make("23", {
                "language": self.settings.language, "transaction_date": self._date(utcnow()),
            }, [
                ("AO", self.settings.institution_id), ("AA", patron_id),
                ("AC", self._terminal_password(required=True)),
                ("AD", pin if send_pin else ""),
            ]))
        else:
            reply = self._patron_information(patron_id, summary=None,
                                             pin=pin if send_pin else None)
        return self._translate(lambda: self._patron_from(reply, patron_id, checked_pin=send_pin))

    def _uses_patron_status(self) -> bool:
        """63 (patron information) is preferred: it also gives loan counts and limits.
        Only a server that says (BX) it lacks 63 but has 23 gets a patron status request."""
        self._client.status()  # make sure we have the ACS's BX, from this connection
        acs = self._client.last_status
        return acs is not None and bool(acs.bx) and "63" not in acs.supported \
            and "23" in acs.supported

    def account(self, patron_id: str) -> Account:
        patron_id = self.checked_id(patron_id, ReasonCode.UNKNOWN_PATRON, "patron")
        charged_wanted = self.settings.summary_supported("charged")
        first = self._patron_information(patron_id, summary="charged" if charged_wanted else None)
        patron = self._translate(lambda: self._patron_from(first, patron_id, checked_pin=False))
        loans = tuple(self.loan(i) for i in listable(first.all("AU"))) \
            if charged_wanted else ()
        holds = self._holds(patron_id)
        fines = self._translate(lambda: _cents(first.get("BV")))
        return Account(patron=patron, loans=loans, holds=holds, fines_cents=fines)

    def item(self, item_id: str) -> Item:
        item_id = self.checked_id(item_id, ReasonCode.UNKNOWN_ITEM, "item")
        reply = self.item_information(item_id)
        if unknown_item(reply):
            raise Refused(ReasonCode.UNKNOWN_ITEM, reply.screen_message)
        status = reply.flag("circulation_status")
        return Item(
            item_id=reply.get("AB") or item_id,
            title=(reply.get("AJ") or "").strip(),
            loanable=status not in NOT_LOANABLE_STATUSES,
            on_loan=status in ON_LOAN_STATUSES,
            on_hold_for_other=status == ON_HOLD_SHELF,
        )

    def checkout(self, tx: Transaction) -> Outcome:
        return self._checkout(tx, no_block=False)

    def checkin(self, tx: Transaction) -> Outcome:
        return self._checkin(tx, no_block=False)

    def renew(self, tx: Transaction) -> Outcome:
        return self._renew(tx, no_block=False)

    def send_stack(self, txs: Sequence[Transaction]) -> Iterator[list[StackAnswer]]:
        """Over `[sip2] connections` logged-in connections at once (see parallel.py)."""
        yield from send_parallel(self._pool, txs, self._send_on)

    def _send_on(self, client: Sip2Client, tx: Transaction) -> StackAnswer:
        """One item of a stack on the connection `client`: its request and any read-back."""
        self._bound.client = client
        try:
            return answer_of(self, tx)
        finally:
            self._bound.client = None

    def replay(self, transactions: Sequence[Transaction]) -> list[ReplayResult]:
        """Send offline transactions in order, each with no-block and its original date.

        If the link fails part-way, the results so far are returned (a shorter
        list): those were applied or refused for certain, the rest were not
        answered and stay queued. With no result at all, BackendUnavailable is raised.
        """
        results: list[ReplayResult] = []
        for tx in transactions:
            try:
                results.append(self._replay_one(tx))
            except BackendUnavailable as exc:
                if not results:
                    raise
                log.warning("SIP2 replay stopped after %d of %d: %s",
                            len(results), len(transactions), exc)
                break
        return results

    def end_session(self, patron_id: str) -> None:
        patron_id = self.checked_id(patron_id, ReasonCode.UNKNOWN_PATRON, "patron")
        self._call(make("35", {"transaction_date": self._date(utcnow())}, [
            ("AO", self.settings.institution_id), ("AA", patron_id),
            ("AC", self._terminal_password(required=False)),
        ]))

    def heartbeat(self, status: Mapping[str, object]) -> BackendStatus:
        """99 SC status -> 98 ACS status. `status` may say "shutting_down" or
        "printer_out_of_paper" (truthy), which SIP2 can report to the ACS."""
        code = "2" if status.get("shutting_down") else (
            "1" if status.get("printer_out_of_paper") else "0")
        acs = self._client.status(refresh=True, status_code=code)
        return BackendStatus(
            online=acs.online,
            server_time=acs.server_time,
            checkout_ok=acs.checkout_ok,
            checkin_ok=acs.checkin_ok,
            offline_ok=acs.offline_ok,
            screen_message=acs.screen_message,
        )

    def close(self) -> None:
        self._pool.close()
        self._client.close()

    def __enter__(self) -> Sip2Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- circulation ----------------------------------------------------------

    def _checkout(self, tx: Transaction, *, no_block: bool,
                  patron_id: str | None = None) -> Outcome:
        pid = self.checked_id(patron_id or tx.patron_id or "", ReasonCode.UNKNOWN_PATRON,
                               "patron")
        item_id = self.checked_id(tx.item_id, ReasonCode.UNKNOWN_ITEM, "item")
        # Remembered before sending: a VOID matters most when the answer never came.
        self.remember(tx, TransactionKind.CHECKOUT, pid)
        reply = self._call(make("11", {
            "sc_renewal_policy": "N",
            "no_block": "Y" if no_block else "N",
            "transaction_date": self._date(tx.created_at),
            "nb_due_date": self._no_block_due(tx),
        }, [
            ("AO", self.settings.institution_id), ("AA", pid), ("AB", item_id),
            ("AC", self._terminal_password(required=True)),
        ]))
        if not reply.yes("ok"):
            raise Refused(reason_from_text(reply.screen_message), reply.screen_message)
        desensitize = reply.flag("desensitize") != "N"
        if not desensitize:
            log.warning("SIP2 checkout ok but the ACS says not to desensitize this item")
        return Outcome(
            ok=True, item_id=reply.get("AB") or item_id, title=(reply.get("AJ") or "").strip(),
            due=parse_due_date(reply.get("AH"), server_tz=self.settings.tz),
            screen_message=reply.screen_message, tx_id=tx.tx_id, offline=False,
            security_change=desensitize,
            # 12 says "renewal ok" when the item was already this patron's: renewed, not lent
            renewed=reply.flag("renewal_ok") == "Y",
        )

    def _checkin(self, tx: Transaction, *, no_block: bool) -> Outcome:
        item_id = self.checked_id(tx.item_id, ReasonCode.UNKNOWN_ITEM, "item")
        self.remember(tx, TransactionKind.CHECKIN, tx.patron_id)
        reply = self._call(make("09", {
            "no_block": "Y" if no_block else "N",
            "transaction_date": self._date(tx.created_at),
            "return_date": self._date(tx.created_at),
        }, [
            ("AP", self.settings.location_code), ("AO", self.settings.institution_id),
            ("AB", item_id), ("AC", self._terminal_password(required=True)),
        ]))
        if not reply.yes("ok"):
            reason = reason_from_text(reply.screen_message)
            if reason is not ReasonCode.NOT_ON_LOAN and self._readback.already_back(item_id):
                reason = ReasonCode.NOT_ON_LOAN  # what the refusal meant (replayed: done)
            raise Refused(reason, reply.screen_message)
        alert_type = reply.get("CV")
        if alert_type is not None:
            hold_shelf = alert_type in HOLD_ALERT_TYPES
        else:
            hold_shelf = reply.yes("alert") and "hold" in reply.screen_message.lower()
        return Outcome(
            ok=True, item_id=reply.get("AB") or item_id, title=(reply.get("AJ") or "").strip(),
            screen_message=reply.screen_message, hold_shelf=hold_shelf,
            sort_bin=(reply.get("CL") or "").strip(), tx_id=tx.tx_id,
            security_change=reply.flag("resensitize") != "N",
        )

    def _renew(self, tx: Transaction, *, no_block: bool) -> Outcome:
        pid = self.checked_id(tx.patron_id or "", ReasonCode.UNKNOWN_PATRON, "patron")
        item_id = self.checked_id(tx.item_id, ReasonCode.UNKNOWN_ITEM, "item")
        self.remember(tx, TransactionKind.RENEW, pid)
        reply = self._call(make("29", {
            "third_party_allowed": "N",
            "no_block": "Y" if no_block else "N",
            "transaction_date": self._date(tx.created_at),
            "nb_due_date": self._date(
                tx.created_at + timedelta(days=self.settings.no_block_due_days)),
        }, [
            ("AO", self.settings.institution_id), ("AA", pid), ("AB", item_id),
            ("AC", self._terminal_password(required=False)),
        ]))
        if not reply.yes("ok"):
            reason = reason_from_text(reply.screen_message)
            if reason is ReasonCode.REFUSED and not reply.yes("renewal_ok"):
                reason = ReasonCode.RENEW_LIMIT if "renew" in reply.screen_message.lower() \
                    else ReasonCode.REFUSED
            raise Refused(reason, reply.screen_message)
        return Outcome(
            ok=True, item_id=reply.get("AB") or item_id, title=(reply.get("AJ") or "").strip(),
            due=parse_due_date(reply.get("AH"), server_tz=self.settings.tz),
            screen_message=reply.screen_message, tx_id=tx.tx_id,
        )

    def _replay_one(self, tx: Transaction) -> ReplayResult:
        no_block = self.settings.no_block_replays
        try:
            if tx.kind is TransactionKind.VOID:
                return self._replay_void(tx, no_block=no_block)
            with _before_sending():
                earlier = self._readback.applied_before(tx)
            if earlier is not None:
                return ReplayResult(tx.tx_id, ReplayStatus.DONE, outcome=earlier,
                                    detail="applied by an earlier attempt whose answer was lost")
            outcome = self._send(tx.kind, tx, no_block=no_block)
        except _BadInput as exc:
            return ReplayResult(tx.tx_id, ReplayStatus.REJECTED, detail=str(exc))
        except Refused as exc:
            if tx.kind is TransactionKind.CHECKIN and exc.reason is ReasonCode.NOT_ON_LOAN:
                # The book is back, which is all a return wants (an earlier return whose answer
                # nobody saw, or the desk, got there first): nothing for staff to do.
                return ReplayResult(tx.tx_id, ReplayStatus.DONE, detail=(
                    f"the library had the item back already: {exc.message or exc.reason.value}"))
            return ReplayResult(tx.tx_id, ReplayStatus.CONFLICT,
                                detail=exc.message or exc.reason.value)
        return ReplayResult(tx.tx_id, ReplayStatus.DONE, outcome=outcome)

    def _replay_void(self, tx: Transaction, *, no_block: bool) -> ReplayResult:
        original = self._recent.get(tx.ref_tx_id or "")
        if original is None and tx.ref_kind is not None:  # after a restart: the journal knows
            original = (tx.ref_kind, tx.patron_id)
        if original is None:
            return ReplayResult(tx.tx_id, ReplayStatus.CONFLICT, detail=(
                "void: the transaction to undo was not sent through this connection, "
                "so SIP2 cannot tell whether it was a checkout or a checkin"))
        kind, patron_id = original
        patron_id = tx.patron_id or patron_id
        if kind is TransactionKind.RENEW:
            return self._readback.void_renewal(tx, patron_id)
        with _before_sending():
            shown = self._readback.shows_in_records(kind, patron_id, tx.item_id)
        if not shown:
            log.info("SIP2 replay: the %s voided by %s never reached the library; nothing sent",
                     kind.value, tx.tx_id[:8])
            return ReplayResult(tx.tx_id, ReplayStatus.DONE, detail=(
                f"void of a {kind.value} that never reached the library (or was undone already)"))
        if kind is TransactionKind.CHECKOUT:
            outcome = self._checkin(tx, no_block=no_block)
        else:
            outcome = self._checkout(tx, no_block=no_block, patron_id=patron_id)
        return ReplayResult(tx.tx_id, ReplayStatus.DONE, outcome=outcome)

    def _send(self, kind: TransactionKind, tx: Transaction, *, no_block: bool) -> Outcome:
        if kind is TransactionKind.CHECKOUT:
            return self._checkout(tx, no_block=no_block)
        if kind is TransactionKind.CHECKIN:
            return self._checkin(tx, no_block=no_block)
        return self._renew(tx, no_block=no_block)

    def remember(self, tx: Transaction, kind: TransactionKind, patron_id: str | None) -> None:
        if tx.kind is TransactionKind.VOID:
            return
        with self._recent_lock:
            self._recent[tx.tx_id] = (kind, patron_id)
            while len(self._recent) > _RECENT_LIMIT:
                self._recent.popitem(last=False)

    # -- account pieces -------------------------------------------------------

    def _patron_information(self, patron_id: str, *, summary: str | None,
                            pin: str | None = None) -> Message:
        flags = [" "] * 10
        if summary is not None:
            flags[SUMMARY_POSITIONS[summary]] = "Y"
        return self._call(make("63", {
            "language": self.settings.language,
            "transaction_date": self._date(utcnow()),
            "summary": "".join(flags),
        }, [
            ("AO", self.settings.institution_id), ("AA", patron_id),
            ("AC", self._terminal_password(required=False)), ("AD", pin),
            ("BP", "1" if summary else None), ("BQ", "999" if summary else None),
        ]))

    def _patron_from(self, reply: Message, asked_id: str, *, checked_pin: bool) -> Patron:
        screen = reply.screen_message
        valid = reply.get("BL")
        if valid is not None and valid.strip().upper() != "Y":
            raise Refused(ReasonCode.UNKNOWN_PATRON, screen)
        if valid is None and reason_from_text(screen) is ReasonCode.UNKNOWN_PATRON:
            raise Refused(ReasonCode.UNKNOWN_PATRON, screen)
        if checked_pin and (reply.get("CQ") or "N").strip().upper() != "Y":
            raise Refused(ReasonCode.WRONG_PIN, screen)
        block = block_from_status(reply.flag("patron_status"), screen)
        limit = reply.get("CB")
        return Patron(
            patron_id=(reply.get("AA") or asked_id).strip() or asked_id,
            name=(reply.get("AE") or "").strip(),
            blocked=block is not None,
            block_reason=block,
            loan_count=_count(reply.fixed.get("charged_items_count", "")),
            holds_ready=self._ready_count(reply),
            email_hint=masked_email(reply.get("BE") or ""),
            # PC, patron class: Koha's category code, Evergreen's profile; most others: none
            category=category_of(reply.get("PC")),
            loan_limit=int(limit) if limit and limit.strip().isdigit() and len(limit) < 7
            else None,
        )

    def email_of(self, patron_id: str) -> str | None:
        """BE (e-mail address) of a 64 patron information response."""
        patron_id = self.checked_id(patron_id, ReasonCode.UNKNOWN_PATRON, "patron")
        reply = self._patron_information(patron_id, summary=None)
        self._translate(lambda: self._patron_from(reply, patron_id, checked_pin=False))
        address = (reply.get("BE") or "").strip()
        return address if masked_email(address) else None

    def _ready_count(self, reply: Message) -> int:
        """Holds on the shelf, from 64's counts: the hold items are the ready ones on a
        server that lists only those, else all holds less the ones not yet available (a 24
        patron status carries no counts: 0, and the account screen tells)."""
        held = _count(reply.fixed.get("hold_items_count", ""))
        if self.settings.hold_counting is HoldCounting.READY_ONLY:
            return held
        return max(0, held - _count(reply.fixed.get("unavailable_holds_count", "")))

    def charged_items(self, patron_id: str) -> list[str]:
        """The items the library lists as charged to the patron now (63, charged summary)."""
        return self._patron_information(patron_id, summary="charged").all("AU")

    def loan(self, item_id: str) -> Loan:
        info = self._item_or_none(item_id)
        if info is None:  # e.g. Evergreen listing titles, not barcodes: show what we have
            return Loan(item_id=item_id, title=item_id, due=UNKNOWN_DUE)
        due = parse_due_date(info.get("AH"), server_tz=self.settings.tz)
        return Loan(item_id=item_id, title=(info.get("AJ") or "").strip(),
                    due=due if due is not None else UNKNOWN_DUE)

    def _holds(self, patron_id: str) -> tuple[Hold, ...]:
        s = self.settings
        holds: list[Hold] = []
        if s.summary_supported("hold"):
            listed = listable(self._patron_information(patron_id, summary="hold").all("AS"))
            for entry in listed:
                info = self._item_or_none(entry)
                if s.hold_counting is HoldCounting.READY_ONLY:
                    ready = True
                else:
                    ready = info is not None and info.flag("circulation_status") == ON_HOLD_SHELF
                holds.append(self._hold(entry, info, ready=ready))
        if s.hold_counting is HoldCounting.READY_ONLY and s.summary_supported("unavailable_holds"):
            waiting = listable(
                self._patron_information(patron_id, summary="unavailable_holds").all("CD"))
            holds.extend(self._hold(e, self._item_or_none(e), ready=False)
                         for e in waiting[:ACCOUNT_LIST_LIMIT - len(holds)])
        return tuple(holds)

    def _hold(self, entry: str, info: Message | None, *, ready: bool) -> Hold:
        title = (info.get("AJ") or "").strip() if info is not None else ""
        until = None
        if ready and info is not None and info.get("CM"):
            try:
                until = parse_sip_date(info.get("CM") or "", server_tz=self.settings.tz).date()
            except ProtocolError:
                until = None
        return Hold(item_id=entry, title=title or entry, ready=ready, pickup_until=until)

    def item_information(self, item_id: str) -> Message:
        return self._call(make("17", {"transaction_date": self._date(utcnow())}, [
            ("AO", self.settings.institution_id), ("AB", item_id),
            ("AC", self._terminal_password(required=False)),
        ]))

    def _item_or_none(self, entry: str) -> Message | None:
        """17 for an id listed in a 64; None when the entry is not an item we can look up
        (some servers list titles there) rather than failing the whole account."""
        if not _carryable(entry, self.settings.codec_charset) or not entry.strip():
            return None
        reply = self.item_information(entry.strip())
        return None if unknown_item(reply) else reply

    # -- plumbing -------------------------------------------------------------

    def _call(self, message: Message) -> Message:
        client = getattr(self._bound, "client", None) or self._client
        try:
            return client.request(message)
        except ProtocolError as exc:  # a reply the client accepted but we cannot use
            raise MalformedReply(f"SIP2: {exc}") from None

    def _translate(self, build: Callable[[], T]) -> T:
        """Run a reply-to-domain mapping; a malformed value becomes MalformedReply."""
        try:
            return build()
        except (ProtocolError, ValueError, ArithmeticError) as exc:
            raise MalformedReply(f"SIP2 reply not understood: {exc}") from None

    def _no_block_due(self, tx: Transaction) -> str:
        """The due date of a loan the library did not see made: the one the kiosk promised
        the patron offline (at the library's closing of that day), else the configured
        period from when it was made."""
        if tx.promised_due is not None:
            return self._date(datetime.combine(tx.promised_due, time(23, 59),
                                               tzinfo=self.settings.tz))
        return self._date(tx.created_at + timedelta(days=self.settings.no_block_due_days))

    def _date(self, moment: datetime) -> str:
        return format_sip_date(moment, server_tz=self.settings.tz,
                               utc=self.settings.send_utc_dates)

    def _terminal_password(self, *, required: bool) -> str | None:
        if self.settings.send_terminal_password:
            return self.settings.terminal_password
        return "" if required else None

    def checked_id(self, value: str, reason: ReasonCode, what: str) -> str:
        if not value or not _carryable(value, self.settings.codec_charset):
            raise _BadInput(reason, f"this {what} number cannot be used")
        return value


@contextlib.contextmanager
def _before_sending() -> Iterator[None]:
    """A read-back before a replay: an outage here comes before the transaction was sent, so
    the transaction itself cannot have reached the library (see BackendUnavailable.reached)."""
    try:
        yield
    except BackendUnavailable as exc:
        exc.reached = False
        raise


def _carryable(value: str, charset: str) -> bool:
    if any(ch in value for ch in "|\r\n\0"):
        return False
    try:
        return len(value.encode(charset)) <= 255
    except UnicodeEncodeError:
        return False


def _count(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


_AMOUNT = re.compile(r"[+-]?[0-9]{1,9}(?:[.,][0-9]{0,4})?")


def _cents(amount: str | None) -> int:
    """BV is a decimal amount ("12.50", "0", "-2.00" for a credit); credits owe nothing.

    Up to 999,999,999.9999 in plain digits: an exponent ("1E999990" is a number to Decimal and
    half a minute of CPU to scale) or a longer figure is not a library fine but a protocol
    error."""
    if amount is None or not amount.strip():
        return 0
    cleaned = amount.strip()
    if not _AMOUNT.fullmatch(cleaned):
        raise ProtocolError(f"fee amount {cleaned[:20]!r} is not a plain decimal amount")
    value = Decimal(cleaned.replace(",", "."))
    return max(0, int((value * 100).to_integral_value()))
