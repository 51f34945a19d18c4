"""Staff auth and the dashboard's JSON, over the real service on a loopback port."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from engines import direct
from staff_support import PASSWORD, ROOT

from central.db import Database
from central.staff import StaffError, add_staff, add_staff_command, issue_api_token
from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN, SEED_PATRONS
from domain.model import Transaction, TransactionKind
from kiosk.backends.rest import RestBackend

JAN = SEED_PATRONS[0]
AN = SEED_PATRONS[1]
POST = {"X-Staff-Request": "1"}




def login(url: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    reply = s.post(f"{url}/staff/api/login", json={"name": "alice", "password": password},
                   headers=POST, timeout=5)
    assert reply.status_code == 200, reply.text
    return s


def make_conflict(url: str, item_id: str = AVAILABLE_ITEMS[101]) -> str:
    """A real conflict: the kiosk lent `item_id` to Jan while offline two hours ago, but the
    desk has since lent it to An; the replayed offline loan cannot be applied."""
    with RestBackend(url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID, timeout=(1, 5)) as backend:
        backend.checkout(Transaction(TransactionKind.CHECKOUT, AN.patron_id, item_id,
                                     kiosk_id=DEMO_KIOSK_ID))
        tx = Transaction(TransactionKind.CHECKOUT, JAN.patron_id, item_id, offline=True,
                         kiosk_id=DEMO_KIOSK_ID,
                         created_at=datetime.now(UTC) - timedelta(hours=2))
        [result] = backend.replay([tx])
        assert result.status.value == "conflict", result
        return tx.tx_id


def test_everything_needs_a_login(service: Any) -> None:
    for path in ("/staff/api/fleet", "/staff/api/conflicts"):
        assert requests.get(service.url + path, timeout=5).status_code == 401
    page = requests.get(f"{service.url}/staff/", timeout=5, allow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/staff/login"
    resolve = requests.post(f"{service.url}/staff/api/conflicts/1/resolve", headers=POST,
                            timeout=5)
    assert resolve.status_code == 401


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(service: Any) -> None:
    s = login(service.url)
    cookie = next(c for c in s.cookies if c.name == "kiosk_staff")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/staff"
    raw = s.post(f"{service.url}/staff/api/login", json={"name": "alice", "password": PASSWORD},
                 headers=POST, timeout=5).headers["set-cookie"]
    assert "samesite=strict" in raw.lower()
    assert s.get(f"{service.url}/staff/api/fleet", timeout=5).json()["staff"] == "alice"
    s.post(f"{service.url}/staff/api/logout", headers=POST, timeout=5)
    assert s.get(f"{service.url}/staff/api/fleet", timeout=5).status_code == 401
    with direct(service.db_path) as db:
        stored = db.execute("SELECT password_hash FROM staff").fetchone()[0]
    assert stored.startswith("scrypt$") and PASSWORD not in stored


def test_five_wrong_passwords_lock_the_name(service: Any) -> None:
    for _ in range(5):
        reply = requests.post(f"{service.url}/staff/api/login",
                              json={"name": "alice", "password": "guess-guess"}, headers=POST,
                              timeout=5)
        assert reply.status_code == 401
    locked = requests.post(f"{service.url}/staff/api/login",
                           json={"name": "alice", "password": PASSWORD}, headers=POST, timeout=5)
    assert locked.status_code == 401 and "too many" in locked.json()["error"]["message"]


def test_login_without_the_staff_header_is_refused(service: Any) -> None:
    reply = requests.post(f"{service.url}/staff/api/login",
                          json={"name": "alice", "password": PASSWORD}, timeout=5)
    assert reply.status_code == 403


def test_fleet_conflicts_and_resolve(service: Any) -> None:
    tx_id = make_conflict(service.url)
    with RestBackend(service.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as backend:
        backend.heartbeat({"online": True, "heartbeat_s": 30, "faults": ["printer"],
                           "queue": {"pending": 3, "oldest_pending_age_s": 120}})
    s = login(service.url)
    fleet = s.get(f"{service.url}/staff/api/fleet", timeout=5).json()
    [kiosk] = [k for k in fleet["kiosks"] if k["kiosk_id"] == DEMO_KIOSK_ID]
    assert kiosk["state"] == "online" and kiosk["faults"] == ["printer"]
    assert kiosk["queue_depth"] == 3 and kiosk["conflicts"] == 1
    assert kiosk["loans_today"] == 1
    [conflict] = s.get(f"{service.url}/staff/api/conflicts", timeout=5).json()["conflicts"]
    assert conflict["tx_id"] == tx_id and conflict["kind"] == "checkout"
    assert conflict["item_id"] == AVAILABLE_ITEMS[101] and conflict["title"]
    assert conflict["patron_id"] == JAN.patron_id and conflict["reason"]
    assert JAN.barcode not in str(conflict) and str(JAN.card_uid) not in str(conflict)
    url = f"{service.url}/staff/api/conflicts/{conflict['conflict_id']}/resolve"
    assert s.post(url, timeout=5).status_code == 403  # no X-Staff-Request: a forged form
    assert s.post(url, headers=POST, timeout=5).json()["resolved_by"] == "alice"
    assert s.post(url, headers=POST, timeout=5).status_code == 409
    assert s.get(f"{service.url}/staff/api/conflicts", timeout=5).json()["conflicts"] == []
    with direct(service.db_path) as db:
        by = db.execute("SELECT resolved_by FROM conflicts").fetchone()[0]
    assert by == "staff:alice"


@pytest.mark.parametrize(("last_update", "shown"), [
    ({"ok": False, "tried": "0.2.0", "version": "0.1.0", "reason": "did not report ready "
      "within 120 s", "at": "2026-12-06T08:00:00+00:00"},
     {"tried": "0.2.0", "reason": "did not report ready within 120 s",
      "at": "2026-12-06T08:00:00+00:00"}),
    ({"ok": True, "tried": "0.2.0", "version": "0.2.0"}, None),
    (None, None),
    ("went back", None),  # a kiosk's status is not trusted to have the shape we wrote
    ({"ok": False, "tried": ["x"] * 100, "reason": "r" * 5000}, {"tried": str(["x"] * 100)[:40],
                                                                 "reason": "r" * 200, "at": ""}),
])
def test_the_fleet_shows_each_kiosks_version_and_an_update_that_went_back(
        service: Any, last_update: Any, shown: Any) -> None:
    with RestBackend(service.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as backend:
        backend.heartbeat({"online": True, "heartbeat_s": 30, "faults": [],
                           "queue": {"pending": 0}, "version": "0.1.0",
                           "last_update": last_update})
    fleet = login(service.url).get(f"{service.url}/staff/api/fleet", timeout=5).json()
    [kiosk] = [k for k in fleet["kiosks"] if k["kiosk_id"] == DEMO_KIOSK_ID]
    assert kiosk["version"] == "0.1.0"
    assert kiosk["update_failed"] == shown


def test_api_token_for_scripts(service: Any) -> None:
    with Database(service.db_path) as db:
        token = issue_api_token(db, "alice")
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{service.url}/staff/api/fleet", headers=auth,
                        timeout=5).status_code == 200
    bad = {"Authorization": "Bearer " + "x" * 40}
    assert requests.get(f"{service.url}/staff/api/fleet", headers=bad,
                        timeout=5).status_code == 401
    # a kiosk's token is not a staff token
    kiosk = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    assert requests.get(f"{service.url}/staff/api/fleet", headers=kiosk,
                        timeout=5).status_code == 401


def test_weak_password_and_bad_names_are_refused(tmp_path: Path) -> None:
    with Database(tmp_path / "c.db") as db:
        with pytest.raises(StaffError, match="at least"):
            add_staff(db, "bob", "short")
        with pytest.raises(StaffError, match="staff name"):
            add_staff(db, "bob smith; drop", "long enough password")
        add_staff(db, "bob", "long enough password")
        with pytest.raises(StaffError, match="exists"):
            add_staff(db, "bob", "long enough password")


def test_add_staff_command_mismatch_and_success(tmp_path: Path) -> None:
    lines: list[str] = []
    answers = iter(["long enough password", "long enough passw0rd"])
    assert add_staff_command(tmp_path / "c.db", "carol", read_secret=lambda _p: next(answers),
                             out=lines.append) == 1
    assert "differ" in lines[-1]
    answers = iter(["long enough password"] * 2)
    assert add_staff_command(tmp_path / "c.db", "carol", api_token=True,
                             read_secret=lambda _p: next(answers), out=lines.append) == 0
    assert lines[-1].startswith("API token (shown once): ")


def test_kiosk_central_add_staff_on_a_terminal(tmp_path: Path) -> None:
    db_path = tmp_path / "central.db"
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "central", "add-staff", "dora",
                                  "--db", str(db_path)])
    seen = b""
    deadline = time.monotonic() + 30
    for prompt, answer in ((b"characters): ", b"a long secret phrase\n"),
                           (b"again: ", b"a long secret phrase\n")):
        while prompt not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 1024)
        os.write(fd, answer)
    while b"added" not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"a long secret phrase" not in seen
    with direct(db_path) as db:
        assert db.execute("SELECT name FROM staff").fetchone()[0] == "dora"
