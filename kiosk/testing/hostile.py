"""Replies a broken or hostile library system might send, made from a seeded `random.Random`.

Shared by the property tests (hypothesis drives the Random, and shrinks what it draws) and by
`bench/fuzz.py` (a plain seeded Random, for a million examples). Each generator starts from a
reply that is valid for the request, then bends it the way real servers and attackers do: wrong
widths and characters in fixed fields, empty and repeated fields, dates at the ends of the
calendar, amounts with exponents, numbers hundreds of digits long, nesting a thousand deep.
The seeds are the protocol's own test vectors, so most examples get deep into the parsers
instead of failing at the first byte.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from domain.model import Credential, CredentialKind, Transaction, TransactionKind
from kiosk.backends.sip2.codec import SPECS, FixedField

# values that broke or nearly broke the kiosk before, and their relatives
NASTY_TEXT = (
    "", " ", "    ", "0", "-0", "1", "-1", "00000000000000000000", "9" * 400, "1E5000",
    "1E999990", "-1E999990", "1e309", "NaN", "Infinity", "0x10", "12,50", "12.50", "-2.00",
    "99991231   Z235959", "00000000    000000", "99991231    235959", "0001-01-01000+01",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "9999-12-31", "2026-02-30",
    "20261301", "13/45/2026", "Y", "N", "U", "y", "é", "\u202e", "Ωmega", "x" * 300,
    "AF", "AY9AZ", "  padded  ",
)
_VAR_IDS = ("AO", "AA", "AB", "AJ", "AH", "AF", "AG", "AU", "AS", "AT", "CD", "BV", "CB",
            "BL", "CQ", "AE", "CM", "CV", "CL", "BZ", "CA", "BH", "BK", "CH", "CK", "AP", "AM",
            "BX", "AN", "ZZ")
_REPEATED = ("AU", "AS", "AT", "CD", "AF")


def _now18() -> str:
    n = datetime(2026, 12, 1, 10, 30, 0)
    return n.strftime("%Y%m%d") + "    " + n.strftime("%H%M%S")


_VALID_FIXED_CANDIDATES = ("Y", "N", "U", "0", "1", " ", "2.00", "001", "000", "999", "0003",
                           "    ", "01", "03", "04", "08", "02", "10", "0000")


def valid_fixed(f: FixedField) -> str:
    """A value that passes the field's own check (the seed a mutation starts from)."""
    pattern = re.compile(f.pattern)
    for candidate in (*_VALID_FIXED_CANDIDATES, _now18(), " " * f.width, "0" * f.width,
                      "Y" * f.width, "N" * f.width):
        if len(candidate) == f.width and pattern.fullmatch(candidate):
            return candidate
    return " " * f.width


def sip2_reply(rng: random.Random, code: str) -> bytes:
    """One reply frame of command `code` (a 2-char reply code), mostly well framed, often wrong
    inside; sent without error detection (AY/AZ), ending in CR."""
    if rng.random() < 0.03:  # now and then, not even the right message
        code = rng.choice([c for c in SPECS if len(c) == 2])
    spec = SPECS.get(code)
    parts = [code]
    for f in spec.fixed if spec is not None else ():
        roll = rng.random()
        if roll < 0.8:
            parts.append(valid_fixed(f))
        elif roll < 0.95:
            alphabet = rng.choice(("0123456789", "YNU ", " ", "0123456789 Z", "abcXYZ-+."))
            parts.append("".join(rng.choice(alphabet) for _ in range(f.width)))
        else:
            parts.append(rng.choice(NASTY_TEXT)[: f.width + rng.choice((-1, 0, 1))])
    for _ in range(rng.choice((0, 1, 2, 3, 5, 8))):
        fid = rng.choice(_VAR_IDS)
        repeat = rng.choice((1, 1, 1, 2, 10, 999)) if fid in _REPEATED else 1
        value = rng.choice(NASTY_TEXT) if rng.random() < 0.7 else _word(rng)
        for _ in range(repeat):
            parts.append(f"{fid}{value if rng.random() < 0.9 else ''}|")
    text = "".join(parts).replace("\r", " ")
    return text.encode("cp850", errors="replace") + b"\r"


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHIJ0123456789 -") for _ in range(rng.randint(0, 24)))


# ---------------------------------------------------------------- what to call

# a replay that makes SIP2 read the library back (a checkout and a renewal whose answers were
# lost, a VOID of a return) and REST send a batch; hostile replay replies answer these ids
REPLAY_BATCH = (
    Transaction(TransactionKind.CHECKOUT, "P100", "I001", offline=True, maybe_applied=True),
    Transaction(TransactionKind.RENEW, "P100", "I002", offline=True, maybe_applied=True,
                due_before=date(2026, 12, 20)),
    Transaction(TransactionKind.VOID, "P100", "I003", offline=True, ref_tx_id="x",
                ref_kind=TransactionKind.CHECKIN),
)
BACKEND_CALLS: dict[str, Callable[[Any], object]] = {
    "identify": lambda b: b.identify(Credential(CredentialKind.BARCODE, "P100"), "1234"),
    "account": lambda b: b.account("P100"),
    "item": lambda b: b.item("I001"),
    "checkout": lambda b: b.checkout(Transaction(TransactionKind.CHECKOUT, "P100", "I001")),
    "checkin": lambda b: b.checkin(Transaction(TransactionKind.CHECKIN, None, "I001")),
    "renew": lambda b: b.renew(Transaction(TransactionKind.RENEW, "P100", "I001",
                                           due_before=date(2026, 12, 20))),
    "end_session": lambda b: b.end_session("P100"),
    "heartbeat": lambda b: b.heartbeat({"queue": {"pending": 0}}),
    "replay": lambda b: b.replay(list(REPLAY_BATCH)),
}
"""Every operation of the backend seam, with arguments either backend accepts."""


# ---------------------------------------------------------------- REST

_PATRON = {"patron_id": "P-1", "name": "Jan", "blocked": False, "block_reason": None,
           "loan_count": 1, "loan_limit": 10}
_OUTCOME = {"ok": True, "reason": "ok", "item_id": "I-1", "title": "Kaas", "due": "2026-12-22",
            "screen_message": "", "hold_shelf": False, "sort_bin": "", "tx_id": "t-1"}
REST_TEMPLATES: dict[str, Any] = {
    "identify": {"ok": True, "patron": _PATRON},
    "account": {"ok": True, "patron": _PATRON, "fines_cents": 0,
                "loans": [{"item_id": "I-1", "title": "Kaas", "due": "2026-12-22",
                           "renewals": 0}],
                "holds": [{"item_id": "I-2", "title": "Tirza", "ready": True,
                           "pickup_until": "2026-12-10"}]},
    "item": {"ok": True, "item": {"item_id": "I-1", "title": "Kaas", "author": "Elsschot",
                                  "loanable": True, "on_loan": False, "on_hold_for_other": False,
                                  "parts": 1}},
    "checkout": _OUTCOME, "checkin": _OUTCOME, "renew": _OUTCOME,
    "replay": {"results": [{"tx_id": "t-1", "status": "done", "outcome": _OUTCOME,
                            "detail": ""}]},
    "heartbeat": {"server_time": "2026-12-01T10:00:00+00:00", "checkout_ok": True,
                  "checkin_ok": True, "offline_ok": True, "screen_message": ""},
}
NASTY_JSON: tuple[Any, ...] = (
    None, True, False, 0, -1, 10**400, -(10**400), 1e308, -1e308, 0.5, "", " ", "x" * 300,
    [], {}, [None], {"": None}, "9999-12-31", "0001-01-01", "2026-02-30", "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+14:00", "not-a-reason", "ok", "done", "conflict", 2**63, "NaN",
)


def rest_reply(rng: random.Random, endpoint: str, *, tx_ids: list[str] | None = None) -> bytes:
    """A JSON body for `endpoint` ("identify", "account", ... "heartbeat"), mostly the right
    shape with one to three bent values; sometimes nested a thousand deep or not JSON at all."""
    roll = rng.random()
    if roll < 0.03:
        depth = rng.choice((100, 1000, 5000))
        return ("[" * depth + "]" * depth).encode() if rng.random() < 0.5 else \
            ('{"a":' * depth + "1" + "}" * depth).encode()
    if roll < 0.05:
        return rng.choice((b"", b"null", b"<html>oops</html>", b"{", b'{"ok": tru',
                           "\ufeff{}".encode(), b"\xff\xfe"))
    reply = json.loads(json.dumps(REST_TEMPLATES[endpoint]))
    if endpoint == "replay" and tx_ids:
        reply["results"] = [dict(reply["results"][0], tx_id=t) for t in tx_ids]
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        _bend(rng, reply)
    return json.dumps(reply).encode()


def _bend(rng: random.Random, node: Any) -> None:
    """Replace, drop or add one value somewhere in `node` (a dict or list)."""
    path: list[tuple[Any, Any]] = []
    while isinstance(node, dict | list) and node:
        key = rng.choice(list(node.keys())) if isinstance(node, dict) else \
            rng.randrange(len(node))
        path.append((node, key))
        if rng.random() < 0.4:
            break
        node = node[key]
    if not path:
        return
    parent, key = path[-1]
    action = rng.random()
    if action < 0.7:
        parent[key] = copy.deepcopy(rng.choice(NASTY_JSON))  # never share a nasty [] or {}
    elif action < 0.85 and isinstance(parent, dict):
        del parent[key]
    elif isinstance(parent, list):
        parent.extend(copy.deepcopy(parent[key]) for _ in range(rng.choice((1, 50, 999))))
    else:
        parent[rng.choice(("extra", "", "ok", "patron", "loans"))] = \
            copy.deepcopy(rng.choice(NASTY_JSON))
