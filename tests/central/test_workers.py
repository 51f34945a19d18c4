"""`kiosk-central serve --workers 2`, on both engines: two processes that share only the
database. The same (kiosk, transaction id) reaching both at once has one effect, one item
asked for by many patrons at once is lent once, and a staff name locked after wrong passwords
is locked in every worker."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from engines import direct

from central.db import Database
from central.kiosks import register_kiosk
from central.staff import add_staff
from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN

PASSWORD = "correct horse battery"
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}", "Connection": "close"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture
def two_workers(db_path: Any) -> Iterator[tuple[str, Any, list[int]]]:
    with Database(db_path) as db:
        add_staff(db, "alice", PASSWORD)
    port = _free_port()
    env = {**os.environ, "KIOSK_CENTRAL_DB": str(db_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "central", "serve", "--workers", "2", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.ConnectionError):  # not listening yet
                if requests.get(url + "/v1/health", timeout=2).status_code == 200 \
                        and len(_children(process.pid)) >= 2:
                    break
            assert process.poll() is None and time.monotonic() < deadline, \
                process.stderr.read().decode() if process.stderr else "no output"
            time.sleep(0.2)
        # uvicorn spawns the workers; multiprocessing's resource tracker is a child too
        workers = [pid for pid in _children(process.pid)
                   if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        yield url, db_path, workers
    finally:
        process.terminate()
        process.wait(20)


def _checkout(url: str, body: dict[str, Any], auth: dict[str, str] = AUTH) -> dict[str, Any]:
    reply = requests.post(url + "/v1/checkout", json=body, headers=auth, timeout=30)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_the_same_transaction_at_two_workers_at_once_has_one_effect(two_workers) -> None:
    url, db_path, workers = two_workers
    before = {pid: _cpu_ticks(pid) for pid in workers}
    same = {"tx_id": str(uuid.uuid4()), "patron_id": "P0010", "item_id": AVAILABLE_ITEMS[3],
            "created_at": datetime.now(UTC).isoformat(), "kiosk_id": DEMO_KIOSK_ID}
    patrons = ["P0001", "P0002", "P0004", "P0007", "P0009", "P0011", "P0013", "P0014"] * 3
    one_item = [{**same, "tx_id": str(uuid.uuid4()), "patron_id": p,
                 "item_id": AVAILABLE_ITEMS[4]} for p in patrons]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: _checkout(url, same), range(48)))
        reasons = [a["reason"] for a in pool.map(lambda b: _checkout(url, b), one_item)]
    assert all(answer == answers[0] for answer in answers) and answers[0]["ok"]
    # one patron got it (asking again, that patron hears ok: it is theirs), no one else did
    assert len({p for p, r in zip(patrons, reasons, strict=True) if r == "ok"}) == 1
    assert set(reasons) == {"ok", "already_on_loan"}
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM transactions WHERE tx_id = ?",
                            (same["tx_id"],)).fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM events WHERE tx_id = ?",
                            (same["tx_id"],)).fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM loans WHERE item_id = ?",
                            (AVAILABLE_ITEMS[4],)).fetchone()[0] == 1
    # the race was between processes: both workers did work during it
    assert len(workers) == 2 and all(_cpu_ticks(pid) > before[pid] for pid in workers)


def test_kiosks_racing_for_one_item_or_one_patrons_last_loans_keep_the_rules(
        two_workers) -> None:
    """Loans at different kiosks run side by side on PostgreSQL (each locks only its kiosk,
    item and patron): the book still goes to one patron, and a patron borrowing at six kiosks
    at once still gets no more than the limit."""
    url, db_path, _ = two_workers
    with Database(db_path) as db:
        tokens = {f"race-{n}": register_kiosk(db, f"race-{n}", name=f"Race {n}", branch="Hoofd")
                  for n in range(6)}
    with direct(db_path) as conn:
        has = conn.execute("SELECT COUNT(*) FROM loans WHERE patron_id = 'P0010'").fetchone()[0]
        conn.execute("UPDATE patrons SET loan_limit = ? WHERE patron_id = 'P0010'", (has + 3,))
        conn.commit()
    now = datetime.now(UTC).isoformat()
    kiosks = list(tokens.items()) * 4

    def at(kiosk: tuple[str, str], patron: str, item: str) -> str:
        body = {"tx_id": str(uuid.uuid4()), "patron_id": patron, "item_id": item,
                "created_at": now, "kiosk_id": kiosk[0]}
        auth = {"Authorization": f"Bearer {kiosk[1]}", "Connection": "close"}
        return str(_checkout(url, body, auth)["reason"])

    patrons = ["P0001", "P0002", "P0004", "P0007", "P0009", "P0011", "P0013", "P0014"] * 3
    with ThreadPoolExecutor(max_workers=16) as pool:
        one_item = list(pool.map(lambda k, p: at(k, p, AVAILABLE_ITEMS[5]), kiosks, patrons))
        one_patron = list(pool.map(lambda k, i: at(k, "P0010", i), kiosks,
                                   AVAILABLE_ITEMS[20:44]))
    assert len({p for p, r in zip(patrons, one_item, strict=True) if r == "ok"}) == 1
    assert set(one_item) == {"ok", "already_on_loan"}
    assert one_patron.count("ok") == 3 and set(one_patron) == {"ok", "too_many_items"}
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM loans WHERE patron_id = 'P0010'"
                            ).fetchone()[0] == has + 3
        assert conn.execute("SELECT COUNT(*) FROM loans WHERE item_id = ?",
                            (AVAILABLE_ITEMS[5],)).fetchone()[0] == 1


def test_a_name_locked_after_wrong_passwords_is_locked_in_every_worker(two_workers) -> None:
    url, _, _ = two_workers
    post = {"X-Staff-Request": "1", "Connection": "close"}
    for _ in range(5):  # fresh connections: the kernel hands them to either worker
        reply = requests.post(url + "/staff/api/login", headers=post, timeout=30,
                              json={"name": "alice", "password": "wrong password!"})
        assert reply.status_code == 401
    refused = [requests.post(url + "/staff/api/login", headers=post, timeout=30,
                             json={"name": "alice", "password": PASSWORD}) for _ in range(6)]
    assert all(r.status_code == 401 and "too many wrong passwords" in r.text for r in refused)


def _login_page_count(url: str) -> float:
    """The login page, not the health check: the supervisor polls health on its own clock."""
    text = requests.get(url + "/metrics", headers={"Connection": "close"}, timeout=10).text
    counted = [line for line in text.splitlines() if line.startswith(
        'central_http_requests_total{method="GET",route="/staff/login",status="200"}')]
    return float(counted[0].split()[-1]) if counted else 0.0


def test_metrics_count_the_requests_of_every_worker(two_workers) -> None:
    url = two_workers[0]
    before = _login_page_count(url)
    for _ in range(40):  # fresh connections: the kernel hands them to either worker
        assert requests.get(url + "/staff/login", headers={"Connection": "close"}, timeout=10).ok
    # every scrape, whichever worker answers it, counts the requests of both
    assert [_login_page_count(url) - before for _ in range(6)] == [40.0] * 6
