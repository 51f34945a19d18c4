"""The central service trusts no kiosk further than its own rows: idempotency is per kiosk,
heartbeats are checked field by field, and a wrong kiosk clock cannot date a loan in 2019.
Over the real service on a loopback port."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import requests
from engines import direct

from central.db import Database
from central.kiosks import register_kiosk
from central.service import library_day
from domain.demo_library import AVAILABLE_ITEMS, PATRONS_BY_ROLE

JAN = PATRONS_BY_ROLE["card"]
AN = PATRONS_BY_ROLE["eid"]


class Api:
    """Another kiosk's client (the `api` fixture is kiosk-1's)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def ok(self, method: str, path: str, body: object = None) -> dict:
        reply = self.session.request(method, self.url + path, json=body, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()


def _second_kiosk(server, db_path) -> Api:
    with Database(db_path) as db:
        token = register_kiosk(db, "kiosk-2", name="Second", branch="Main")
    return Api(server.url, token)


def _checkout(api, tx_id: str, patron: str, item: str, **extra: object) -> dict:
    body = {"tx_id": tx_id, "patron_id": patron, "item_id": item,
            "created_at": datetime.now(UTC).isoformat(), **extra}
    return api.ok("POST", "/v1/checkout", body)


def test_another_kiosks_tx_id_neither_reads_its_answer_nor_bars_it(api, server,
                                                                  db_path) -> None:
    other = _second_kiosk(server, db_path)
    mine = str(uuid.uuid4())
    first = _checkout(api, mine, JAN.patron_id, AVAILABLE_ITEMS[60])
    assert first["ok"]
    # kiosk-2 replays kiosk-1's tx_id on a return: a new act of its own, not kiosk-1's answer
    stolen = other.ok("POST", "/v1/checkin", {"tx_id": mine, "item_id": AVAILABLE_ITEMS[60],
                                              "created_at": datetime.now(UTC).isoformat()})
    assert stolen.get("due") is None and stolen["item_id"] == AVAILABLE_ITEMS[60]
    # a VOID from kiosk-2 for a tx_id it never sent bars only kiosk-2's own
    barred = str(uuid.uuid4())
    [void] = other.ok("POST", "/v1/transactions/batch", {"transactions": [{
        "tx_id": str(uuid.uuid4()), "kind": "void", "item_id": AVAILABLE_ITEMS[61],
        "created_at": datetime.now(UTC).isoformat(), "offline": True,
        "ref_tx_id": barred}]})["results"]
    assert void["status"] == "done"
    lent = _checkout(api, barred, JAN.patron_id, AVAILABLE_ITEMS[61])
    assert lent["ok"] and lent["reason"] == "ok"  # kiosk-1's transaction went through


def test_a_bad_heartbeat_breaks_no_page_and_correct_ones_replace_it(api, server,
                                                                   db_path) -> None:
    from central.staff import add_staff

    POST, PASSWORD = {"X-Staff-Request": "1"}, "correct horse battery"

    with Database(db_path) as db:
        add_staff(db, "alice", PASSWORD)
    bad = {"kiosk_id": "demo-kiosk-1", "time": "9999-12-31T23:59:59+00:00",
           "queue": {"pending": "x"}, "faults": "not a list"}
    assert api.ok("POST", "/v1/heartbeat", bad)["ok"]
    staff = requests.Session()
    assert staff.post(f"{server.url}/staff/api/login", headers=POST, timeout=5,
                      json={"name": "alice", "password": PASSWORD}).status_code == 200
    fleet = staff.get(f"{server.url}/staff/api/fleet", timeout=5)
    assert fleet.status_code == 200
    [row] = [k for k in fleet.json()["kiosks"] if k["kiosk_id"] == "demo-kiosk-1"]
    assert "queue.pending" in row["status_problem"] and "clock" in row["faults"]
    good = {"kiosk_id": "demo-kiosk-1", "time": datetime.now(UTC).isoformat(),
            "queue": {"pending": 3}, "faults": []}
    reply = api.ok("POST", "/v1/heartbeat", good)
    assert abs(reply["clock_skew_s"]) < 60
    [row] = [k for k in staff.get(f"{server.url}/staff/api/fleet", timeout=5).json()["kiosks"]
             if k["kiosk_id"] == "demo-kiosk-1"]
    assert row["queue_depth"] == 3 and row["status_problem"] is None and row["faults"] == []


def test_an_offline_loan_stamped_by_a_wrong_clock_is_dated_by_its_receipt(api) -> None:
    [result] = api.ok("POST", "/v1/transactions/batch", {"transactions": [{
        "tx_id": str(uuid.uuid4()), "kind": "checkout", "patron_id": AN.patron_id,
        "item_id": AVAILABLE_ITEMS[62], "created_at": "2019-06-01T10:00:00+00:00",
        "offline": True}]})["results"]
    assert result["status"] == "done"
    due = datetime.fromisoformat(result["outcome"]["due"]).date()
    assert due > library_day(datetime.now(UTC))  # not 2019-06-22
    assert "clock skew" in result["detail"]
    recent = (datetime.now(UTC) - timedelta(days=2)).isoformat()  # a real offline spell
    [kept] = api.ok("POST", "/v1/transactions/batch", {"transactions": [{
        "tx_id": str(uuid.uuid4()), "kind": "checkout", "patron_id": AN.patron_id,
        "item_id": AVAILABLE_ITEMS[63], "created_at": recent, "offline": True}]})["results"]
    assert "clock skew" not in kept["detail"]


def test_the_kiosk_forgets_conflicts_staff_resolved(api, db_path) -> None:
    with direct(db_path) as db:
        db.execute("INSERT INTO conflicts(tx_id, tx, reason, kiosk_id, created, resolved_at,"
                   " resolved_by) VALUES ('t-resolved', '{}', 'x', 'demo-kiosk-1', ?, ?, 's')",
                   (datetime.now(UTC).isoformat(), datetime.now(UTC).isoformat()))
    reply = api.ok("POST", "/v1/heartbeat", {"kiosk_id": "demo-kiosk-1"})
    assert "t-resolved" in reply["resolved"]
