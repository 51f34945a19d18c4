"""Offline commit latency: one transaction made durable in the journal (WAL + fsync).

Baseline in the same run: a bare os.write + os.fsync of a similar record to a file on the same
disk, so the ratio says what SQLite and our bookkeeping add to the unavoidable fsync.
Run: .venv/bin/python bench/journal_commit.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from domain.model import Transaction, TransactionKind
from kiosk.journal import Journal, State


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(dir=here) as tmp:
        journal = Journal(Path(tmp) / "journal.db")
        raw = os.open(Path(tmp) / "raw.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        commit_ms: list[float] = []
        fsync_ms: list[float] = []
        for i in range(n):
            tx = Transaction(TransactionKind.CHECKOUT, "P0015", f"37000000{i:05d}",
                             offline=True, kiosk_id="bench")
            t0 = time.perf_counter()
            journal.record(tx, State.PENDING)
            commit_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            os.write(raw, repr(tx).encode() * 2 + b"\n")
            os.fsync(raw)
            fsync_ms.append((time.perf_counter() - t0) * 1000)
        os.close(raw)
        journal.close()
    result = {
        "n": n,
        "p50_ms": round(statistics.median(commit_ms), 3),
        "p99_ms": round(_pct(commit_ms, 0.99), 3),
        "fsync_p50_ms": round(statistics.median(fsync_ms), 3),
        "fsync_p99_ms": round(_pct(fsync_ms, 0.99), 3),
        "ratio_p50": round(statistics.median(commit_ms) / statistics.median(fsync_ms), 2),
    }
    print(f"journal commit over {n} offline transactions: p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms (bare fsync p50 {result['fsync_p50_ms']} ms)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
