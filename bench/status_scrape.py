"""What a Prometheus scrape and a status poll cost a kiosk with a long offline queue.

Why: /metrics and /status read the journal (counts, oldest pending) on every request, on the
same SQLite file the patrons' loans are committed to. On a Pi this must stay cheap even after a
day offline. The run builds a real kiosk core (journal on disk, simulated devices, a catalog
address nobody answers, so the queue stays), journals QUEUE offline loans, starts the real
status endpoint on 127.0.0.1 and times N requests of each page over real HTTP, keep-alive.

Baseline in the same run: /healthz (one cheap journal query); the JSON reports each page's
median as a ratio to it.

    .venv/bin/python bench/status_scrape.py [--queue 2000] [--requests 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from domain.model import Transaction, TransactionKind  # noqa: E402
from kiosk import config  # noqa: E402
from kiosk.app import build_kiosk  # noqa: E402
from kiosk.journal import State  # noqa: E402
from kiosk.status import start_status_server  # noqa: E402


def timings(session: requests.Session, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        reply = session.get(url, timeout=10)
        reply.content  # noqa: B018 - read the whole body
        out.append((time.perf_counter() - started) * 1000)
        if reply.status_code >= 500:
            raise SystemExit(f"{url}: HTTP {reply.status_code}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queue", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        settings = config.load(ROOT / "config/demo.toml")
        settings = dataclasses.replace(
            settings,
            kiosk=dataclasses.replace(settings.kiosk, data_dir=tmp),
            backend=dataclasses.replace(settings.backend, url="http://127.0.0.1:9/",
                                        connect_timeout_s=0.2, timeout_s=0.2),
            sync=dataclasses.replace(settings.sync, backoff_base_s=600, backoff_max_s=600,
                                     heartbeat_s=600, recheck_s=600),
            status=dataclasses.replace(settings.status, listen="127.0.0.1:0"),
        )
        kiosk = build_kiosk(settings)
        started = time.perf_counter()
        for i in range(args.queue):
            kiosk.journal.record(Transaction(TransactionKind.CHECKOUT, f"P{i % 97:04d}",
                                             f"37{i:011d}", offline=True,
                                             kiosk_id=settings.kiosk.id), State.PENDING)
        fill_s = time.perf_counter() - started
        kiosk.start()
        server = start_status_server(kiosk, settings)
        results: dict[str, dict[str, float]] = {}
        try:
            with requests.Session() as session:
                for path in ("/healthz", "/status", "/metrics"):
                    timings(session, server.url + path, 20)  # warm up
                    samples = timings(session, server.url + path, args.requests)
                    samples.sort()
                    results[path] = {
                        "p50_ms": round(statistics.median(samples), 3),
                        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
                        "max_ms": round(samples[-1], 3),
                    }
                body = session.get(server.url + "/status", timeout=10).json()
        finally:
            server.stop()
            kiosk.close()
    base = results["/healthz"]["p50_ms"]
    print(f"queue: {args.queue} offline loans journaled in {fill_s:.1f} s "
          f"(status says {body['queue']['pending']} pending)")
    for path, r in results.items():
        print(f"{path:9} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  "
              f"max {r['max_ms']:7.2f} ms  ({r['p50_ms'] / base:.2f}x /healthz)")
    print(json.dumps({
        "bench": "status_scrape", "queue": args.queue, "requests": args.requests,
        "healthz_p50_ms": results["/healthz"]["p50_ms"],
        "status_p50_ms": results["/status"]["p50_ms"],
        "status_p95_ms": results["/status"]["p95_ms"],
        "metrics_p50_ms": results["/metrics"]["p50_ms"],
        "metrics_p95_ms": results["/metrics"]["p95_ms"],
        "status_vs_healthz": round(results["/status"]["p50_ms"] / base, 2),
        "metrics_vs_healthz": round(results["/metrics"]["p50_ms"] / base, 2),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
