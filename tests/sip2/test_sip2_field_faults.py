"""Faults met against real library systems, through the kiosk's real journal, circulation and
sync worker: a record that kills the server's worker, idle connections the server closes, a
server that freezes or drips its bytes.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pysip2 import CheckoutResponse
from sip2_fault_acs import DRIP, STALL, FaultAcs, encode_reply, now18
from sip2_library_acs import LENT, NOT_ON_LOAN, RETURNED, RunningAcs, settings_for
from sip2_losing_relay import LosingRelay

from domain.model import Credential, CredentialKind, Patron, Transaction, TransactionKind
from kiosk.backends.sip2 import Sip2Backend, Sip2Settings
from kiosk.circulation import CirculationService
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal, State
from kiosk.sync import Backoff, SyncWorker


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as j:
        yield j


def lent(request: bytes) -> bytes:
    """pysip2's 12 for a checkout of I001 to P100 that the library applied."""
    return encode_reply(CheckoutResponse(
        ok="1", renewal_ok="N", magnetic_media="N", desensitize="Y",
        transaction_date=now18(), institution_id="MAIN", patron_identifier="P100",
        item_identifier="I001", title_identifier="Kaas", due_date=now18()), request)


def _offline(kind: TransactionKind, patron: str | None, item: str) -> Transaction:
    return Transaction(kind, patron, item, offline=True)


def test_a_record_that_kills_the_server_is_quarantined_and_the_rest_goes_on(journal) -> None:
    with RunningAcs() as acs, LosingRelay(acs.port) as relay:
        relay.poison = {"I002"}
        backend = Sip2Backend(settings_for(relay.port))
        connectivity = Connectivity(recheck_s=0.0)
        sync = SyncWorker(journal, backend, connectivity=connectivity,
                          backoff=Backoff(0.001, 0.002), poison_after=3)
        rows = [_offline(TransactionKind.CHECKOUT, "P100", "I001"),
                _offline(TransactionKind.CHECKOUT, "P100", "I002"),  # the poison
                _offline(TransactionKind.CHECKOUT, "P100", "I003"),
                _offline(TransactionKind.CHECKIN, None, "I002")]  # must stay behind it
        for tx in rows:
            journal.record(tx, State.PENDING)
        reports = [sync.drain() for _ in range(6)]
        assert sum(r.quarantined for r in reports) == 2
        assert journal.pending_count() == 0
        assert acs.library.loans_of("P100") == ["I001", "I003", "I006"]  # I006 was lent before
        states = {r.item_id + r.kind: r for r in journal.rows()}
        assert states["I002checkout"].state == State.QUARANTINED
        assert "failed on this transaction 3 times in a row" in states["I002checkout"].last_error
        assert states["I002checkin"].state == State.QUARANTINED
        assert connectivity.online  # the server answers: the kiosk is not offline
        # the next patron is served online, and a new act on the held item queues behind it
        circulation = CirculationService(backend, journal, connectivity=connectivity,
                                         flush=sync.flush)
        who = circulation.identify(Credential(CredentialKind.BARCODE, "P100"), "1234")
        assert who.patron is not None and not who.offline
        late = circulation.checkin("I002", who.patron)
        assert late.ok and late.offline
        assert [r.state for r in journal.rows() if r.item_id == "I002"] == [State.QUARANTINED] * 3
        # staff fixed the record: released, the three rows go in their order
        relay.poison.clear()
        assert journal.release_quarantine() == 3
        assert sync.drain().remaining == 0
        # lent, returned; the patron's later return finds the book back: done, not a conflict
        assert acs.library.acts["I002"] == [LENT, RETURNED, NOT_ON_LOAN]
        assert not [r for r in journal.rows() if r.state in (State.CONFLICT,
                                                             State.QUARANTINED)]
        backend.close()


def test_an_idle_connection_the_server_closed_is_replaced_before_a_checkout() -> None:
    """The server drops the connection after answering (its idle timeout): the next checkout
    must go out once on a fresh connection, not fail as 'unreachable'."""
    def script(code: str, frame: bytes, n: int) -> object:
        return lent(frame) if code == "11" else STALL

    with FaultAcs(script) as acs:
        backend = Sip2Backend(Sip2Settings.from_mapping({
            "host": "127.0.0.1", "port": acs.port, "login_user": "k", "login_password": "x",
            "institution_id": "MAIN", "timeout_s": 2.0}))
        backend.heartbeat({})
        for sock in list(acs._socks):  # the server's idle timeout fires
            sock.shutdown(socket.SHUT_RDWR)
        time.sleep(0.1)
        outcome = backend.checkout(Transaction(TransactionKind.CHECKOUT, "P100", "I001"))
        assert outcome.ok
        assert acs.count("11") == 1 and acs.connections == 2
        backend.close()


@pytest.mark.parametrize("mode", ["frozen", "drip"])
def test_a_patron_never_waits_past_the_bound(journal, mode) -> None:
    """The ACS says its own timeout is 60 s (098 'timeout period' 600) and the kiosk is set to
    adopt it; still, one item takes at most the patron's bound, then the offline policy
    answers and the transaction in doubt is read back before it is sent again."""
    def script(code: str, frame: bytes, n: int) -> object:
        if code != "11":
            return STALL
        if mode == "frozen":
            return STALL  # accepted, never answered
        reply = lent(frame)
        return reply, DRIP

    with FaultAcs(script, acs_timeout="600") as acs:
        backend = Sip2Backend(Sip2Settings.from_mapping({
            "host": "127.0.0.1", "port": acs.port, "login_user": "k", "login_password": "x",
            "institution_id": "MAIN", "timeout_s": 3.0, "use_acs_timeout": True}))
        circulation = CirculationService(backend, journal, connectivity=Connectivity(),
                                         patron_wait_s=1.0)
        started = time.monotonic()
        outcome = circulation.checkout(Patron("P100"), "I001")
        waited = time.monotonic() - started
        assert waited < 1.6, f"the patron waited {waited:.1f} s"
        assert outcome.ok and outcome.offline
        [row] = journal.forwardable()
        assert row.maybe_applied  # read back before it is sent again (exactly once)
        backend.close()


def test_a_refused_return_of_a_book_already_back_is_read_back_not_a_conflict() -> None:
    """Return refused with no message at all: the item's status says it is not on loan, so the
    patron hears "was not on loan" (not "that did not work"), and a replay is done."""
    from pysip2 import CheckinResponse
    from sip2_fault_acs import item_reply

    from domain.model import ReasonCode, ReplayStatus
    from kiosk.backends.base import Refused

    def script(code: str, frame: bytes, n: int) -> object:
        if code == "09":
            return encode_reply(CheckinResponse(
                ok="0", resensitize="N", magnetic_media="N", alert="N", transaction_date=now18(),
                institution_id="MAIN", item_identifier="I001", permanent_location="MAIN"), frame)
        if code == "17":
            return encode_reply(item_reply("I001"), frame)  # circulation status 03: available
        return STALL

    with FaultAcs(script) as acs:
        backend = Sip2Backend(Sip2Settings.from_mapping({
            "host": "127.0.0.1", "port": acs.port, "login_user": "k", "login_password": "x",
            "institution_id": "MAIN", "timeout_s": 2.0}))
        with pytest.raises(Refused) as refused:
            backend.checkin(Transaction(TransactionKind.CHECKIN, None, "I001"))
        assert refused.value.reason is ReasonCode.NOT_ON_LOAN
        [result] = backend.replay([Transaction(TransactionKind.CHECKIN, None, "I001",
                                               offline=True)])
        assert result.status is ReplayStatus.DONE
        backend.close()


def test_status_flags_are_advice_and_doctor_says_what_the_kiosk_does(journal) -> None:
    """The ACS says checkout N in its 98 yet lends: the kiosk lends online, and doctor says so
    (it used to promise "patrons will be served offline")."""
    from kiosk.backends.sip2.doctor import _status_rows

    def script(code: str, frame: bytes, n: int) -> object:
        return lent(frame) if code == "11" else STALL

    with FaultAcs(script, checkout_ok="N") as acs:
        settings = Sip2Settings.from_mapping({
            "host": "127.0.0.1", "port": acs.port, "login_user": "k", "login_password": "x",
            "institution_id": "MAIN", "timeout_s": 2.0})
        backend = Sip2Backend(settings)
        circulation = CirculationService(backend, journal, connectivity=Connectivity())
        outcome = circulation.checkout(Patron("P100"), "I001")
        assert outcome.ok and not outcome.offline
        [row, *_] = _status_rows(backend._client.status(), settings)
        assert "still sends each loan and return online" in row.advice
        assert "served offline" not in row.advice
        backend.close()
