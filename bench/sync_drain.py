"""Draining 10,000 queued offline transactions to the reference service: batched vs one by one.

The reference service runs in its own process on 127.0.0.1 (as it would on a server); the
kiosk side is the real journal, REST client and sync worker. "naive" is the same worker with a
batch size of 1, i.e. one HTTP request per transaction.
Run: .venv/bin/python bench/sync_drain.py [N] [NAIVE_N]
(NAIVE_N defaults to N; a smaller NAIVE_N is scaled up to N and reported as such.)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from central.seed import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk.backends.rest import RestBackend
from kiosk.domain import Transaction, TransactionKind
from kiosk.journal import Journal, State
from kiosk.sync import SyncWorker
from kiosk.testing.central_process import CentralProcess

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
        worker = SyncWorker(journal, backend, batch_size=batch_size)
        t0 = time.perf_counter()
        report = worker.drain()
        elapsed = time.perf_counter() - t0
    if report.remaining or report.error or report.conflicts:
        raise SystemExit(f"drain did not complete cleanly: {report}")
    return elapsed, report.done


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
    naive_s = naive_measured * n / naive_n
    result = {"n": n, "batched_s": round(batched_s, 2), "naive_s": round(naive_s, 2),
              "naive_measured_n": naive_n, "ratio": round(naive_s / batched_s, 1)}
    print(f"{done} transactions drained in {batched_s:.2f} s batched (500 per request); "
          f"one by one: {naive_measured:.2f} s for {naive_done}"
          + (f", scaled to {n}: {naive_s:.1f} s" if naive_n != n else ""))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
