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
from collections.abc import Callable, Mapping, Sequence
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
from domain.opening import ALWAYS_OPEN, OpenDays
from kiosk.backends.base import (
    BackendUnavailable,
    CatalogBackend,
    Refused,
    StackAnswer,
    extend_wait,
    patron_wait,
    unexpected,
)
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal, JournalError, Settle, Settlement, State

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
    # the loan period the kiosk promises while offline (the library's usual one); the due
    # date moves to the next opening day, and travels with the loan to the library
    loan_days: int = 21


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
        open_days: OpenDays = ALWAYS_OPEN,
        today: Callable[[], date] = date.today,
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
        self._open_days = open_days
        self._today = today
        # titles the library named during this visit: written when the patron has gone
        # (`visit_over`), so no patron waits for a cache
        self._titles_seen: dict[str, str] = {}

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
        self._titles_seen.update({loan.item_id: loan.title for loan in account.loans
                                  if loan.title and loan.title != loan.item_id})
        return self._on_opening_days(account)

    def _on_opening_days(self, account: Account) -> Account:
        """A hold's last pick-up day on a day the library is closed moves to its next opening
        day: the patron is never told to come when the doors are shut."""
        holds = tuple(
            dataclasses.replace(h, pickup_until=self._open_days.on_or_after(h.pickup_until))
            if h.pickup_until is not None else h for h in account.holds)
        return dataclasses.replace(account, holds=holds) if holds != account.holds else account

    def visit_over(self) -> None:
        """The patron has left: keep the titles seen, for the items' next offline visit."""
        titles, self._titles_seen = self._titles_seen, {}
        self._journal.remember_titles(titles)

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
        return self.transact_stack(TransactionKind.CHECKOUT, patron, [StackItem(item_id)])[0]

    def checkin(self, item_id: str, patron: Patron | None = None) -> Outcome:
        return self.transact_stack(TransactionKind.CHECKIN, patron, [StackItem(item_id)])[0]

    def renew(self, patron: Patron, item_id: str, *, due_before: date | None = None) -> Outcome:
        """Renew one loan. `due_before` is the due date the patron was shown: it travels with
        the transaction so a backend without idempotency keys (SIP2) can tell, when an answer was
        lost, whether the renewal reached the library (the due date moved) before sending it
        again or before asking staff to undo it."""
        return self.transact_stack(TransactionKind.RENEW, patron,
                                   [StackItem(item_id, due_before)])[0]

    def transact_stack(self, kind: TransactionKind, patron: Patron | None,
                       items: Sequence[StackItem], *,
                       on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Borrow, return or renew the items a patron put down together; one item is a stack
        of one. Their intents are journaled in one commit, sent together (one request over
        REST, overlapping connections over SIP2), and each answer batch settled in one commit
        before the patron hears it: `on_outcome` gets each item as it is settled, the list
        comes back in the items' order. The patron's wait is bounded per answer, so a stack
        that keeps answering is never cut off, and a stalled server ends it by the deadline."""
        txs = [Transaction(kind=kind, patron_id=patron.patron_id if patron else None,
                           item_id=item.item_id, kiosk_id=self._kiosk_id,
                           due_before=item.due_before) for item in items]
        told = _Told(txs, on_outcome, self._journal.titles_of([tx.item_id for tx in txs]))
        with patron_wait(self._wait_s):
            if not self.connectivity.should_try_online() or not self._queue_flushed():
                self._offline_all(txs, patron, told)
            else:
                held = {tx.tx_id for tx in txs if self._journal.held(tx.item_id)}
                self._offline_all([tx for tx in txs if tx.tx_id in held], patron, told)
                self._online([tx for tx in txs if tx.tx_id not in held], patron, told)
        self._titles_seen.update(told.new_titles())
        return told.in_order()

    def _online(self, txs: list[Transaction], patron: Patron | None, told: _Told) -> None:
        if not txs:
            return
        try:
            self._journal.record_many(txs, State.INFLIGHT)
        except JournalError as exc:
            # Every transaction is journaled before it is sent: without the row, a lost
            # answer would leave a loan nobody knows about and no VOID to undo it.
            log.error("journal cannot take an online transaction; refused before sending: %s",
                      exc)
            for tx in txs:
                told(tx, Outcome(ok=False, reason=ReasonCode.JOURNAL_FULL, item_id=tx.item_id,
                                 tx_id=tx.tx_id))
            return
        try:
            for answers in self._backend.send_stack(txs):
                extend_wait()  # the patron sees progress
                self._settle(answers, patron, told)
        except Exception as exc:
            # Whatever went wrong (a bug, a journal error after the server answered), the
            # server may have applied what is not settled yet and the patron hears "no": a
            # VOID settles each in the next sync round. Should even that write fail, the rows
            # stay inflight and the sync worker voids them as orphans (Journal.void_orphans).
            unexpected(f"circulation {txs[0].kind.value}", exc)
            for tx in told.missing(txs):
                self._cancel_unknown(tx)
                told(tx, Outcome(ok=False, reason=ReasonCode.REFUSED, item_id=tx.item_id,
                                 tx_id=tx.tx_id))
        finally:
            for tx in txs:
                self._journal.release(tx.tx_id)

    def _settle(self, answers: Sequence[StackAnswer], patron: Patron | None,
                told: _Told) -> None:
        """One batch of answers: decided, committed together, then told."""
        settled: list[tuple[Settlement, Transaction, Outcome]] = []
        offline_here = 0
        for tx, answer in answers:
            if told.has(tx) or any(t.tx_id == tx.tx_id for _, t, _ in settled):
                continue  # a backend answering twice must not settle twice
            if isinstance(answer, BackendUnavailable):
                self.connectivity.report(False, str(answer))
                refusal = self._offline_refusal(tx, patron, counted=offline_here)
                if refusal is None:
                    offline_here += tx.kind is TransactionKind.CHECKOUT
                    ok = self._offline_ok(tx)
                    settled.append((Settlement(tx.tx_id, Settle.OFFLINE, ok,
                                               reached=answer.reached), tx, ok))
                else:
                    # a request that may have reached the library needs a VOID to undo it;
                    # one that cannot have is simply dropped
                    how = Settle.VOID if answer.reached else Settle.REFUSED
                    settled.append((Settlement(tx.tx_id, how), tx, Outcome(
                        ok=False, reason=refusal, item_id=tx.item_id, offline=True)))
                continue
            self.connectivity.report(True)
            if isinstance(answer, Refused):
                settled.append((Settlement(tx.tx_id, Settle.REFUSED), tx, Outcome(
                    ok=False, reason=answer.reason, item_id=tx.item_id, tx_id=tx.tx_id,
                    screen_message=answer.message, title=answer.title)))
            else:
                outcome = answer if answer.tx_id == tx.tx_id else dataclasses.replace(
                    answer, tx_id=tx.tx_id)
                settled.append((Settlement(tx.tx_id, Settle.DONE, outcome), tx, outcome))
        try:
            self._journal.settle_many([s for s, _, _ in settled])
        except JournalError as exc:
            log.error("could not settle a batch of answers: %s", exc)
            settled = [self._unsettled(*entry) for entry in settled]
        for _, tx, outcome in settled:
            told(tx, outcome)

    def _unsettled(self, settlement: Settlement, tx: Transaction,
                   outcome: Outcome) -> tuple[Settlement, Transaction, Outcome]:
        """The batch's commit failed. An answer the server gave stands (the journal writes it
        again later, see Journal.settle_many); an offline promise without its row is not made."""
        if settlement.how is Settle.OFFLINE:
            self._cancel_unknown(tx)
            outcome = Outcome(ok=False, reason=ReasonCode.JOURNAL_FULL, item_id=tx.item_id,
                              offline=True)
        return settlement, tx, outcome

    def _queue_flushed(self) -> bool:
        """Queued transactions go first, so the server sees everything in the patron's order."""
        if self._flush is None or self._journal.pending_count() == 0:
            return True
        return self._flush()

    def _offline_all(self, txs: Sequence[Transaction], patron: Patron | None,
                     told: _Told) -> None:
        """No online attempt (offline, or held behind a quarantined row): the offline policy
        decides each, and the accepted ones are journaled pending in one commit."""
        accepted: list[Transaction] = []
        refused: list[tuple[Transaction, ReasonCode]] = []
        for tx in txs:
            refusal = self._offline_refusal(
                tx, patron, counted=sum(t.kind is TransactionKind.CHECKOUT for t in accepted))
            if refusal is None:
                accepted.append(dataclasses.replace(tx, offline=True,
                                                    promised_due=self._offline_due(tx)))
            else:
                refused.append((tx, refusal))
        try:
            self._journal.record_many(accepted, State.PENDING)
            reason = ReasonCode.OK
        except JournalError as exc:
            log.error("journal refused an offline transaction: %s", exc)
            reason = ReasonCode.JOURNAL_FULL
        for tx in accepted:
            if reason is ReasonCode.OK:
                told(tx, self._offline_ok(tx))
            else:
                told(tx, Outcome(ok=False, reason=reason, item_id=tx.item_id, offline=True))
        for tx, refusal in refused:
            told(tx, Outcome(ok=False, reason=refusal, item_id=tx.item_id, offline=True))

    def _cancel_unknown(self, tx: Transaction) -> None:
        """The server may have applied `tx` before the line dropped, yet the patron hears "no":
        a VOID with the same UUID makes sure the library's records agree with the patron."""
        try:
            self._journal.void_inflight(tx.tx_id)
        except JournalError as exc:  # still inflight: voided at the next start
            log.error("could not void an unanswered transaction yet: %s", exc)

    def _offline_due(self, tx: Transaction) -> date | None:
        """What the offline policy promises a loan: its loan period, on an opening day."""
        if tx.kind is not TransactionKind.CHECKOUT:
            return None
        return self._open_days.on_or_after(self._today() + timedelta(days=self._policy.loan_days))

    def _offline_ok(self, tx: Transaction) -> Outcome:
        return Outcome(ok=True, reason=ReasonCode.OK, item_id=tx.item_id, offline=True,
                       tx_id=tx.tx_id, due=tx.promised_due or self._offline_due(tx))

    def _offline_refusal(self, tx: Transaction, patron: Patron | None, *,
                         counted: int = 0) -> ReasonCode | None:
        """`counted`: offline loans of this stack decided but not journaled yet."""
        if tx.kind == TransactionKind.CHECKIN:
            return None
        if tx.kind == TransactionKind.RENEW and not self._policy.allow_renew:
            return ReasonCode.OFFLINE_NOT_ALLOWED
        if not self._policy.allow_checkout or patron is None:
            return ReasonCode.OFFLINE_NOT_ALLOWED
        if patron.blocked:
            return patron.block_reason or ReasonCode.BLOCKED
        if tx.kind == TransactionKind.CHECKOUT and (
            self._journal.offline_checkouts(patron.patron_id) + counted
            >= self._policy.max_items_per_patron
        ):
            return ReasonCode.OFFLINE_LIMIT
        return None


@dataclass(frozen=True, slots=True)
class StackItem:
    """One item of a stack; `due_before` is the due date the patron saw (renewals)."""

    item_id: str
    due_before: date | None = None


class _Told:
    """The outcomes a patron has been told so far, by transaction, each exactly once; an
    outcome without a title gets the one the kiosk saw online before (`known` titles)."""

    def __init__(self, txs: Sequence[Transaction],
                 on_outcome: Callable[[Outcome], None] | None,
                 known: Mapping[str, str] | None = None) -> None:
        self._order = [tx.tx_id for tx in txs]
        self._by_tx: dict[str, Outcome] = {}
        self._on_outcome = on_outcome
        self._known = dict(known or {})
        self._new: dict[str, str] = {}

    def __call__(self, tx: Transaction, outcome: Outcome) -> None:
        if tx.tx_id in self._by_tx:
            return
        if outcome.title and outcome.title != self._known.get(outcome.item_id):
            self._new[outcome.item_id] = outcome.title
        elif not outcome.title and outcome.item_id in self._known:
            outcome = dataclasses.replace(outcome, title=self._known[outcome.item_id])
        self._by_tx[tx.tx_id] = outcome
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def has(self, tx: Transaction) -> bool:
        return tx.tx_id in self._by_tx

    def missing(self, txs: Sequence[Transaction]) -> list[Transaction]:
        return [tx for tx in txs if tx.tx_id not in self._by_tx]

    def new_titles(self) -> dict[str, str]:
        return self._new

    def in_order(self) -> list[Outcome]:
        return [self._by_tx[tx_id] for tx_id in self._order if tx_id in self._by_tx]


