"""A stack over several SIP2 connections, against pysip2's server (someone else's ACS): the
checkouts overlap, each item is applied exactly once, and an ILS that allows one login per
kiosk account gets one connection and a log line."""

from __future__ import annotations

import logging
import time

from sip2_library_acs import LENT, RETURNED, LibItem, LibPatron, Library, RunningAcs, settings_for

from central.faultproxy import FaultProxy
from domain.model import Outcome, Transaction, TransactionKind
from kiosk.backends.base import BackendUnavailable, Refused
from kiosk.backends.sip2 import Sip2Backend

ITEMS = tuple(f"S{n:02d}" for n in range(1, 9))


def _library(work_s: float, **kw: object) -> Library:
    lib = Library(patrons={"P100": LibPatron("Ann Reader", "1234")},
                  items={i: LibItem(f"Title {i}") for i in ITEMS}, **kw)  # type: ignore[arg-type]
    lib.loan_limit = len(ITEMS)
    lib.work_s = work_s
    return lib


def _stack(backend: Sip2Backend, kind: TransactionKind) -> tuple[dict[str, object], float]:
    txs = [Transaction(kind=kind, patron_id="P100", item_id=i) for i in ITEMS]
    started = time.perf_counter()
    answers = {tx.item_id: answer for batch in backend.send_stack(txs) for tx, answer in batch}
    return answers, time.perf_counter() - started


def test_four_connections_overlap_a_stack_and_apply_each_item_once() -> None:
    lib = _library(work_s=0.1)
    with RunningAcs(lib) as acs, Sip2Backend(settings_for(acs.port, connections=4)) as backend:
        backend.heartbeat({})  # the first connection is up, as on a running kiosk
        answers, took = _stack(backend, TransactionKind.CHECKOUT)
        assert sorted(answers) == sorted(ITEMS)
        assert all(isinstance(a, Outcome) and a.ok and a.due for a in answers.values())
        # one after the other this is 8 x 0.1 s; four at a time about 0.2 s plus the logins
        assert took < 0.55, took
        assert lib.logins == 4
        returned, _ = _stack(backend, TransactionKind.CHECKIN)
        assert all(isinstance(a, Outcome) and a.ok for a in returned.values())
    assert {item: "".join(lib.acts[item]) for item in ITEMS} == {
        item: LENT + RETURNED for item in ITEMS}


def test_an_ils_with_one_login_per_account_gets_one_connection_and_a_log_line(caplog) -> None:
    lib = _library(work_s=0.0, max_logins=1)
    with RunningAcs(lib) as acs, Sip2Backend(settings_for(acs.port, connections=3)) as backend:
        backend.heartbeat({})
        with caplog.at_level(logging.WARNING):
            answers, _ = _stack(backend, TransactionKind.CHECKOUT)
        assert all(isinstance(a, Outcome) and a.ok for a in answers.values())
        assert any("did not accept another connection" in r.getMessage() for r in caplog.records)
        logins = lib.logins
        _stack(backend, TransactionKind.CHECKIN)
        assert lib.logins == logins  # not asked again for every stack
    assert all("".join(lib.acts[item]) == LENT + RETURNED for item in ITEMS)


def test_a_refusal_in_a_parallel_stack_is_that_item_s_answer_only() -> None:
    lib = _library(work_s=0.02)
    lib.items["S03"].loanable = False
    with RunningAcs(lib) as acs, Sip2Backend(settings_for(acs.port, connections=4)) as backend:
        answers, _ = _stack(backend, TransactionKind.CHECKOUT)
    assert isinstance(answers["S03"], Refused)
    assert all(isinstance(answers[i], Outcome) for i in ITEMS if i != "S03")


def test_when_the_line_drops_mid_stack_every_item_still_gets_one_answer() -> None:
    lib = _library(work_s=0.05)
    with RunningAcs(lib) as acs, FaultProxy("127.0.0.1", acs.port) as proxy, \
            Sip2Backend(settings_for(proxy.port, connections=2, timeout_s=0.5,
                                     retries=0)) as backend:
        backend.heartbeat({})
        txs = [Transaction(kind=TransactionKind.CHECKOUT, patron_id="P100", item_id=i)
               for i in ITEMS]
        batches = backend.send_stack(txs)
        first = next(batches)
        proxy.cut()  # the network goes
        answers = first + [a for batch in batches for a in batch]
    assert sorted(tx.item_id for tx, _ in answers) == sorted(ITEMS)  # each exactly once
    unanswered = [tx.item_id for tx, a in answers if isinstance(a, BackendUnavailable)]
    assert unanswered  # the rest were not sent, or their answers were lost
    lent = {i for i in ITEMS if lib.acts.get(i) == [LENT]}
    assert {tx.item_id for tx, a in answers if isinstance(a, Outcome)} <= lent
    # an item not sent at all was not lent: only the ones in flight at the cut may have been
    assert len(lent - {tx.item_id for tx, a in answers if isinstance(a, Outcome)}) <= 2
