"""How much does the kiosk's REST client add to a borrow + return, over the bare HTTP requests?

Starts the reference service on a loopback port over a freshly seeded SQLite file, then times
N rounds of (checkout, checkin) for the same patron through `RestBackend`, and the same two
requests sent directly with a plain `requests.Session`. Rounds alternate (and alternate which
path goes first) so that disk and scheduler noise hits both paths alike; the figures are
medians per round. Target: overhead < 5 %.

    .venv/bin/python bench/borrow_overhead.py [--rounds 300]

The last line of output is one JSON object: {"kiosk_ms", "direct_ms", "overhead_pct", ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central.db import Database
from central.seed import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN, PATRONS_BY_ROLE, seed
from central.server import start_in_thread
from kiosk.backends.rest import RestBackend
from kiosk.domain import Transaction, TransactionKind

PATRON = PATRONS_BY_ROLE["eid"].patron_id
TIME_LIMIT_S = 50.0


def kiosk_round(backend: RestBackend, item_id: str) -> float:
    started = time.perf_counter()
    lent = backend.checkout(Transaction(TransactionKind.CHECKOUT, PATRON, item_id,
                                        kiosk_id=DEMO_KIOSK_ID))
    back = backend.checkin(Transaction(TransactionKind.CHECKIN, None, item_id,
                                       kiosk_id=DEMO_KIOSK_ID))
    elapsed = time.perf_counter() - started
    if not (lent.ok and back.ok):
        raise RuntimeError("kiosk round was refused; the benchmark's library is not as seeded")
    return elapsed


def direct_round(session: requests.Session, url: str, item_id: str) -> float:
    started = time.perf_counter()
    for path, patron in (("/v1/checkout", PATRON), ("/v1/checkin", None)):
        body = {"tx_id": str(uuid.uuid4()), "patron_id": patron, "item_id": item_id,
                "created_at": datetime.now(UTC).isoformat(), "kiosk_id": DEMO_KIOSK_ID}
        reply = session.post(url + path, json=body, timeout=(3.05, 10.0))
        if reply.status_code != 200 or not reply.json()["ok"]:
            raise RuntimeError(f"direct round failed: HTTP {reply.status_code}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    kiosk_s: list[float] = []
    direct_s: list[float] = []
    bench_started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="borrow-bench-") as tmp:
        db_path = Path(tmp) / "central.db"
        with Database(db_path) as db:
            seed(db)
        with start_in_thread(db_path) as server, \
                RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as backend, \
                requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {DEMO_TOKEN}"
            items = AVAILABLE_ITEMS[:2]  # one per path: both paths do identical work
            for n in range(args.warmup + args.rounds):
                if time.monotonic() - bench_started > TIME_LIMIT_S:
                    print(f"time limit reached after {n} rounds", file=sys.stderr)
                    break
                order = (0, 1) if n % 2 == 0 else (1, 0)
                timed = {}
                for which in order:
                    if which == 0:
                        timed[0] = kiosk_round(backend, items[0])
                    else:
                        timed[1] = direct_round(session, server.url, items[1])
                if n >= args.warmup:
                    kiosk_s.append(timed[0])
                    direct_s.append(timed[1])
    if not kiosk_s:
        raise SystemExit("no rounds measured")
    kiosk_ms = statistics.median(kiosk_s) * 1000
    direct_ms = statistics.median(direct_s) * 1000
    overhead = (kiosk_ms - direct_ms) / direct_ms * 100
    print(f"rounds measured      : {len(kiosk_s)} (checkout + checkin each)")
    print(f"kiosk (RestBackend)  : median {kiosk_ms:.3f} ms per round")
    print(f"direct (requests)    : median {direct_ms:.3f} ms per round")
    print(f"overhead             : {overhead:+.2f} % (target < 5 %)")
    print(json.dumps({"kiosk_ms": round(kiosk_ms, 3), "direct_ms": round(direct_ms, 3),
                      "overhead_pct": round(overhead, 2), "rounds": len(kiosk_s),
                      "target_pct": 5.0}))


if __name__ == "__main__":
    main()
