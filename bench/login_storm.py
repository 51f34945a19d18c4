"""Kiosk API latency while someone hammers the staff login with wrong passwords.

Why: each staff login costs a scrypt hash (~50 ms of CPU). Hashed on the event loop, four
parallel failed logins once raised the kiosks' API latency from 5.5 ms to 677 ms. The service now
hashes in a worker thread, one at a time, and refuses a longer queue; this measures what kiosks
still feel.

The reference service runs in its own process (as deployed). One kiosk client sends item
lookups back to back, alone (baseline) and while `--storm` threads send failed logins at
`--rate` per second in total, alternating `--rounds` times so the machine's drift hits both.
A few threads and requests suffice for 20 logins a second; a load-testing
framework would add more noise than it removes at this size.

    .venv/bin/python bench/login_storm.py [--seconds 15] [--rate 20] [--rounds 5]

`--cheap` sends the same requests refused before any hashing (invalid JSON): the floor of
what 20 requests a second cost the kiosks on this machine, without a single password check.

Last line: {"p99_ms", "baseline_p99_ms", "ratio", ...}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from central.db import Database  # noqa: E402
from central.staff import add_staff  # noqa: E402
from domain.demo_library import AVAILABLE_ITEMS, DEMO_TOKEN  # noqa: E402
from kiosk.testing.central_process import CentralProcess  # noqa: E402

CHEAP = "--cheap" in sys.argv


def kiosk_latencies(url: str, seconds: float) -> list[float]:
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    out: list[float] = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        reply = session.get(f"{url}/v1/items/{AVAILABLE_ITEMS[n % 50]}", headers=headers,
                            timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
        n += 1
    return out


def storm(url: str, rate: float, stop: threading.Event, counts: dict[str, int]) -> None:
    session = requests.Session()
    session.trust_env = False
    interval = 1.0 / rate
    next_at = time.monotonic()
    n = 0
    while not stop.is_set():
        # a new name every time: no lock stops the hashing (an attacker guessing names does
        # the same; a locked name would cost the service nothing)
        n += 1
        name = f"guess{threading.get_ident() % 10000}-{n}"
        if CHEAP:  # the same traffic without the hashing: what 20 requests/s cost by themselves
            reply = session.post(f"{url}/staff/api/login", headers={"X-Staff-Request": "1"},
                                 data="not json", timeout=30)
        else:
            reply = session.post(f"{url}/staff/api/login", headers={"X-Staff-Request": "1"},
                                 json={"name": name, "password": "wrong"}, timeout=30)
        counts[str(reply.status_code)] = counts.get(str(reply.status_code), 0) + 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def storm_process(url: str, rate: float, threads: int, stop: Any, results: Any) -> None:
    counts: dict[str, int] = {}
    done = threading.Event()
    workers = [threading.Thread(target=storm, args=(url, rate / threads, done, counts),
                                daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    stop.wait()
    done.set()
    for w in workers:
        w.join(30)
    results.put(counts)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per side, in total")
    parser.add_argument("--rate", type=float, default=20.0, help="failed logins per second")
    parser.add_argument("--storm", type=int, default=4, help="threads sending them")
    parser.add_argument("--rounds", type=int, default=5, help="baseline/storm alternations")
    parser.add_argument("--cheap", action="store_true",
                        help="the storm's requests fail before any hashing (for scale)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "central.db"
        with CentralProcess(db_path) as central:
            with Database(db_path) as db:
                add_staff(db, "alice", "correct horse battery")
            kiosk_latencies(central.url, 1.0)  # warm up
            baseline: list[float] = []
            stormy: list[float] = []
            counts: dict[str, int] = {}
            for _ in range(args.rounds):  # interleaved: the machine's drift hits both sides
                baseline += kiosk_latencies(central.url, args.seconds / args.rounds)
                # the attacker in a process of its own: its threads in this one would take
                # the GIL from the kiosk client (5 ms switch interval) and measure ourselves
                stop = multiprocessing.Event()
                results: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
                attacker = multiprocessing.Process(target=storm_process, args=(
                    central.url, args.rate, args.storm, stop, results))
                attacker.start()
                stormy += kiosk_latencies(central.url, args.seconds / args.rounds)
                stop.set()
                for code, n in results.get(timeout=60).items():
                    counts[code] = counts.get(code, 0) + n
                attacker.join(30)
    result = {
        "p99_ms": round(p99(stormy), 2), "baseline_p99_ms": round(p99(baseline), 2),
        "ratio": round(p99(stormy) / p99(baseline), 3),
        "p50_ms": round(statistics.median(stormy), 2),
        "baseline_p50_ms": round(statistics.median(baseline), 2),
        "requests": len(stormy), "logins": counts,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
