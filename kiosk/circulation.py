"""Borrow, return and renew: online first, the offline policy second, the journal always.

Why this shape: the patron must get an answer in any weather, and the library must get every loan
exactly once. So each transaction is journaled *before* it is sent (state `inflight`), sent with
its UUID, and settled from the answer. When the central side cannot answer, the offline policy
decides whether the kiosk may promise the loan on its own; if so the journaled transaction turns
`pending` and the sync worker forwards it later. Every answer carries a `ReasonCode` the UI
translates; nothing here knows about screens or hardware.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from domain.model import (
    Account,
    Credential,
    Outcome,
    Patron,
    ReasonCode,
    Transaction,
    TransactionKind,
    utcnow,
)
from kiosk.backends.base import (
    BackendUnavailable,
    CatalogBackend,
    Refused,
    patron_wait,
    unexpected,
)
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal, JournalError, State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfflinePolicy:
    """What the kiosk may do on its own while the central side is unreachable.

    Returns are always accepted: refusing a book at the kiosk only sends it home again.
    """

    allow_checkout: bool = True
    max_items_per_patron: int = 5
    # "cache": the card must have been seen valid online within `cache_days`;
    # "format": any card whose identifier matches `card_pattern` may borrow.
    patron_check: str = "cache"
    cache_days: int = 14
    card_pattern: str = r"^\S{4,40}$"
    allow_renew: bool = False


@dataclass(frozen=True, slots=True)
class IdentifyResult:
    patron: Patron | None
    reason: ReasonCode = ReasonCode.OK
    offline: bool = False


class CirculationService:
    def __init__(
        self,
        backend: CatalogBackend,
        journal: Journal,
        *,
        policy: OfflinePolicy | None = None,
        connectivity: Connectivity,
        kiosk_id: str = "",
        flush: Callable[[], bool] | None = None,
        patron_wait_s: float | None = 5.0,
    ) -> None:
        self._backend = backend
        # the longest a patron waits for one action (identify, account, one item) before the
        # offline policy answers instead; see kiosk.backends.base.patron_wait
        self._wait_s = patron_wait_s
        self._flush = flush
        self._journal = journal
        self._policy = policy or OfflinePolicy()
        self._card_re = re.compile(self._policy.card_pattern)
        self.connectivity = connectivity
        self._kiosk_id = kiosk_id

    @property
    def online(self) -> bool:
        return self.connectivity.online

    # ---- identify -----------------------------------------------------------------------------

    def identify(self, credential: Credential, pin: str | None = None) -> IdentifyResult:
        if self.connectivity.should_try_online():
            try:
                with patron_wait(self._wait_s):
                    patron = self._backend.identify(credential, pin)
            except Refused as refusal:
                return IdentifyResult(None, refusal.reason)
            except BackendUnavailable as exc:
                self.connectivity.report(False, str(exc))
            else:
                self.connectivity.report(True)
                self._journal.remember_patron(credential, patron.patron_id, patron.blocked,
                                              patron.block_reason)
                return IdentifyResult(patron, ReasonCode.OK)
        return self._identify_offline(credential)

    def _identify_offline(self, credential: Credential) -> IdentifyResult:
        cached = self._journal.cached_patron(credential)
        if cached is not None and utcnow() - cached.verified_at <= timedelta(
            days=self._policy.cache_days
        ):
            patron = Patron(patron_id=cached.patron_id, blocked=cached.blocked,
                            block_reason=(cached.block_reason or ReasonCode.BLOCKED)
                            if cached.blocked else None)
            return IdentifyResult(patron, ReasonCode.OK, offline=True)
        if self._policy.patron_check == "format" and self._card_re.match(credential.value):
            # the server resolves the card when the loan is replayed
            patron = Patron(patron_id=f"{credential.kind.value}:{credential.value}")
            return IdentifyResult(patron, ReasonCode.OK, offline=True)
        if cached is None and self._policy.patron_check == "format":
            return IdentifyResult(None, ReasonCode.INVALID_CARD, offline=True)
        return IdentifyResult(None, ReasonCode.PATRON_NOT_VERIFIED, offline=True)

    def account(self, patron: Patron) -> Account | None:
        """The patron's account, or None while offline (the UI says it cannot be shown now)."""
        if not self.connectivity.should_try_online():
            return None
        try:
            with patron_wait(self._wait_s):
                account = self._backend.account(patron.patron_id)
        except (BackendUnavailable, Refused) as exc:
            if isinstance(exc, BackendUnavailable):
                self.connectivity.report(False, str(exc))
            return None
        self.connectivity.report(True)
        return account

    def end_session(self, patron: Patron) -> None:
        if not self.connectivity.online:
            return
        try:
            with patron_wait(self._wait_s):
                self._backend.end_session(patron.patron_id)
        except (BackendUnavailable, Refused) as exc:
            log.info("end of session not acknowledged: %s", type(exc).__name__)

    # ---- transactions -------------------------------------------------------------------------

    def checkout(self, patron: Patron, item_id: str) -> Outcome:
        return self._transact(TransactionKind.CHECKOUT, patron, item_id)

    def checkin(self, item_id: str, patron: Patron | None = None) -> Outcome:
        return self._transact(TransactionKind.CHECKIN, patron, item_id)

    def renew(self, patron: Patron, item_id: str, *, due_before: date | None = None) -> Outcome:
        """Renew one loan. `due_before` is the due date the patron was shown: it travels with
        the transaction so a backend without idempotency keys (SIP2) can tell, when an answer was
        lost, whether the renewal reached the library (the due date moved) before sending it
        again or before asking staff to undo it."""
        return self._transact(TransactionKind.RENEW, patron, item_id, due_before=due_before)

    def _transact(self, kind: TransactionKind, patron: Patron | None, item_id: str, *,
                  due_before: date | None = None) -> Outcome:
        tx = Transaction(kind=kind, patron_id=patron.patron_id if patron else None,
                         item_id=item_id, kiosk_id=self._kiosk_id, due_before=due_before)
        with patron_wait(self._wait_s):
            if (not self.connectivity.should_try_online() or self._journal.held(item_id)
                    or not self._queue_flushed()):
                return self._offline(tx, patron, journaled=False)
            try:
                self._journal.record(tx, State.INFLIGHT)
            except JournalError as exc:
                # Every transaction is journaled before it is sent: without the row, a lost
                # answer would leave a loan nobody knows about and no VOID to undo it.
                log.error("journal cannot take an online transaction; refused before sending: %s",
                          exc)
                return Outcome(ok=False, reason=ReasonCode.JOURNAL_FULL, item_id=item_id,
                               tx_id=tx.tx_id)
            try:
                return self._send(tx, patron)
            except Exception as exc:
                # Whatever went wrong (a bug, a journal error after the server answered), the
                # server may have applied it and the patron hears "no": a VOID settles it in
                # the next sync round. Should even that write fail, the row stays inflight and
                # the sync worker voids it as an orphan (Journal.void_orphans).
                unexpected(f"circulation {kind.value}", exc)
                self._cancel_unknown(tx)
                return Outcome(ok=False, reason=ReasonCode.REFUSED, item_id=item_id,
                               tx_id=tx.tx_id)
            finally:
                self._journal.release(tx.tx_id)

    def _send(self, tx: Transaction, patron: Patron | None) -> Outcome:
        send = {
            TransactionKind.CHECKOUT: self._backend.checkout,
            TransactionKind.CHECKIN: self._backend.checkin,
            TransactionKind.RENEW: self._backend.renew,
        }[tx.kind]
        try:
            outcome = send(tx)
        except Refused as refusal:
            self._journal.abandon(tx.tx_id)
            self.connectivity.report(True)
            return Outcome(ok=False, reason=refusal.reason, item_id=tx.item_id, tx_id=tx.tx_id,
                           screen_message=refusal.message, title=refusal.title)
        except BackendUnavailable as exc:
            self.connectivity.report(False, str(exc))
            return self._offline(tx, patron, journaled=True)
        self.connectivity.report(True)
        if outcome.tx_id != tx.tx_id:
            outcome = dataclasses.replace(outcome, tx_id=tx.tx_id)
        try:
            self._journal.settle(tx.tx_id, outcome)
        except JournalError as exc:  # the server has it; the stale inflight row is voided later
            log.error("could not settle a confirmed transaction: %s", exc)
        return outcome

    def _queue_flushed(self) -> bool:
        """Queued transactions go first, so the server sees everything in the patron's order."""
        if self._flush is None or self._journal.pending_count() == 0:
            return True
        return self._flush()

    def _offline(self, tx: Transaction, patron: Patron | None, *, journaled: bool) -> Outcome:
        refusal = self._offline_refusal(tx, patron)
        if refusal is not None:
            if journaled:
                self._cancel_unknown(tx)
            return Outcome(ok=False, reason=refusal, item_id=tx.item_id, offline=True)
        try:
            if journaled:
                tx = self._journal.go_offline(tx)
            else:
                tx = dataclasses.replace(tx, offline=True)
                self._journal.record(tx, State.PENDING)
        except JournalError as exc:
            log.error("journal refused an offline transaction: %s", exc)
            if journaled:
                self._cancel_unknown(tx)
            return Outcome(ok=False, reason=ReasonCode.JOURNAL_FULL, item_id=tx.item_id,
                           offline=True)
        return Outcome(ok=True, reason=ReasonCode.OK, item_id=tx.item_id, offline=True,
                       tx_id=tx.tx_id)

    def _cancel_unknown(self, tx: Transaction) -> None:
        """The server may have applied `tx` before the line dropped, yet the patron hears "no":
        a VOID with the same UUID makes sure the library's records agree with the patron."""
        try:
            self._journal.void_inflight(tx.tx_id)
        except JournalError as exc:  # still inflight: voided at the next start
            log.error("could not void an unanswered transaction yet: %s", exc)

    def _offline_refusal(self, tx: Transaction, patron: Patron | None) -> ReasonCode | None:
        if tx.kind == TransactionKind.CHECKIN:
            return None
        if tx.kind == TransactionKind.RENEW and not self._policy.allow_renew:
            return ReasonCode.OFFLINE_NOT_ALLOWED
        if not self._policy.allow_checkout or patron is None:
            return ReasonCode.OFFLINE_NOT_ALLOWED
        if patron.blocked:
            return patron.block_reason or ReasonCode.BLOCKED
        if tx.kind == TransactionKind.CHECKOUT and (
            self._journal.offline_checkouts(patron.patron_id) >= self._policy.max_items_per_patron
        ):
            return ReasonCode.OFFLINE_LIMIT
        return None
