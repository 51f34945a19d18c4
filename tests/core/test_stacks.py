"""A pile of books is one stack: journaled in one commit, sent in one request, settled in one
commit, and told to the patron per item, with the same promise as one book."""

from __future__ import annotations

import sqlite3

from domain.demo_library import AVAILABLE_ITEMS, HELD_ITEMS, SEED_PATRONS
from domain.model import Credential, CredentialKind, Outcome, ReasonCode, TransactionKind
from kiosk.circulation import OfflinePolicy, StackItem

PLAIN = next(p for p in SEED_PATRONS if p.patron_id == "P0015")


def _patron(core):
    patron = core.circulation.identify(Credential(CredentialKind.BARCODE, PLAIN.barcode)).patron
    assert patron is not None
    return patron


def _loans(core) -> set[str]:
    return {loan.item_id for loan in core.backend.account(PLAIN.patron_id).loans}


def _commits(core) -> list[int]:
    """Counts every journal commit from now on (SQLite's own trace of COMMIT statements)."""
    seen: list[int] = []
    db: sqlite3.Connection = core.journal._db
    db.set_trace_callback(lambda sql: seen.append(1) if sql.strip().upper() == "COMMIT" else None)
    return seen


def test_ten_books_take_one_request_two_commits_and_come_back_in_order(make_core, twin):
    core = make_core(on=twin)
    patron = _patron(core)
    items = list(AVAILABLE_ITEMS[:10])
    twin.requests.clear()
    commits = _commits(core)
    told: list[Outcome] = []
    outcomes = core.circulation.transact_stack(
        TransactionKind.CHECKOUT, patron, [StackItem(i) for i in items], on_outcome=told.append)
    assert [o.item_id for o in outcomes] == items
    assert all(o.ok and o.due and not o.offline for o in outcomes)
    assert sorted(o.item_id for o in told) == sorted(items)  # each told once
    assert twin.requests == [("POST", "/v1/circulation/stack")]
    assert len(commits) == 2  # intents, then answers: not two per book
    assert set(items) <= _loans(core)
    assert core.journal.counts() == {}


def test_a_partial_refusal_is_per_item_and_the_rest_are_borrowed(make_core, twin):
    core = make_core(on=twin)
    patron = _patron(core)
    items = [AVAILABLE_ITEMS[0], HELD_ITEMS[0], AVAILABLE_ITEMS[1]]
    outcomes = core.circulation.transact_stack(TransactionKind.CHECKOUT, patron,
                                               [StackItem(i) for i in items])
    assert [(o.item_id, o.ok) for o in outcomes] == [
        (items[0], True), (items[1], False), (items[2], True)]
    assert outcomes[1].reason == ReasonCode.ON_HOLD_FOR_OTHER and outcomes[1].title
    assert core.journal.counts() == {}  # the refused one left nothing to forward


def test_a_stack_that_finds_the_library_gone_follows_the_offline_policy_per_item(
        make_core, twin):
    core = make_core(on=twin, policy=OfflinePolicy(max_items_per_patron=3))
    patron = _patron(core)
    twin.fail_next(503)  # the stack request finds the service busy
    items = list(AVAILABLE_ITEMS[:5])
    outcomes = core.circulation.transact_stack(TransactionKind.CHECKOUT, patron,
                                               [StackItem(i) for i in items])
    assert [o.ok for o in outcomes] == [True, True, True, False, False]
    assert all(o.offline for o in outcomes)
    assert {o.reason for o in outcomes[3:]} == {ReasonCode.OFFLINE_LIMIT}
    # three queued loans, and the two refused ones voided (the server may have seen them)
    assert core.journal.counts().get("pending", 0) == 3 + 2
    twin.go_online()
    core.sync.drain()
    assert _loans(core) & set(items) == set(items[:3])


def test_a_service_without_the_stack_endpoint_gets_the_items_one_by_one(make_core, twin):
    core = make_core(on=twin)
    patron = _patron(core)
    twin.fail_next(404)  # a central service from before stacks
    twin.requests.clear()
    items = list(AVAILABLE_ITEMS[:3])
    outcomes = core.circulation.transact_stack(TransactionKind.CHECKOUT, patron,
                                               [StackItem(i) for i in items])
    assert all(o.ok and not o.offline for o in outcomes)
    assert twin.requests == [("POST", "/v1/circulation/stack")] + [("POST", "/v1/checkout")] * 3
    outcomes = core.circulation.transact_stack(TransactionKind.CHECKIN, None,
                                               [StackItem(i) for i in items])
    assert all(o.ok for o in outcomes)
    assert ("POST", "/v1/circulation/stack") not in twin.requests[4:]  # remembered


def test_offline_a_stack_costs_two_commits_however_many_books(make_core, twin):
    """Intents, then "no answer: queued" for all (these tests retry online at every act)."""
    core = make_core(on=twin)
    patron = _patron(core)
    twin.go_offline()
    core.connectivity.report(False, "test")
    commits = _commits(core)
    outcomes = core.circulation.transact_stack(TransactionKind.CHECKIN, patron,
                                               [StackItem(i) for i in AVAILABLE_ITEMS[:8]])
    assert all(o.ok and o.offline for o in outcomes)
    assert len(commits) == 2
    assert core.journal.pending_count() == 8


def test_a_pile_bigger_than_the_loan_limit_lends_up_to_it_and_says_why_for_the_rest(
        make_core, twin):
    core = make_core(on=twin)
    patron = _patron(core)
    items = list(AVAILABLE_ITEMS[30:42])  # twelve books; the library lends ten at a time
    outcomes = core.circulation.transact_stack(TransactionKind.CHECKOUT, patron,
                                               [StackItem(i) for i in items])
    assert [o.ok for o in outcomes] == [True] * 10 + [False] * 2
    assert {o.reason for o in outcomes[10:]} == {ReasonCode.TOO_MANY_ITEMS}
    assert _loans(core) >= set(items[:10])
