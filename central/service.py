"""The central service's circulation: load rows, ask `central.rules`, apply, remember the answer.

Why this layer exists apart from the HTTP routes: idempotency and void need the decision, its
effect and the stored answer to live in ONE SQLite transaction, and the staff dashboard (later)
will read the same tables. The routes only parse JSON and call these methods.

Every transaction (single endpoint or batch) is stored in `transactions` with its answer and
with a snapshot of the item's loan and holds before and after, which is exactly what `void`
needs to undo it. A repeated `tx_id` returns the stored answer and changes nothing, even after
a void undid it (`voided_by` says so for staff). A void for a `tx_id` never seen stores a
placeholder row (status `voided`), so that transaction is rejected if it ever arrives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from central import experiments, fleet_series, heartbeats, messages
from central import profiles as central_profiles
from central import rules as r
from central.db import Connection, Database, all_settings, get_setting
from central.hashing import hash_token, verify_pin
from domain.model import ReasonCode, TransactionKind
from domain.privacy import log_tag, masked_email

log = logging.getLogger(__name__)

BATCH_LIMIT = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


def library_day(moment: datetime) -> date:
    """The calendar day at the library, in the server's local time zone (set TZ, e.g.
    Europe/Brussels, in kiosk-central.service). Due dates, card expiry and "today" on the staff
    dashboard are library days: a loan at 00:30 in Ghent belongs to that day, not to the
    previous UTC day."""
    return moment.astimezone().date()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class TxIn:
    """One circulation request as the kiosk sent it (already validated)."""

    tx_id: str
    kind: TransactionKind
    item_id: str | None
    created_at: datetime
    kiosk_id: str = ""
    patron_id: str | None = None
    offline: bool = False
    ref_tx_id: str | None = None
    due: date | None = None  # an offline loan: the due date the kiosk promised

    def as_json(self) -> dict[str, Any]:
        return {
            "tx_id": self.tx_id, "kind": self.kind.value, "patron_id": self.patron_id,
            "item_id": self.item_id, "created_at": iso(self.created_at),
            "offline": self.offline, "ref_tx_id": self.ref_tx_id, "kiosk_id": self.kiosk_id,
        }


@dataclass(frozen=True, slots=True)
class InvalidTx:
    """A batch entry that could not be parsed; answered `rejected`, never stored."""

    tx_id: str
    detail: str


@dataclass(slots=True)
class Result:
    """What a transaction led to: the batch status, the patron-facing outcome, staff detail."""

    status: str  # done | conflict | rejected | voided
    outcome: dict[str, Any] | None
    detail: str = ""
    undo: dict[str, Any] | None = None
    events: list[str] = field(default_factory=list)


_MESSAGES: dict[ReasonCode, str] = {
    ReasonCode.UNKNOWN_PATRON: "This card is not known to the library.",
    ReasonCode.UNKNOWN_ITEM: "This item is not known to the library.",
    ReasonCode.BLOCKED: "Your account is blocked; please ask at the desk.",
    ReasonCode.FINES_TOO_HIGH: "Outstanding fines: please pay at the desk first.",
    ReasonCode.CARD_EXPIRED: "Your library card has expired; please renew it at the desk.",
    ReasonCode.TOO_MANY_ITEMS: "You have reached your loan limit.",
    ReasonCode.NOT_FOR_LOAN: "This item cannot be borrowed.",
    ReasonCode.ON_HOLD_FOR_OTHER: "This item is reserved for another reader.",
    ReasonCode.ALREADY_ON_LOAN: "This item is on loan to someone else; please ask at the desk.",
    ReasonCode.NOT_ON_LOAN: "This item was not on loan.",
    ReasonCode.RENEW_LIMIT: "This item cannot be renewed again.",
    ReasonCode.REFUSED: "This transaction was cancelled.",
}


def _outcome(tx: TxIn, reason: ReasonCode, *, ok: bool, title: str = "",
             due: date | None = None, hold_shelf: bool = False, sort_bin: str = "",
             message: str | None = None) -> dict[str, Any]:
    if message is None:
        message = f"Return by {due.isoformat()}" if ok and due else _MESSAGES.get(reason, "")
    return {
        "ok": ok, "reason": reason.value, "tx_id": tx.tx_id, "item_id": tx.item_id or "",
        "title": title, "due": due.isoformat() if due else None, "screen_message": message,
        "hold_shelf": hold_shelf, "sort_bin": sort_bin,
    }


def _voided_outcome(tx_id: str, item_id: str | None) -> dict[str, Any]:
    return {
        "ok": False, "reason": ReasonCode.REFUSED.value, "tx_id": tx_id, "item_id": item_id or "",
        "title": "", "due": None, "screen_message": _MESSAGES[ReasonCode.REFUSED],
        "hold_shelf": False, "sort_bin": "",
    }


# ---------------------------------------------------------------- row loading


def _dt(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_rules(conn: Connection) -> r.Rules:
    return rules_from(all_settings(conn))


def rules_from(settings: Mapping[str, str]) -> r.Rules:
    return r.Rules(
        loan_period_days=int(settings["loan_period_days"]),
        max_renewals=int(settings["max_renewals"]),
        loan_limit=int(settings["loan_limit"]),
        fine_block_cents=int(settings["fine_block_cents"]),
        hold_pickup_days=int(settings["hold_pickup_days"]),
        require_pin=settings["require_pin"].lower() in ("1", "true", "yes"),
    )


def load_patron(conn: Connection, patron_id: str | None,
                today: date) -> r.PatronRow | None:
    """By patron id, or by card: an offline kiosk under the "format" policy never saw the
    patron online and sends the card itself as "<kind>:<value>" (e.g. "barcode:2100...")."""
    if not patron_id:
        return None
    query = ("SELECT p.*, (SELECT COUNT(*) FROM loans l WHERE l.patron_id = p.patron_id) AS n, "
             "(SELECT COUNT(*) FROM holds h WHERE h.patron_id = p.patron_id AND h.ready = 1)"
             " AS ready FROM patrons p WHERE p.patron_id = ?")
    row = conn.execute(query, (patron_id,)).fetchone()
    kind, _, value = patron_id.partition(":")
    if row is None and value and kind in ("barcode", "card_uid", "eid"):
        card = conn.execute("SELECT patron_id FROM credentials WHERE kind = ? AND value = ?",
                            (kind, normalise_credential(kind, value))).fetchone()
        row = conn.execute(query, (card["patron_id"],)).fetchone() if card else None
    if row is None:
        return None
    return r.PatronRow(
        patron_id=row["patron_id"], name=row["name"], blocked=bool(row["blocked"]),
        block_note=row["block_note"], loan_limit=row["loan_limit"],
        fines_cents=row["fines_cents"], loan_count=row["n"],
        card_expired=_expired(row["card_expires"], today), holds_ready=row["ready"],
        email=row["email"] or "", category=row["category"] or "",
    )


def _expired(card_expires: str | None, today: date) -> bool:
    """A card is valid through its expiry day. An unreadable date is the library's typo, not
    the patron's fault: logged, and the card treated as valid."""
    if not card_expires:
        return False
    try:
        return date.fromisoformat(card_expires) < today
    except ValueError:
        log.warning("patron card_expires %r is not a date; ignored", card_expires)
        return False


def load_item(conn: Connection, item_id: str | None) -> r.ItemRow | None:
    if not item_id:
        return None
    row = conn.execute("SELECT * FROM items WHERE item_id = ?", (item_id,)).fetchone()
    if row is None:
        return None
    return r.ItemRow(item_id=row["item_id"], title=row["title"], author=row["author"],
                     loanable=bool(row["loanable"]), parts=row["parts"],
                     collection=row["collection"])


def _loan_from(row: Mapping[str, Any]) -> r.LoanRow:
    return r.LoanRow(item_id=row["item_id"], patron_id=row["patron_id"],
                     loaned_at=_dt(row["loaned_at"]), due=date.fromisoformat(row["due"]),
                     renewals=row["renewals"], tx_id=row["tx_id"])


def load_loan(conn: Connection, item_id: str) -> r.LoanRow | None:
    row = conn.execute("SELECT * FROM loans WHERE item_id = ?", (item_id,)).fetchone()
    return None if row is None else _loan_from(row)


def _hold_from(row: Mapping[str, Any]) -> r.HoldRow:
    return r.HoldRow(hold_id=row["hold_id"], item_id=row["item_id"], patron_id=row["patron_id"],
                     placed_at=_dt(row["placed_at"]), ready=bool(row["ready"]),
                     pickup_until=date.fromisoformat(row["pickup_until"])
                     if row["pickup_until"] else None)


def load_holds(conn: Connection, item_id: str) -> list[r.HoldRow]:
    rows = conn.execute("SELECT * FROM holds WHERE item_id = ? ORDER BY hold_id",
                        (item_id,)).fetchall()
    return [_hold_from(row) for row in rows]


def _snapshot(conn: Connection, item_id: str) -> dict[str, Any]:
    """The item's circulation state as plain JSON: what void compares and restores."""
    return _item_state(conn, item_id)[0]


def _item_state(conn: Connection, item_id: str
                ) -> tuple[dict[str, Any], r.LoanRow | None, list[r.HoldRow]]:
    """The item's loan and holds, read once: as the snapshot and as the rules' rows."""
    loan = conn.execute("SELECT * FROM loans WHERE item_id = ?", (item_id,)).fetchone()
    holds = conn.execute("SELECT * FROM holds WHERE item_id = ? ORDER BY hold_id",
                         (item_id,)).fetchall()
    snapshot = {"loan": dict(loan) if loan else None, "holds": [dict(h) for h in holds]}
    return snapshot, _loan_from(loan) if loan else None, [_hold_from(h) for h in holds]


def _restore(conn: Connection, item_id: str, snapshot: Mapping[str, Any]) -> None:
    conn.execute("DELETE FROM loans WHERE item_id = ?", (item_id,))
    conn.execute("DELETE FROM holds WHERE item_id = ?", (item_id,))
    loan = snapshot["loan"]
    if loan:
        conn.execute(
            "INSERT INTO loans(item_id, patron_id, loaned_at, due, renewals, tx_id) "
            "VALUES (:item_id, :patron_id, :loaned_at, :due, :renewals, :tx_id)", loan)
    for hold in snapshot["holds"]:
        conn.execute(
            "INSERT INTO holds(hold_id, item_id, patron_id, placed_at, ready, pickup_until) "
            "VALUES (:hold_id, :item_id, :patron_id, :placed_at, :ready, :pickup_until)", hold)


# ---------------------------------------------------------------- the service


class CirculationService:
    """Identify, account, item lookups and every transaction kind, over one `Database`."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # -- auth and kiosks

    def authenticate(self, token: str) -> str | None:
        """The kiosk id for a bearer token, or None."""
        row = self.db.one("SELECT kiosk_id FROM kiosks WHERE token_hash = ?", (hash_token(token),))
        return None if row is None else str(row["kiosk_id"])

    def heartbeat(self, kiosk_id: str, status: Mapping[str, Any]) -> dict[str, Any]:
        """Store what is valid of a kiosk's status (see central/heartbeats.py), stamped with the
        server's receive time; answer with the server's clock, the skew the kiosk's clock shows
        and the conflicts staff resolved, which the kiosk may forget."""
        now = self.clock()
        checked = heartbeats.check(status, now)
        messages.count_shown(self.db, status.get("message_shows"))
        with self.db.write(keys=[f"kiosk:{kiosk_id}"]) as conn:
            bound = float(get_setting(conn, "clock_skew_bound_s"))
            row = conn.execute("SELECT last_status, clock_skew_s, branch FROM kiosks "
                               "WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
            stored = _json_object(row["last_status"] if row else None)
            problem = ", ".join(checked.problems) or None
            if heartbeats.newer(checked, stored, row["clock_skew_s"] if row else None, bound):
                conn.execute("UPDATE kiosks SET last_seen = ?, last_status = ?, clock_skew_s = ?,"
                             " status_problem = ? WHERE kiosk_id = ?",
                             (iso(now), json.dumps(checked.status, default=str)[:65536],
                              checked.skew_s, problem, kiosk_id))
            else:  # a slow, older heartbeat arrived after a newer one: keep the newer status
                conn.execute("UPDATE kiosks SET last_seen = ? WHERE kiosk_id = ?",
                             (iso(now), kiosk_id))
            fleet_series.record_beat(conn, kiosk_id, checked.status, now)
            resolved = [r[0] for r in conn.execute(
                "SELECT tx_id FROM conflicts WHERE kiosk_id = ? AND resolved_at >= ? "
                "ORDER BY resolved_at DESC LIMIT 500",
                (kiosk_id, iso(now - timedelta(days=30))))]
            branch = (row["branch"] if row else "") or ""
            profile = central_profiles.effective(conn, kiosk_id, branch)
        if problem:
            log.warning("heartbeat from %s: dropped invalid field(s) %s", kiosk_id, problem)
        return {"ok": True, "server_time": iso(now), "checkout_ok": True, "checkin_ok": True,
                "offline_ok": True, "screen_message": "", "clock_skew_s": checked.skew_s,
                "resolved": resolved, "profile": profile,
                "experiments": [e.as_sent() for e in experiments.active_for(
                    self.db, kiosk_id, library_day(now))],
                "messages": [m.as_sent() for m in messages.active_for(
                    self.db, kiosk_id, library_day(now))]}

    # -- lookups

    def identify(self, kind: str, value: str, pin: str | None) -> dict[str, Any]:
        value = normalise_credential(kind, value)
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT p.patron_id, p.pin_hash FROM credentials c "
                "JOIN patrons p USING (patron_id) WHERE c.kind = ? AND c.value = ?",
                (kind, value)).fetchone()
            rules = load_rules(conn)
            patron = load_patron(conn, row["patron_id"], library_day(self.clock())) if row \
                else None
        if row is None or patron is None:
            log.info("identify: unknown %s credential %s", kind, log_tag(value))
            return {"ok": False, "reason": ReasonCode.UNKNOWN_PATRON.value, "patron": None}
        pin_hash = row["pin_hash"]
        if pin is None:
            if rules.require_pin:
                return {"ok": False, "reason": ReasonCode.PIN_REQUIRED.value, "patron": None}
        elif pin_hash is None or not verify_pin(pin, pin_hash):
            log.info("identify: wrong PIN for patron %s", log_tag(patron.patron_id))
            return {"ok": False, "reason": ReasonCode.WRONG_PIN.value, "patron": None}
        return {"ok": True, "reason": ReasonCode.OK.value, "patron": patron_json(patron, rules)}

    def account(self, patron_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            rules = load_rules(conn)
            patron = load_patron(conn, patron_id, library_day(self.clock()))
            if patron is None:
                return {"ok": False, "reason": ReasonCode.UNKNOWN_PATRON.value, "patron": None,
                        "loans": [], "holds": [], "fines_cents": 0}
            loans = conn.execute(
                "SELECT l.item_id, i.title, l.due, l.renewals FROM loans l "
                "JOIN items i USING (item_id) WHERE l.patron_id = ? ORDER BY l.due, l.item_id",
                (patron_id,)).fetchall()
            place = get_setting(conn, "hold_pickup_place")
            holds = conn.execute(
                "SELECT h.item_id, i.title, h.ready, h.pickup_until FROM holds h "
                "JOIN items i USING (item_id) WHERE h.patron_id = ? ORDER BY h.hold_id",
                (patron_id,)).fetchall()
        return {
            "ok": True, "reason": ReasonCode.OK.value, "patron": patron_json(patron, rules),
            "loans": [{"item_id": x["item_id"], "title": x["title"], "due": x["due"],
                       "renewals": x["renewals"]} for x in loans],
            "holds": [{"item_id": x["item_id"], "title": x["title"], "ready": bool(x["ready"]),
                       "pickup_until": x["pickup_until"],
                       "pickup_place": place if x["ready"] else ""} for x in holds],
            "fines_cents": patron.fines_cents,
        }

    def contact(self, patron_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            patron = load_patron(conn, patron_id, library_day(self.clock()))
        if patron is None:
            return {"ok": False, "reason": ReasonCode.UNKNOWN_PATRON.value, "email": None}
        return {"ok": True, "reason": ReasonCode.OK.value, "email": patron.email or None}

    def item(self, item_id: str, patron_id: str | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            item = load_item(conn, item_id)
            if item is None:
                return {"ok": False, "reason": ReasonCode.UNKNOWN_ITEM.value, "item": None}
            loan = load_loan(conn, item_id)
            holds = load_holds(conn, item_id)
        held = r.on_hold_for_other(holds, patron_id) if patron_id else bool(holds)
        return {"ok": True, "reason": ReasonCode.OK.value, "item": {
            "item_id": item.item_id, "title": item.title, "author": item.author,
            "loanable": item.loanable, "on_loan": loan is not None,
            "on_hold_for_other": held, "parts": item.parts}}

    # -- transactions

    def transact(self, tx: TxIn) -> dict[str, Any]:
        """A single online transaction (checkout, checkin or renew): the patron's answer."""
        return self.transact_stack([tx])[0]

    def transact_stack(self, txs: Sequence[TxIn]) -> list[dict[str, Any]]:
        """Online transactions a patron made together (a pile on the pad), in order, in one
        database transaction: one answer per item, each idempotent by (kiosk, tx_id)."""
        answers: list[dict[str, Any]] = []
        with self.db.write(keys=write_keys(txs)) as conn:
            settings = all_settings(conn)
            for tx in txs:
                stored = self._stored(conn, tx.kiosk_id, tx.tx_id)
                if stored is None:
                    stored = self._apply(conn, tx, settings)
                    self._store(conn, tx, stored)
                    log.info("%s %s item %s patron %s -> %s", tx.kind.value, tx.tx_id[:8],
                             tx.item_id, log_tag(tx.patron_id),
                             stored.outcome["reason"] if stored.outcome else "-",
                             extra={"event": "transaction_applied", "txn_id": tx.tx_id,
                                    "kiosk_id": tx.kiosk_id})
                answers.append(stored.outcome or _voided_outcome(tx.tx_id, tx.item_id))
        return answers

    def batch(self, entries: Sequence[TxIn | InvalidTx], kiosk_id: str) -> list[dict[str, Any]]:
        """Replay of a kiosk's journal, in order, in one SQLite transaction."""
        answers: list[dict[str, Any]] = []
        valid = [_with_kiosk(e, kiosk_id) for e in entries if isinstance(e, TxIn)]
        with self.db.write(keys=write_keys(valid)) as conn:
            settings = all_settings(conn)
            known = self._stored_all(conn, kiosk_id, valid)
            for entry in entries:
                if isinstance(entry, InvalidTx):
                    answers.append({"tx_id": entry.tx_id, "status": "rejected", "outcome": None,
                                    "detail": entry.detail})
                    continue
                if entry.kiosk_id and entry.kiosk_id != kiosk_id:
                    answers.append({"tx_id": entry.tx_id, "status": "rejected", "outcome": None,
                                    "detail": f"kiosk_id {entry.kiosk_id!r} does not match "
                                              f"the token's kiosk {kiosk_id!r}"})
                    continue
                tx = _with_kiosk(entry, kiosk_id)
                stored = known.get(tx.tx_id) if known is not None else \
                    self._stored(conn, tx.kiosk_id, tx.tx_id)
                if stored is None:
                    stored = self._apply(conn, tx, settings)
                    self._store(conn, tx, stored)
                    if known is not None:
                        known[tx.tx_id] = stored  # the same id again in this batch
                answers.append(_batch_answer(tx.tx_id, stored))
        return answers

    def _stored_all(self, conn: Connection, kiosk_id: str, txs: Sequence[TxIn]
                    ) -> dict[str, Result] | None:
        """What a batch's rows got before, in one query instead of one per row; None (ask row
        by row) when the batch voids something, since a void changes an earlier answer."""
        if any(tx.kind is TransactionKind.VOID for tx in txs) or not txs:
            return None
        ids = sorted({tx.tx_id for tx in txs})
        marks = ", ".join("?" for _ in ids)
        rows = conn.execute(f"SELECT tx_id, status, outcome, detail, voided_by FROM transactions "
                            f"WHERE kiosk_id = ? AND tx_id IN ({marks})", (kiosk_id, *ids))
        return {row["tx_id"]: _result_of(row) for row in rows}

    def _stored(self, conn: Connection, kiosk_id: str, tx_id: str) -> Result | None:
        """What this kiosk's tx_id got before: idempotency is scoped by kiosk, so another
        kiosk's id (a bug, or an attacker) neither reads this answer nor bars this one."""
        row = conn.execute("SELECT status, outcome, detail, voided_by FROM transactions "
                           "WHERE kiosk_id = ? AND tx_id = ?", (kiosk_id, tx_id)).fetchone()
        return None if row is None else _result_of(row)

    def _store(self, conn: Connection, tx: TxIn, result: Result) -> None:
        now = iso(self.clock())
        conn.execute(
            "INSERT INTO transactions(tx_id, kind, kiosk_id, created_at, received_at, "
            "patron_id, item_id, offline, status, outcome, detail, undo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (tx.tx_id, tx.kind.value, tx.kiosk_id, iso(tx.created_at), now, tx.patron_id,
             tx.item_id, int(tx.offline), result.status,
             json.dumps(result.outcome) if result.outcome is not None else None, result.detail,
             json.dumps(result.undo) if result.undo is not None else None))
        # Counted on the day the patron did it: an offline loan replayed tomorrow is today's.
        done_at = tx.created_at if tx.offline else self.clock()
        day = library_day(done_at).isoformat()
        for kind in result.events:
            conn.execute("INSERT INTO events(kind, kiosk_id, day, tx_id) VALUES (?, ?, ?, ?)",
                         (kind, tx.kiosk_id, day, tx.tx_id))
            fleet_series.count_circulation(conn, tx.kiosk_id, kind, done_at, self.clock())
        if result.status == "conflict":
            conn.execute(
                "INSERT INTO conflicts(tx_id, tx, reason, kiosk_id, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (tx.tx_id, json.dumps(tx.as_json()), result.detail, tx.kiosk_id, now))
            log.warning("conflict for %s %s from %s: %s", tx.kind.value, tx.tx_id[:8],
                        tx.kiosk_id, result.detail,
                        extra={"event": "conflict", "txn_id": tx.tx_id, "kiosk_id": tx.kiosk_id})

    def _apply(self, conn: Connection, tx: TxIn, settings: Mapping[str, str]) -> Result:
        if tx.kind is TransactionKind.VOID:
            return self._void(conn, tx)
        item_id = tx.item_id or ""
        before, loan, holds = _item_state(conn, item_id)
        rules = rules_from(settings)
        moment, skew_note = self._when(tx, settings)
        start = library_day(moment)  # an offline loan is judged by the day the patron made it
        patron = load_patron(conn, tx.patron_id, start)
        item = load_item(conn, item_id)
        decision = self._decide(tx, patron, item, loan, holds, rules)
        detail = "; ".join((*decision.notes, skew_note) if skew_note else decision.notes)
        title = item.title if item else ""
        if decision.action is r.Action.REFUSE:
            outcome = _outcome(tx, decision.reason, ok=False, title=title)
            return Result("rejected", outcome, detail or _MESSAGES.get(decision.reason, ""))
        if decision.action is r.Action.CONFLICT:
            outcome = _outcome(tx, decision.reason, ok=False, title=title)
            return Result("conflict", outcome, detail)
        if item is None:
            raise RuntimeError(f"rules chose {decision.action} without an item")
        events: list[str] = []
        due: date | None = None
        hold_shelf, bin_ = False, ""
        if decision.action in (r.Action.RETURN, r.Action.RETURN_THEN_LEND):
            conn.execute("DELETE FROM loans WHERE item_id = ?", (item_id,))
            events.append("checkin")
            if decision.action is r.Action.RETURN:  # not when it goes straight out again
                hold_shelf, bin_ = self._route_return(conn, item, holds, rules)
        if decision.action in (r.Action.LEND, r.Action.RETURN_THEN_LEND):
            promised = tx.due if tx.offline else None
            due = _lend(conn, tx, patron, moment, r.due_date(start, rules, promised), holds)
            events.append("checkout")
            hold_shelf, bin_ = False, ""
        if decision.action is r.Action.RENEW:
            if loan is None:
                raise RuntimeError("rules chose to renew without a loan")
            due = r.renewed_due(loan, start, rules)
            conn.execute("UPDATE loans SET due = ?, renewals = renewals + 1 WHERE item_id = ?",
                         (due.isoformat(), item_id))
            events.append("renew")
        if decision.action is r.Action.NOTHING and tx.kind is TransactionKind.CHECKIN \
                and loan is None:
            hold_shelf, bin_ = self._route_return(conn, item, holds, rules)
        after = _snapshot(conn, item_id)
        undo = {"before": before, "after": after} if after != before else None
        outcome = _outcome(tx, decision.reason, ok=True, title=title, due=due,
                           hold_shelf=hold_shelf, sort_bin=bin_)
        if tx.kind is TransactionKind.CHECKOUT and decision.action is r.Action.RENEW:
            outcome["renewed"] = True  # the patron already had it: tell them the truth
        return Result("done", outcome, detail, undo, events)

    def _when(self, tx: TxIn, settings: Mapping[str, str]) -> tuple[datetime, str]:
        """When the patron did it: the kiosk's stamp for an offline act, unless that stamp is
        impossible (in the future, or older than any offline spell), which only a wrong kiosk
        clock makes; then the receive time, so a loan of today is not due in 2019."""
        now = self.clock()
        if not tx.offline:
            return now, ""
        bound = timedelta(seconds=float(settings["clock_skew_bound_s"]))
        oldest = timedelta(days=float(settings["max_offline_age_days"]))
        stamp = tx.created_at if tx.created_at.tzinfo else tx.created_at.replace(tzinfo=UTC)
        if stamp > now + bound or stamp < now - oldest:
            log.warning("offline %s from %s stamped %s: the kiosk's clock is wrong; dated by "
                        "receipt", tx.kind.value, tx.kiosk_id, iso(stamp),
                        extra={"event": "clock_skew", "txn_id": tx.tx_id, "kiosk_id": tx.kiosk_id})
            return now, f"kiosk clock skew: stamped {iso(stamp)}, dated by receipt {iso(now)}"
        return stamp, ""

    @staticmethod
    def _decide(tx: TxIn, patron: r.PatronRow | None, item: r.ItemRow | None,
                loan: r.LoanRow | None, holds: list[r.HoldRow], rules: r.Rules) -> r.Decision:
        if tx.kind is TransactionKind.CHECKOUT:
            if tx.offline:
                return r.decide_offline_checkout(patron, item, loan, holds, tx.created_at, rules)
            return r.decide_checkout(patron, item, loan, holds, rules)
        if tx.kind is TransactionKind.RENEW:
            if tx.offline:
                return r.decide_offline_renew(patron, item, loan, holds, rules)
            return r.decide_renew(patron, item, loan, holds, rules)
        if tx.offline:
            return r.decide_offline_checkin(item, loan, tx.created_at)
        return r.decide_checkin(item, loan)

    def _route_return(self, conn: Connection, item: r.ItemRow,
                      holds: list[r.HoldRow], rules: r.Rules) -> tuple[bool, str]:
        hold_shelf, bin_ = r.sort_bin(item, holds)
        hold = r.first_hold(holds)
        if hold is not None and not hold.ready:
            until = library_day(self.clock()) + timedelta(days=rules.hold_pickup_days)
            conn.execute("UPDATE holds SET ready = 1, pickup_until = ? WHERE hold_id = ?",
                         (until.isoformat(), hold.hold_id))
        return hold_shelf, bin_

    def _void(self, conn: Connection, tx: TxIn) -> Result:
        ref_id = tx.ref_tx_id
        if not ref_id:
            return Result("rejected", None, "void without ref_tx_id")
        ref = conn.execute("SELECT * FROM transactions WHERE kiosk_id = ? AND tx_id = ?",
                           (tx.kiosk_id, ref_id)).fetchone()
        if ref is None:
            conn.execute(
                "INSERT INTO transactions(tx_id, kind, kiosk_id, received_at, item_id, status, "
                "voided_by) VALUES (?, 'unknown', ?, ?, ?, 'voided', ?)",
                (ref_id, tx.kiosk_id, iso(self.clock()), tx.item_id, tx.tx_id))
            return Result("done", None, f"{ref_id} was never applied; it never will be")
        if ref["kind"] == TransactionKind.VOID.value:
            return Result("rejected", None, "a void cannot be voided")
        if ref["kiosk_id"] != tx.kiosk_id:
            return Result("rejected", None, f"{ref_id} belongs to another kiosk")
        if ref["status"] == "voided" or ref["voided_by"]:
            return Result("done", None, f"{ref_id} was already voided")
        if ref["status"] != "done" or ref["undo"] is None:
            self._mark_voided(conn, tx.kiosk_id, ref_id, tx.tx_id)
            return Result("done", None, f"{ref_id} had no effect; marked void")
        later = conn.execute(
            "SELECT tx_id FROM transactions WHERE item_id = ? AND seq > ? AND undo IS NOT NULL "
            "AND status = 'done' AND voided_by IS NULL LIMIT 1",
            (ref["item_id"], ref["seq"])).fetchone()
        undo = json.loads(ref["undo"])
        if later is not None:
            return Result("conflict", None,
                          f"cannot void {ref_id}: {later['tx_id']} changed the item since")
        if _snapshot(conn, ref["item_id"]) != undo["after"]:
            return Result("conflict", None,
                          f"cannot void {ref_id}: the item's loan changed since")
        _restore(conn, ref["item_id"], undo["before"])
        conn.execute("DELETE FROM events WHERE kiosk_id = ? AND tx_id = ?", (tx.kiosk_id, ref_id))
        self._mark_voided(conn, tx.kiosk_id, ref_id, tx.tx_id)
        return Result("done", None, f"{ref['kind']} {ref_id} undone")

    def _mark_voided(self, conn: Connection, kiosk_id: str, ref_id: str,
                     void_id: str) -> None:
        # The status and answer stay: a repeated tx_id still gets its first answer verbatim.
        conn.execute("UPDATE transactions SET voided_by = ? WHERE kiosk_id = ? AND tx_id = ?",
                     (void_id, kiosk_id, ref_id))
        conn.execute("UPDATE conflicts SET resolved_at = ?, resolved_by = ? "
                     "WHERE kiosk_id = ? AND tx_id = ? AND resolved_at IS NULL",
                     (iso(self.clock()), f"void {void_id}", kiosk_id, ref_id))


def write_keys(txs: Sequence[TxIn]) -> set[str] | None:
    """The locks a run of transactions needs (see `Database.write`): a loan, return or renewal
    reads to decide only its kiosk's idempotency keys, its item (loan, holds) and its patron
    (count, fines, blocks). A return may also lower another patron's count, which can only
    make that patron's concurrent loan more cautious, never exceed a limit. A void searches
    the item's later transactions from any kiosk, and a card-form patron ("barcode:...")
    names a patron only once looked up: both take the whole database."""
    keys: set[str] = set()
    for tx in txs:
        if tx.kind is TransactionKind.VOID or ":" in (tx.patron_id or ""):
            return None
        keys.add(f"kiosk:{tx.kiosk_id}")
        if tx.item_id:
            keys.add(f"item:{tx.item_id}")
        if tx.patron_id:
            keys.add(f"patron:{tx.patron_id}")
    return keys


def _lend(conn: Connection, tx: TxIn, patron: r.PatronRow | None, moment: datetime,
          due: date, holds: Sequence[r.HoldRow]) -> date:
    """Record the loan (and end the patron's own hold on the item, if `holds`, read in this
    transaction, has one); returns the due date."""
    if patron is None:
        raise RuntimeError("rules chose to lend without a patron")
    conn.execute(
        "INSERT INTO loans(item_id, patron_id, loaned_at, due, renewals, tx_id) "
        "VALUES (?, ?, ?, ?, 0, ?)",
        (tx.item_id or "", patron.patron_id, iso(moment), due.isoformat(), tx.tx_id))
    if any(h.patron_id == patron.patron_id for h in holds):
        conn.execute("DELETE FROM holds WHERE item_id = ? AND patron_id = ?",
                     (tx.item_id or "", patron.patron_id))
    return due


def _result_of(row: Mapping[str, Any]) -> Result:
    """A stored answer as the kiosk gets it again."""
    if row["status"] == "voided":
        return Result("voided", None, f"cancelled by void {row['voided_by']}")
    return Result(row["status"], json.loads(row["outcome"]) if row["outcome"] else None,
                  row["detail"])


def _json_object(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _with_kiosk(tx: TxIn, kiosk_id: str) -> TxIn:
    """The entry as the token's kiosk sent it, every other field (the promised due date too)
    kept as it came."""
    return tx if tx.kiosk_id else replace(tx, kiosk_id=kiosk_id)


def _batch_answer(tx_id: str, result: Result) -> dict[str, Any]:
    if result.status == "voided":
        return {"tx_id": tx_id, "status": "rejected", "outcome": None, "detail": result.detail}
    return {"tx_id": tx_id, "status": result.status, "outcome": result.outcome,
            "detail": result.detail}


def patron_json(patron: r.PatronRow, rules: r.Rules) -> dict[str, Any]:
    block = r.patron_block(patron, rules)
    return {
        "patron_id": patron.patron_id, "name": patron.name, "blocked": block is not None,
        "block_reason": block.value if block else None, "loan_count": patron.loan_count,
        "loan_limit": r.loan_limit(patron, rules), "holds_ready": patron.holds_ready,
        "email_hint": masked_email(patron.email or ""), "category": patron.category,
    }


def normalise_credential(kind: str, value: str) -> str:
    """Card readers and keyboards differ in case, spaces and punctuation; the library does not."""
    value = value.strip()
    if kind == "card_uid":
        return value.replace(":", "").replace(" ", "").upper()
    if kind == "eid":
        return "".join(ch for ch in value if ch.isdigit())
    return value
