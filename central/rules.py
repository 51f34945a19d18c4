"""Circulation rules: pure decisions over rows, no I/O.

Why pure: the rules are what a library argues about (how long a loan lasts, when fines block,
what an offline loan may override), so they must be readable in one place and testable without a
database. `central/service.py` loads the rows, asks these functions, and applies the answer.

Online rules refuse with a ReasonCode the kiosk translates. Offline replay rules follow Koha's
offline circulation: the item already left the building, so limits and blocks do not undo the
loan (they are noted for staff), but a loan that contradicts what the library did *after* the
kiosk went offline is a conflict for staff to judge.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from domain.model import ReasonCode


@dataclass(frozen=True, slots=True)
class Rules:
    """The library's circulation settings (the `settings` table)."""

    loan_period_days: int = 21
    max_renewals: int = 3
    loan_limit: int = 10
    fine_block_cents: int = 1000
    hold_pickup_days: int = 7
    require_pin: bool = False


@dataclass(frozen=True, slots=True)
class PatronRow:
    patron_id: str
    name: str
    blocked: bool = False
    block_note: str = ""
    loan_limit: int | None = None
    fines_cents: int = 0
    loan_count: int = 0
    card_expired: bool = False  # on the library's day the row was read
    holds_ready: int = 0  # holds waiting on the shelf for this patron
    email: str = field(default="", repr=False)  # receipts go here; only `contact` returns it
    category: str = ""  # the library's patron category (adult, child, school ...)


@dataclass(frozen=True, slots=True)
class ItemRow:
    item_id: str
    title: str
    author: str = ""
    loanable: bool = True
    parts: int = 1
    collection: str = "A"


@dataclass(frozen=True, slots=True)
class LoanRow:
    item_id: str
    patron_id: str
    loaned_at: datetime
    due: date
    renewals: int = 0
    tx_id: str | None = None


@dataclass(frozen=True, slots=True)
class HoldRow:
    hold_id: int
    item_id: str
    patron_id: str
    placed_at: datetime
    ready: bool = False
    pickup_until: date | None = None


HOLD_SHELF_BIN = "R"


def loan_limit(patron: PatronRow, rules: Rules) -> int:
    return patron.loan_limit if patron.loan_limit is not None else rules.loan_limit


def patron_block(patron: PatronRow, rules: Rules) -> ReasonCode | None:
    """Why this patron may not borrow at all right now, if anything."""
    if patron.blocked:
        return ReasonCode.BLOCKED
    if patron.card_expired:
        return ReasonCode.CARD_EXPIRED
    if patron.fines_cents >= rules.fine_block_cents:
        return ReasonCode.FINES_TOO_HIGH
    return None


def first_hold(holds: Sequence[HoldRow]) -> HoldRow | None:
    """The hold that the next copy goes to: a ready one first, then first come first served."""
    if not holds:
        return None
    return min(holds, key=lambda h: (not h.ready, h.placed_at, h.hold_id))


def on_hold_for_other(holds: Sequence[HoldRow], patron_id: str | None) -> bool:
    hold = first_hold(holds)
    return hold is not None and hold.patron_id != patron_id


def due_date(start: date, rules: Rules, promised: date | None = None) -> date:
    """The loan period from `start`; or, for a loan made offline, the due date the kiosk
    promised the patron, when it is a plausible one (from the day of the loan to a month past
    the library's own period): the record must say what the patron was told."""
    own = start + timedelta(days=rules.loan_period_days)
    if promised is not None and start <= promised <= own + timedelta(days=PROMISE_SLACK_DAYS):
        return promised
    return own


PROMISE_SLACK_DAYS = 31  # an opening day after holidays, or a kiosk's longer offline period


class Action(enum.StrEnum):
    LEND = "lend"
    RENEW = "renew"
    RETURN = "return"
    RETURN_THEN_LEND = "return_then_lend"
    NOTHING = "nothing"
    REFUSE = "refuse"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: ReasonCode = ReasonCode.OK
    notes: tuple[str, ...] = ()


def decide_checkout(
    patron: PatronRow | None,
    item: ItemRow | None,
    loan: LoanRow | None,
    holds: Sequence[HoldRow],
    rules: Rules,
) -> Decision:
    """Online checkout: every rule applies, the first one broken is the patron's answer."""
    if patron is None:
        return Decision(Action.REFUSE, ReasonCode.UNKNOWN_PATRON)
    if item is None:
        return Decision(Action.REFUSE, ReasonCode.UNKNOWN_ITEM)
    block = patron_block(patron, rules)
    if block is not None:
        return Decision(Action.REFUSE, block)
    if not item.loanable:
        return Decision(Action.REFUSE, ReasonCode.NOT_FOR_LOAN)
    if loan is not None:
        if loan.patron_id == patron.patron_id:
            renew = decide_renew(patron, item, loan, holds, rules)
            return renew
        return Decision(Action.REFUSE, ReasonCode.ALREADY_ON_LOAN)
    if on_hold_for_other(holds, patron.patron_id):
        return Decision(Action.REFUSE, ReasonCode.ON_HOLD_FOR_OTHER)
    if patron.loan_count >= loan_limit(patron, rules):
        return Decision(Action.REFUSE, ReasonCode.TOO_MANY_ITEMS)
    return Decision(Action.LEND)


def decide_renew(
    patron: PatronRow | None,
    item: ItemRow | None,
    loan: LoanRow | None,
    holds: Sequence[HoldRow],
    rules: Rules,
) -> Decision:
    """Online renewal: only the borrower, within the renewal limit, and nobody waiting."""
    if patron is None:
        return Decision(Action.REFUSE, ReasonCode.UNKNOWN_PATRON)
    if item is None:
        return Decision(Action.REFUSE, ReasonCode.UNKNOWN_ITEM)
    if loan is None or loan.patron_id != patron.patron_id:
        return Decision(Action.REFUSE, ReasonCode.NOT_ON_LOAN)
    block = patron_block(patron, rules)
    if block is not None:
        return Decision(Action.REFUSE, block)
    if loan.renewals >= rules.max_renewals:
        return Decision(Action.REFUSE, ReasonCode.RENEW_LIMIT)
    if on_hold_for_other(holds, patron.patron_id):
        return Decision(Action.REFUSE, ReasonCode.ON_HOLD_FOR_OTHER)
    return Decision(Action.RENEW)


def decide_checkin(item: ItemRow | None, loan: LoanRow | None) -> Decision:
    """A return is always welcome; returning an item that is not out is harmless."""
    if item is None:
        return Decision(Action.REFUSE, ReasonCode.UNKNOWN_ITEM)
    if loan is None:
        return Decision(Action.NOTHING, ReasonCode.NOT_ON_LOAN)
    return Decision(Action.RETURN)


def sort_bin(item: ItemRow, holds: Sequence[HoldRow]) -> tuple[bool, str]:
    """Where a returned item goes: (to the hold shelf?, sorting bin)."""
    if first_hold(holds) is not None:
        return True, HOLD_SHELF_BIN
    return False, item.collection


def renewed_due(loan: LoanRow, start: date, rules: Rules) -> date:
    """A renewal never shortens a loan."""
    return max(loan.due, due_date(start, rules))


def _offline_notes(patron: PatronRow, item: ItemRow, holds: Sequence[HoldRow],
                   rules: Rules, *, lending: bool) -> list[str]:
    notes = []
    block = patron_block(patron, rules)
    if block is not None:
        notes.append(f"patron was {block.value} when the kiosk lent offline")
    if lending and patron.loan_count >= loan_limit(patron, rules):
        notes.append("loan limit exceeded by an offline loan")
    if not item.loanable:
        notes.append("item is not for loan but was lent offline")
    if on_hold_for_other(holds, patron.patron_id):
        notes.append("item is on hold for another patron")
    return notes


def decide_offline_checkout(
    patron: PatronRow | None,
    item: ItemRow | None,
    loan: LoanRow | None,
    holds: Sequence[HoldRow],
    created_at: datetime,
    rules: Rules,
) -> Decision:
    """Replay of a loan the kiosk already granted while offline (Koha's rules)."""
    if patron is None:
        return Decision(Action.CONFLICT, ReasonCode.UNKNOWN_PATRON,
                        ("offline loan for a patron the library does not know",))
    if item is None:
        return Decision(Action.CONFLICT, ReasonCode.UNKNOWN_ITEM,
                        ("offline loan of an item the library does not know",))
    if loan is not None and loan.patron_id == patron.patron_id:
        notes = _offline_notes(patron, item, holds, rules, lending=False)
        if loan.renewals >= rules.max_renewals:
            notes.append("renewal limit exceeded by an offline loan of an item already lent")
        return Decision(Action.RENEW, notes=("item was already on loan to this patron; renewed",
                                             *notes))
    notes = _offline_notes(patron, item, holds, rules, lending=True)
    if loan is not None:
        if loan.loaned_at < created_at:
            return Decision(Action.RETURN_THEN_LEND, notes=(
                "item was still on loan to another patron; returned first", *notes))
        return Decision(Action.CONFLICT, ReasonCode.ALREADY_ON_LOAN, (
            "item was lent to another patron after this offline loan", *notes))
    return Decision(Action.LEND, notes=tuple(notes))


def decide_offline_checkin(
    item: ItemRow | None, loan: LoanRow | None, created_at: datetime
) -> Decision:
    if item is None:
        return Decision(Action.CONFLICT, ReasonCode.UNKNOWN_ITEM,
                        ("offline return of an item the library does not know",))
    if loan is None:
        return Decision(Action.NOTHING, ReasonCode.NOT_ON_LOAN)
    if loan.loaned_at > created_at:
        # The current loan started after this return: the return is already history.
        return Decision(Action.NOTHING, ReasonCode.OK,
                        ("item was lent again after this offline return; current loan kept",))
    return Decision(Action.RETURN)


def decide_offline_renew(
    patron: PatronRow | None,
    item: ItemRow | None,
    loan: LoanRow | None,
    holds: Sequence[HoldRow],
    rules: Rules,
) -> Decision:
    if patron is None:
        return Decision(Action.CONFLICT, ReasonCode.UNKNOWN_PATRON,
                        ("offline renewal for a patron the library does not know",))
    if item is None:
        return Decision(Action.CONFLICT, ReasonCode.UNKNOWN_ITEM,
                        ("offline renewal of an item the library does not know",))
    if loan is None or loan.patron_id != patron.patron_id:
        return Decision(Action.CONFLICT, ReasonCode.NOT_ON_LOAN,
                        ("offline renewal of an item not on loan to this patron",))
    notes = _offline_notes(patron, item, holds, rules, lending=False)
    if loan.renewals >= rules.max_renewals:
        notes.append("renewal limit exceeded by an offline renewal")
    return Decision(Action.RENEW, notes=tuple(notes))
