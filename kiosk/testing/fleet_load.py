"""The simulated fleet of bench/central_load.py, as locust users: run in a process of its own
(`python -m kiosk.testing.fleet_load URL ...`), because locust patches the standard library
for gevent on import and the bench's database checks want ordinary threads and sockets.

A kiosk heartbeats every 30 s and lends and takes back its own books, one transaction every
`pace` seconds on average; a tenth come back from an outage with 200 queued transactions,
sent in batches of 100, the first batch twice (its answer lost), at a moment in the first
half of the measured window (not during the ramp, which is not measured); staff dashboards
poll the fleet every 10 s. Writes a JSON of locust's figures and the transaction ids told "ok".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, between, constant, events, task
from locust.env import Environment

from kiosk.testing.fleet_names import QUEUED, kiosk_id, token_of

HEARTBEAT_S = 30.0
OUTAGE_SHARE = 0.10
BATCH = 100
DASHBOARDS = 20
POLL_S = 10.0


class Fleet:
    """What the users share: set by `run` before they start."""

    kiosks = 1
    pace = 60.0
    staff_token = ""
    numbers = itertools.count()
    window = (0.0, 0.0)  # the measured window, as time.monotonic() reads it
    told_ok: ClassVar[list[str]] = []
    queued: ClassVar[list[str]] = []


def _now() -> str:
    return datetime.now(UTC).isoformat()


def queued_rows(n: int) -> list[dict[str, Any]]:
    """Kiosk n's queue after an outage: offline loans of its books and their returns."""
    start = datetime.now(UTC) - timedelta(hours=3)
    rows: list[dict[str, Any]] = []
    for i in range(QUEUED // 2):
        item = f"L{n:05d}-{i + 4:03d}"
        for kind, patron in (("checkout", f"LP{n:05d}"), ("checkin", None)):
            rows.append({"tx_id": str(uuid.uuid4()), "kind": kind, "patron_id": patron,
                         "item_id": item, "offline": True, "kiosk_id": kiosk_id(n),
                         "created_at": (start + timedelta(seconds=len(rows))).isoformat()})
    return rows


class Kiosk(FastHttpUser):
    weight = 1000
    wait_time = constant(0)

    def on_start(self) -> None:
        self.n = next(Fleet.numbers) % Fleet.kiosks
        self.auth = {"Authorization": f"Bearer {token_of(self.n)}"}
        self.rng = random.Random(self.n)
        self.next_beat = time.monotonic() + self.rng.uniform(0, HEARTBEAT_S)
        self.lent: str | None = None
        self.outage = self.rng.random() < OUTAGE_SHARE
        start, end = Fleet.window
        self.back_at = start + self.rng.uniform(0, (end - start) / 2)

    def _post(self, path: str, body: dict[str, Any], name: str) -> dict[str, Any] | None:
        with self.client.post(path, json=body, name=name, headers=self.auth,
                              catch_response=True) as reply:
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}")
                return None
            answer: dict[str, Any] = reply.json()
            return answer

    def _back_from_outage(self) -> None:
        rows = queued_rows(self.n)
        batches = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
        for batch in [*batches, batches[0]]:
            if self._post("/v1/transactions/batch", {"transactions": batch}, "batch") is None:
                return
        Fleet.queued.extend(r["tx_id"] for r in rows)

    def _lend_or_return(self) -> None:
        item = f"L{self.n:05d}-{self.rng.randrange(4):03d}"
        kind = "checkin" if self.lent else "checkout"
        tx_id = str(uuid.uuid4())
        body = {"tx_id": tx_id, "patron_id": None if self.lent else f"LP{self.n:05d}",
                "item_id": self.lent or item, "created_at": _now(), "kiosk_id": kiosk_id(self.n)}
        answer = self._post(f"/v1/{kind}", body, kind)
        if answer and answer.get("ok"):
            Fleet.told_ok.append(tx_id)
            self.lent = None if self.lent else item

    @task
    def live(self) -> None:
        if self.outage:
            if time.monotonic() >= self.back_at:  # until then: silent, as an offline kiosk is
                self.outage = False
                self._back_from_outage()
        elif time.monotonic() >= self.next_beat:
            self.next_beat = time.monotonic() + HEARTBEAT_S
            self._post("/v1/heartbeat", {"kiosk_id": kiosk_id(self.n), "time": _now(),
                                         "online": True, "heartbeat_s": HEARTBEAT_S,
                                         "queue": {"pending": 0}}, "heartbeat")
        elif self.rng.random() < 1.0 / Fleet.pace:
            self._lend_or_return()
        gevent.sleep(1.0)


class Dashboard(FastHttpUser):
    weight = 1
    wait_time = between(POLL_S * 0.9, POLL_S * 1.1)

    @task
    def poll(self) -> None:
        self.client.get("/staff/api/fleet", name="dashboard",
                        headers={"Authorization": f"Bearer {Fleet.staff_token}"})


def run(url: str, kiosks: int, seconds: float, pace: float) -> dict[str, Any]:
    Fleet.kiosks, Fleet.pace = kiosks, pace
    Fleet.staff_token = os.environ["LOAD_STAFF_TOKEN"]
    Kiosk.fixed_count, Dashboard.fixed_count = kiosks, DASHBOARDS
    env = Environment(user_classes=[Kiosk, Dashboard], events=events, host=url)
    runner = env.create_local_runner()
    users = kiosks + DASHBOARDS
    ramp = max(10.0, seconds / 4)
    Fleet.window = (time.monotonic() + ramp + 2, time.monotonic() + ramp + 2 + seconds)
    runner.start(users, spawn_rate=users / ramp)
    gevent.sleep(ramp + 2)
    env.stats.reset_all()  # the fleet at full size, not the ramp
    gevent.sleep(seconds)
    runner.quit()
    total = env.stats.total
    by_name = {name: {"requests": e.num_requests, "failures": e.num_failures,
                      "p50_ms": e.get_response_time_percentile(0.5),
                      "p99_ms": e.get_response_time_percentile(0.99)}
               for (name, _), e in env.stats.entries.items()}
    return {"requests": total.num_requests, "errors": total.num_failures,
            "p50_ms": total.get_response_time_percentile(0.5),
            "p99_ms": total.get_response_time_percentile(0.99),
            "rps": round(total.total_rps, 1), "by_name": by_name,
            "failures": {f"{e.name}: {e.error}": e.occurrences for e in env.stats.errors.values()},
            "told_ok": Fleet.told_ok, "queued": Fleet.queued}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--kiosks", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--pace", type=float, default=60.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.url, args.kiosks, args.seconds, args.pace)))


if __name__ == "__main__":
    main()
