"""Sync through a fault-injecting proxy and against malformed servers: it always converges.

Offline transactions are queued, then forwarded while the network refuses, stalls, answers
500/503 (with Retry-After) or resets mid-reply, in a random order. Whatever happens, the rows
stay queued until an answer is recorded, and the final state on the server is the same: each
transaction applied exactly once.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN, SEED_PATRONS
from domain.model import Credential, CredentialKind
from kiosk.backends.rest import RestBackend
from kiosk.connectivity import Connectivity
from kiosk.sync import SyncWorker

PATRONS = [p for p in SEED_PATRONS if p.patron_id in ("P0015", "P0017", "P0018")]
FAULTS = ["refuse", "stall", "http_500", "http_503", "reset"]


def _queue_offline_work(core, library) -> tuple[set[str], set[str]]:
    """Borrow 12 items among three patrons offline, return 4 of them; return (tx ids, loans)."""
    patrons = [core.circulation.identify(Credential(CredentialKind.BARCODE, p.barcode)).patron
               for p in PATRONS]
    library.proxy.cut()
    tx_ids: set[str] = set()
    on_loan: set[str] = set()
    for n, item in enumerate(AVAILABLE_ITEMS[20:32]):
        outcome = core.circulation.checkout(patrons[n % 3], item)
        assert outcome.ok and outcome.offline
        tx_ids.add(outcome.tx_id)
        on_loan.add(item)
    for item in AVAILABLE_ITEMS[20:24]:
        outcome = core.circulation.checkin(item)
        assert outcome.ok and outcome.offline
        tx_ids.add(outcome.tx_id)
        on_loan.discard(item)
    return tx_ids, on_loan


def _server_state(library, tx_ids: set[str]) -> tuple[set[str], dict[str, int]]:
    with sqlite3.connect(f"file:{library.db_path}?mode=ro", uri=True) as db:
        loans = {i for (i,) in db.execute(
            f"SELECT item_id FROM loans WHERE item_id IN ({','.join('?' * 12)})",
            AVAILABLE_ITEMS[20:32])}
        applied = dict(db.execute(
            "SELECT tx_id, COUNT(*) FROM transactions WHERE status = 'done' GROUP BY tx_id"))
    return loans, {t: applied.get(t, 0) for t in tx_ids}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sync_converges_whatever_the_network_does(make_core, library, seed):
    core = make_core(batch_size=3)
    tx_ids, expected_loans = _queue_offline_work(core, library)
    core.backend.timeout = (0.3, 0.6)  # short only while the network misbehaves
    rng = random.Random(seed)
    library.proxy.retry_after = "1"
    for round_ in range(8):
        library.proxy.mode = rng.choice(FAULTS) if round_ < 7 else FAULTS[round_ % 5]
        report = core.sync.drain(max_batches=2)
        assert report.error, "every fault must be seen as 'try later'"
        if library.proxy.mode == "http_503":
            assert report.retry_in is not None and report.retry_in >= 1.0
        assert core.journal.pending_count() == 16, "a fault must never lose a queued row"
        assert core.journal.counts().get("conflict", 0) == 0
    library.proxy.restore()
    core.backend.timeout = (2.0, 10.0)
    assert core.sync.drain().remaining == 0
    loans, applied = _server_state(library, tx_ids)
    assert loans == expected_loans
    assert set(applied.values()) == {1}  # every transaction applied, none twice


def test_a_reply_lost_mid_batch_is_replayed_without_a_second_effect(make_core, library):
    core = make_core(batch_size=100)
    tx_ids, expected_loans = _queue_offline_work(core, library)
    library.proxy.mode = "reset"  # the server applies the batch; the answer never arrives
    assert core.sync.drain().error
    loans, applied = _server_state(library, tx_ids)
    assert loans == expected_loans and set(applied.values()) == {1}
    library.proxy.restore()
    report = core.sync.drain()
    assert (report.done, report.remaining) == (16, 0)
    assert _server_state(library, tx_ids) == (loans, applied)


class _Malformed(BaseHTTPRequestHandler):
    body = b""
    content_type = "application/json"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        """Quiet: the test judges by what the kiosk recorded, not by http.server's log."""


@pytest.fixture
def malformed_server() -> Iterator[tuple[str, type[_Malformed]]]:
    handler = type("Handler", (_Malformed,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


MALFORMED = [
    ("application/json", b"{not json"),
    ("text/html", b"<html><body>Proxy login required</body></html>"),
    ("application/json", json.dumps({"results": "all fine"}).encode()),
    ("application/json", json.dumps({"results": [{"tx_id": 5, "status": []}]}).encode()),
    ("application/json", json.dumps({"answers": []}).encode()),
    ("application/json", json.dumps({"results": [{"tx_id": "x", "status": "maybe"}]}).encode()),
]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED)
def test_a_malformed_reply_is_a_clear_error_and_loses_nothing(
        make_core, library, malformed_server, content_type, body, caplog):
    core = make_core()
    tx_ids, expected_loans = _queue_offline_work(core, library)
    library.proxy.restore()
    url, handler = malformed_server
    handler.content_type, handler.body = content_type, body
    with RestBackend(url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as broken:
        report = SyncWorker(core.journal, broken, connectivity=Connectivity()).drain()
    assert report.error and report.done == 0
    # the technician finds a plain sentence in the log, not a traceback
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and all("malformed reply" in r.getMessage() for r in errors)
    assert not any(r.exc_info for r in caplog.records)
    assert core.journal.pending_count() == 16
    assert core.sync.drain().remaining == 0  # the real server then takes them all
    loans, applied = _server_state(library, tx_ids)
    assert loans == expected_loans and set(applied.values()) == {1}
