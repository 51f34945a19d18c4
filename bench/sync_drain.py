"""Draining 10,000 queued offline transactions to the reference service: batched vs one by one.

The reference service runs in its own process on 127.0.0.1 (as it would on a server); the
kiosk side is the real journal, REST client and sync worker. "naive" is the same worker with a
batch size of 1, i.e. one HTTP request per transaction.

Then the same queue over SIP2, to pysip2's server in its own process. SIP2 sends one message per
transaction anyway, and the worker replays one row at a time (`Sip2Backend.replay_batch_limit`:
each answer is journaled before the next request, so a crash leaves at most one row in doubt).
`sip2_batched_s` is the same drain with batches of 500 handed to the backend, the behaviour
before that rule, to show what the rule costs (two journal commits per row instead of per batch).
Run: .venv/bin/python bench/sync_drain.py [N] [NAIVE_N]
(NAIVE_N defaults to N; a smaller NAIVE_N is scaled up to N and reported as such.)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN
from domain.model import Transaction, TransactionKind
from kiosk.backends.rest import RestBackend
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal, State
from kiosk.sync import SyncWorker
from kiosk.testing.central_process import CentralProcess
from kiosk.testing.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
SIP2_TESTS = ROOT / "tests" / "sip2"  # the test library behind pysip2's server lives there

PATRONS = ["P0015", "P0017", "P0018", "P0019", "P0020"]


def _queue(journal: Journal, n: int, offset: int) -> None:
    """Alternate checkout / checkin of the same item, so every transaction is valid."""
    for i in range(n):
        k = offset + i // 2
        item = AVAILABLE_ITEMS[k % len(AVAILABLE_ITEMS)]
        kind = TransactionKind.CHECKOUT if i % 2 == 0 else TransactionKind.CHECKIN
        journal.record(Transaction(kind, PATRONS[k % len(PATRONS)], item, offline=True,
                                   kiosk_id=DEMO_KIOSK_ID), State.PENDING)


def _drain(url: str, journal: Journal, batch_size: int) -> tuple[float, int]:
    with RestBackend(url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as backend:
        worker = SyncWorker(journal, backend, connectivity=Connectivity(), batch_size=batch_size)
        t0 = time.perf_counter()
        report = worker.drain()
        elapsed = time.perf_counter() - t0
    if report.remaining or report.error or report.conflicts:
        raise SystemExit(f"drain did not complete cleanly: {report}")
    return elapsed, report.done


def _sip2_drain(tmp: Path, n: int, batch_limit: int) -> float:
    """Seconds to drain `n` queued loans and returns of the SIP2 test library's crash patron."""
    sys.path.insert(0, str(SIP2_TESTS))
    from sip2_library_acs import CRASH_ITEMS, CRASH_PATRON, settings_for

    from kiosk.backends.sip2 import Sip2Backend

    journal = Journal(tmp / f"sip2-{batch_limit}.db")
    for i in range(n):
        item = CRASH_ITEMS[(i // 2) % len(CRASH_ITEMS)]
        kind = TransactionKind.CHECKOUT if i % 2 == 0 else TransactionKind.CHECKIN
        journal.record(Transaction(kind, CRASH_PATRON, item, offline=True,
                                   kiosk_id=DEMO_KIOSK_ID), State.PENDING)
    with ServerProcess([sys.executable, str(SIP2_TESTS / "sip2_library_acs.py"), "--crash"],
                       what="the SIP2 ACS", env={"PYTHONPATH": str(ROOT)}) as acs, \
            Sip2Backend(settings_for(acs.port, summary_flags=["charged"])) as backend:
        backend.replay_batch_limit = batch_limit  # 500: the old, batch-at-once behaviour
        worker = SyncWorker(journal, backend, connectivity=Connectivity(), batch_size=500)
        t0 = time.perf_counter()
        report = worker.drain()
        elapsed = time.perf_counter() - t0
    journal.close()
    if report.remaining or report.error or report.conflicts or report.done != n:
        raise SystemExit(f"SIP2 drain did not complete cleanly: {report}")
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    naive_n = int(sys.argv[2]) if len(sys.argv) > 2 else n
    with tempfile.TemporaryDirectory() as tmp, CentralProcess(Path(tmp) / "central.db") as c:
        batched_journal = Journal(Path(tmp) / "batched.db")
        _queue(batched_journal, n, 0)
        batched_s, done = _drain(c.url, batched_journal, 500)
        naive_journal = Journal(Path(tmp) / "naive.db")
        _queue(naive_journal, naive_n, 0)
        naive_measured, naive_done = _drain(c.url, naive_journal, 1)
        sip2_s = _sip2_drain(Path(tmp), n, 1)
        sip2_batched_s = _sip2_drain(Path(tmp), n, 500)
    naive_s = naive_measured * n / naive_n
    result = {"n": n, "batched_s": round(batched_s, 2), "naive_s": round(naive_s, 2),
              "naive_measured_n": naive_n, "ratio": round(naive_s / batched_s, 1),
              "sip2_s": round(sip2_s, 2), "sip2_batched_s": round(sip2_batched_s, 2)}
    print(f"{done} transactions drained in {batched_s:.2f} s batched (500 per request); "
          f"one by one: {naive_measured:.2f} s for {naive_done}"
          + (f", scaled to {n}: {naive_s:.1f} s" if naive_n != n else ""))
    print(f"over SIP2: {sip2_s:.2f} s one row at a time; {sip2_batched_s:.2f} s with batches "
          f"handed to the backend (the old behaviour)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
