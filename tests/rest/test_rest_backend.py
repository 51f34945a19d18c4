"""RestBackend against the real central service: every CatalogBackend method, parsed into the
domain types the kiosk uses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from central.server import RunningServer
from central.service import library_day
from domain.demo_library import (
    AVAILABLE_ITEMS,
    DEMO_KIOSK_ID,
    HELD_ITEMS,
    MULTIPART_ITEMS,
    PATRONS_BY_ROLE,
    REFERENCE_ITEM,
    RENEW_LIMIT_ITEM,
    SEED_ITEMS,
    WAITED_FOR_ITEM,
)
from domain.model import (
    Account,
    Credential,
    CredentialKind,
    Item,
    Loan,
    Patron,
    ReasonCode,
    ReplayStatus,
    Transaction,
    TransactionKind,
)
from kiosk.backends.base import BackendStatus, CatalogBackend, Refused
from kiosk.backends.rest import RestBackend

JAN = PATRONS_BY_ROLE["card"]
AN = PATRONS_BY_ROLE["eid"]
def today() -> date:
    """The library's day now (the service counts in it), asked when a test runs: a run that
    crosses midnight must not compare with the day it was collected on."""
    return library_day(datetime.now(UTC))


def checkout(patron_id: str, item_id: str, **kw: object) -> Transaction:
    return Transaction(TransactionKind.CHECKOUT, patron_id, item_id, **kw)  # type: ignore[arg-type]


def test_it_is_a_catalog_backend(backend: RestBackend) -> None:
    assert isinstance(backend, CatalogBackend)
    assert "demo-token" not in repr(backend)


def test_identify_returns_a_patron(backend: RestBackend) -> None:
    patron = backend.identify(Credential(CredentialKind.CARD_UID, "04A1B2C3D4E5F6"))
    assert patron == Patron(patron_id=JAN.patron_id, name="Jan Peeters", blocked=False,
                            block_reason=None, loan_count=1, loan_limit=10, category="adult")
    assert backend.identify(Credential(CredentialKind.EID, AN.eid or ""), pin="1234"
                            ).patron_id == AN.patron_id


def test_identify_blocked_patron_carries_the_reason(backend: RestBackend) -> None:
    fined = PATRONS_BY_ROLE["high_fine"]
    patron = backend.identify(Credential(CredentialKind.BARCODE, fined.barcode))
    assert (patron.blocked, patron.block_reason) == (True, ReasonCode.FINES_TOO_HIGH)


@pytest.mark.parametrize(("value", "pin", "reason"), [
    ("0000000000000", None, ReasonCode.UNKNOWN_PATRON),
    (JAN.barcode, "9999", ReasonCode.WRONG_PIN),
])
def test_identify_refusals(backend: RestBackend, value: str, pin, reason) -> None:
    with pytest.raises(Refused) as refused:
        backend.identify(Credential(CredentialKind.BARCODE, value), pin=pin)
    assert refused.value.reason is reason


def test_account_is_parsed_into_domain_types(backend: RestBackend) -> None:
    account = backend.account("P0008")
    assert isinstance(account, Account)
    assert {loan.item_id for loan in account.loans} == {RENEW_LIMIT_ITEM, WAITED_FOR_ITEM}
    assert all(isinstance(loan, Loan) and isinstance(loan.due, date) for loan in account.loans)
    pieter = backend.account("P0007")
    assert pieter.holds[0].ready is True
    assert pieter.holds[0].pickup_until == today() + timedelta(days=5)
    assert backend.account("P0004").fines_cents == 250
    with pytest.raises(Refused) as refused:
        backend.account("P9999")
    assert refused.value.reason is ReasonCode.UNKNOWN_PATRON


def test_item_lookup(backend: RestBackend) -> None:
    assert backend.item(REFERENCE_ITEM).loanable is False
    assert backend.item(MULTIPART_ITEMS[0]).parts > 1
    held = backend.item(HELD_ITEMS[0])
    assert isinstance(held, Item) and held.on_hold_for_other is True
    with pytest.raises(Refused) as refused:
        backend.item("37?patron_id=P0001#x")  # quoted: stays one path segment
    assert refused.value.reason is ReasonCode.UNKNOWN_ITEM


def test_checkout_checkin_renew(backend: RestBackend) -> None:
    lent = backend.checkout(checkout(AN.patron_id, AVAILABLE_ITEMS[0]))
    assert lent.ok and lent.due == today() + timedelta(days=21)
    assert lent.title == next(i.title for i in SEED_ITEMS if i.item_id == AVAILABLE_ITEMS[0])
    renewed = backend.renew(Transaction(TransactionKind.RENEW, AN.patron_id, AVAILABLE_ITEMS[0]))
    assert renewed.ok and renewed.reason is ReasonCode.OK
    back = backend.checkin(Transaction(TransactionKind.CHECKIN, None, AVAILABLE_ITEMS[0]))
    assert (back.ok, back.hold_shelf, back.sort_bin) == (True, False, "A")
    again = backend.checkin(Transaction(TransactionKind.CHECKIN, None, AVAILABLE_ITEMS[0]))
    assert (again.ok, again.reason) == (True, ReasonCode.NOT_ON_LOAN)
    to_hold_shelf = backend.checkin(Transaction(TransactionKind.CHECKIN, None, WAITED_FOR_ITEM))
    assert (to_hold_shelf.hold_shelf, to_hold_shelf.sort_bin) == (True, "R")


@pytest.mark.parametrize(("patron", "item", "reason"), [
    ("blocked", AVAILABLE_ITEMS[1], ReasonCode.BLOCKED),
    ("at_limit", AVAILABLE_ITEMS[1], ReasonCode.TOO_MANY_ITEMS),
    ("card", REFERENCE_ITEM, ReasonCode.NOT_FOR_LOAN),
    ("card", HELD_ITEMS[0], ReasonCode.ON_HOLD_FOR_OTHER),
])
def test_checkout_refusals_raise_refused_with_the_reason(backend, patron, item, reason) -> None:
    with pytest.raises(Refused) as refused:
        backend.checkout(checkout(PATRONS_BY_ROLE[patron].patron_id, item))
    assert refused.value.reason is reason
    assert refused.value.message  # the service's screen message travels along


def test_renew_limit(backend: RestBackend) -> None:
    with pytest.raises(Refused) as refused:
        backend.renew(Transaction(TransactionKind.RENEW, "P0008", RENEW_LIMIT_ITEM))
    assert refused.value.reason is ReasonCode.RENEW_LIMIT


def test_same_transaction_sent_twice_lends_once(backend: RestBackend) -> None:
    tx = checkout(AN.patron_id, AVAILABLE_ITEMS[2])
    assert backend.checkout(tx) == backend.checkout(tx)
    assert len(backend.account(AN.patron_id).loans) == 1


def test_replay_reports_per_transaction(backend: RestBackend) -> None:
    earlier = datetime.now(UTC) - timedelta(days=2)
    results = backend.replay([
        checkout(AN.patron_id, AVAILABLE_ITEMS[3], offline=True, created_at=earlier),
        checkout(AN.patron_id, "0000000000000", offline=True),
        Transaction(TransactionKind.CHECKIN, None, AVAILABLE_ITEMS[4], offline=True),
    ])
    assert [r.status for r in results] == [ReplayStatus.DONE, ReplayStatus.CONFLICT,
                                           ReplayStatus.DONE]
    assert results[0].outcome is not None
    assert results[0].outcome.due == library_day(earlier) + timedelta(days=21)
    assert results[1].outcome is not None
    assert results[1].outcome.reason is ReasonCode.UNKNOWN_ITEM and results[1].detail


def test_replay_of_a_void(backend: RestBackend) -> None:
    lend = checkout(AN.patron_id, AVAILABLE_ITEMS[5])
    void = Transaction(TransactionKind.VOID, None, AVAILABLE_ITEMS[5], ref_tx_id=lend.tx_id)
    results = backend.replay([lend, void])
    assert [r.status for r in results] == [ReplayStatus.DONE, ReplayStatus.DONE]
    assert backend.account(AN.patron_id).loans == ()


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.posts = 0

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.posts += method == "POST"
        return super().request(method, url, *args, **kwargs)


def test_replay_is_chunked_to_500(server: RunningServer) -> None:
    session = CountingSession()
    txs = [Transaction(TransactionKind.CHECKIN, None, AVAILABLE_ITEMS[n % 50], offline=True)
           for n in range(501)]
    with RestBackend(server.url, "demo-token-not-a-secret", kiosk_id=DEMO_KIOSK_ID,
                     session=session) as client:
        results = client.replay(txs)
    assert [r.tx_id for r in results] == [tx.tx_id for tx in txs]
    assert all(r.status is ReplayStatus.DONE for r in results)
    assert session.posts == 2
    session.close()  # ours: the backend does not close a session it was given


def test_heartbeat_returns_the_server_clock(backend: RestBackend) -> None:
    status = backend.heartbeat({"queue_length": 2, "since": datetime.now(UTC)})
    assert isinstance(status, BackendStatus) and status.online
    assert status.server_time is not None
    assert abs(status.server_time - datetime.now(UTC)) < timedelta(seconds=5)


def test_end_session_is_a_no_op(backend: RestBackend) -> None:
    assert backend.end_session(JAN.patron_id) is None


def test_transaction_ids_travel_unchanged(backend: RestBackend) -> None:
    tx_id = str(uuid.uuid4())
    outcome = backend.checkout(checkout(AN.patron_id, AVAILABLE_ITEMS[6], tx_id=tx_id))
    assert outcome.tx_id == tx_id
