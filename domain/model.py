"""Domain types shared by every layer: plain dataclasses, no I/O.

They are the vocabulary between the session state machine, the circulation
service, the journal and every backend (REST or SIP2), so they carry only what
a librarian would recognise: patrons, items, loans and transactions.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


class ReasonCode(enum.StrEnum):
    """Why something happened; the UI maps each code to a translated sentence."""

    OK = "ok"
    UNKNOWN_PATRON = "unknown_patron"
    PIN_REQUIRED = "pin_required"
    WRONG_PIN = "wrong_pin"
    BLOCKED = "blocked"
    CARD_EXPIRED = "card_expired"
    FINES_TOO_HIGH = "fines_too_high"
    TOO_MANY_ITEMS = "too_many_items"
    UNKNOWN_ITEM = "unknown_item"
    NOT_FOR_LOAN = "not_for_loan"
    ON_HOLD_FOR_OTHER = "on_hold_for_other"
    ALREADY_ON_LOAN = "already_on_loan"
    NOT_ON_LOAN = "not_on_loan"
    RENEW_LIMIT = "renew_limit"
    INCOMPLETE_SET = "incomplete_set"
    FOREIGN_ITEM = "foreign_item"
    OFFLINE_NOT_ALLOWED = "offline_not_allowed"
    OFFLINE_LIMIT = "offline_limit"
    PATRON_NOT_VERIFIED = "patron_not_verified"
    INVALID_CARD = "invalid_card"
    JOURNAL_FULL = "journal_full"
    SECURITY_FAILED = "security_failed"
    REFUSED = "refused"


class CredentialKind(enum.StrEnum):
    """How the patron identified: printed barcode, RFID/NFC card UID, or Belgian eID."""

    BARCODE = "barcode"
    CARD_UID = "card_uid"
    EID = "eid"


class TransactionKind(enum.StrEnum):
    CHECKOUT = "checkout"
    CHECKIN = "checkin"
    RENEW = "renew"
    # Cancels `ref_tx_id`: sent after a crash for a transaction whose outcome the
    # patron never saw (the server may or may not have applied it).
    VOID = "void"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Credential:
    """What the patron presented. `value` is an identifier: never log it in clear."""

    kind: CredentialKind
    value: str

    def __repr__(self) -> str:  # keep identifiers out of logs and tracebacks
        return f"Credential(kind={self.kind.value}, value=<{len(self.value)} chars>)"


@dataclass(frozen=True, slots=True)
class Patron:
    patron_id: str
    name: str = ""
    blocked: bool = False
    block_reason: ReasonCode | None = None
    loan_count: int = 0
    loan_limit: int | None = None
    holds_ready: int = 0  # holds waiting for this patron to pick up (told at identification)
    email_hint: str = ""  # "m•••@example.org": the library has an address for receipts
    category: str = ""  # the library's patron category (adult, child ...): messages aim at it

    def __repr__(self) -> str:
        return f"Patron(id=<masked>, blocked={self.blocked}, loans={self.loan_count})"


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    title: str = ""
    author: str = ""
    loanable: bool = True
    on_loan: bool = False
    on_hold_for_other: bool = False
    parts: int = 1


@dataclass(frozen=True, slots=True)
class Loan:
    item_id: str
    title: str
    due: date
    renewals: int = 0

    def overdue(self, today: date) -> bool:
        return self.due < today


@dataclass(frozen=True, slots=True)
class Hold:
    item_id: str
    title: str
    ready: bool
    pickup_until: date | None = None
    pickup_place: str = ""  # where to collect it, in the library's words ("" = not said)


# The most loans or holds an account shows (and a backend fetches details for): a patron with
# more sees the first ones and is asked to go to the desk; a server listing thousands cannot
# make the kiosk look each one up.
ACCOUNT_LIST_LIMIT = 100


def listable(ids: list[str]) -> list[str]:
    """Identifiers for an account list: blanks dropped, each once, at most ACCOUNT_LIST_LIMIT."""
    seen: dict[str, None] = {}
    for raw in ids:
        value = raw.strip()
        if value and value not in seen:
            seen[value] = None
            if len(seen) >= ACCOUNT_LIST_LIMIT:
                break
    return list(seen)


@dataclass(frozen=True, slots=True)
class Account:
    patron: Patron
    loans: tuple[Loan, ...] = ()
    holds: tuple[Hold, ...] = ()
    fines_cents: int = 0


@dataclass(frozen=True, slots=True)
class Transaction:
    """One circulation act. The UUID is the idempotency key end to end.

    `created_at` is when the patron did it at the kiosk; offline replays carry it
    so the central side dates the loan correctly.
    """

    kind: TransactionKind
    patron_id: str | None
    item_id: str
    tx_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: datetime = field(default_factory=utcnow)
    offline: bool = False
    kiosk_id: str = ""
    ref_tx_id: str | None = None
    # for a VOID: what the voided transaction did, so protocols without undo-by-id (SIP2)
    # can send the inverse act even after a restart
    ref_kind: TransactionKind | None = None
    # sent before without a definite answer (the line dropped mid-exchange): the server may
    # already have applied it. REST dedupes by tx_id; SIP2 has no such key, so its backend
    # looks before sending again (a second checkout is a renewal on most library systems)
    maybe_applied: bool = False
    # for a RENEW (and the VOID of one): the due date the patron saw before renewing. SIP2 can
    # read a renewal back only through the item's due date (17 -> 18 AH), which moves later when
    # the renewal was applied; None when the kiosk did not know it
    due_before: date | None = None
    # for an offline CHECKOUT: the due date the offline policy promised the patron; it is
    # forwarded with the loan (REST "due", SIP2's no-block due date) so that the library's
    # record says what the patron was told. None when online or not known
    promised_due: date | None = None

    def __repr__(self) -> str:
        return (
            f"Transaction({self.kind.value}, tx={self.tx_id[:8]}, offline={self.offline})"
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer for one transaction, online or offline, as the patron will see it."""

    ok: bool
    reason: ReasonCode = ReasonCode.OK
    item_id: str = ""
    title: str = ""
    due: date | None = None
    offline: bool = False
    screen_message: str = ""
    hold_shelf: bool = False
    sort_bin: str = ""
    tx_id: str = ""
    secure_failed: bool = False
    # the server may say "do not (de)sensitize" (SIP2 desensitize/resensitize = N)
    security_change: bool = True
    # a checkout of an item the patron already had: the library renewed it instead (the patron
    # is told so, with the new due date, not "borrowed")
    renewed: bool = False


# ---- what the central side answers to a replayed (offline) transaction

class ReplayStatus(enum.StrEnum):
    DONE = "done"  # applied (or already applied: same UUID)
    CONFLICT = "conflict"  # could not be applied as-is; staff must look at it
    REJECTED = "rejected"  # invalid (unknown patron/item ...); never retried


@dataclass(frozen=True, slots=True)
class ReplayResult:
    tx_id: str
    status: ReplayStatus
    outcome: Outcome | None = None
    detail: str = ""
