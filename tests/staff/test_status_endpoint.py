"""/healthz, /status and /metrics of a real demo kiosk on the real reference catalog."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from engines import direct
from prometheus_client.parser import text_string_to_metric_families
from staff_support import RunningKiosk, demo_settings, wait_for

from domain.demo_library import AVAILABLE_ITEMS, SEED_PATRONS
from domain.privacy import scrub
from drivers.printer import PaperOut, Receipt
from kiosk.session import ChooseMode, Done, Mode, ReceiptChoice, Screen
from kiosk.status import (
    StatusConfigError,
    parse_listen,
    start_status_server,
)

JAN = SEED_PATRONS[0]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def borrow(d: RunningKiosk, items: tuple[str, ...]) -> None:
    d.devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: d.kiosk.session.view.screen == Screen.HOME)
    d.kiosk.put(ChooseMode(Mode.BORROW))
    d.devs.rfid_sim.place_items(items)
    assert wait_for(lambda: sum(line.ok for line in d.kiosk.session.view.items) == len(items))


def finish(d: RunningKiosk) -> None:
    d.kiosk.put(Done())
    assert wait_for(lambda: d.kiosk.session.view.screen == Screen.RECEIPT)
    d.kiosk.put(ReceiptChoice(False))
    d.devs.card_reader.remove()
    d.devs.rfid_sim.clear()
    assert wait_for(lambda: d.kiosk.session.view.screen == Screen.IDLE)


def test_health_status_and_metrics_after_two_loans(demo_kiosk: RunningKiosk) -> None:
    with start_status_server(demo_kiosk.kiosk, demo_kiosk.settings) as server:
        assert server.host == "127.0.0.1"
        health = requests.get(f"{server.url}/healthz", timeout=5)
        assert health.status_code == 200 and health.text == "ok\n"
        borrow(demo_kiosk, AVAILABLE_ITEMS[50:52])
        demo_kiosk.kiosk.put(Done())
        status = requests.get(f"{server.url}/status", timeout=5)
        body = status.json()
        assert body["kiosk_id"] == "demo-kiosk-1" and body["online"] is True
        assert body["queue"]["pending"] == 0 and body["faults"] == []
        assert set(body["devices"]) >= {"card_reader", "rfid", "printer", "lights"}
        assert all(state["ok"] for state in body["devices"].values())
        for secret in (JAN.card_uid, JAN.patron_id, JAN.barcode, JAN.name.split()[0]):
            assert secret not in status.text
        metrics = requests.get(f"{server.url}/metrics", timeout=5)
        assert metrics.headers["Content-Type"].startswith("text/plain")
        found = samples(metrics.text)
        assert found[("kiosk_transactions_total",
                      (("kind", "checkout"), ("outcome", "ok")))] == 2
        assert found[("kiosk_online", ())] == 1
        assert found[("kiosk_queue_depth", ())] == 0
        # the two books went on the pad together: one stack, one checkout call
        assert found[("kiosk_backend_latency_seconds_count", (("call", "checkout"),))] == 1
        assert found[("kiosk_device_up", (("device", "printer"),))] == 1
        assert JAN.card_uid not in metrics.text and JAN.patron_id not in metrics.text


def test_offline_loans_show_as_queue_depth_and_offline(demo_kiosk: RunningKiosk,
                                                        library: Any) -> None:
    with start_status_server(demo_kiosk.kiosk, demo_kiosk.settings) as server:
        borrow(demo_kiosk, AVAILABLE_ITEMS[60:61])  # the card is now cached for offline use
        finish(demo_kiosk)
        library.proxy.cut()
        borrow(demo_kiosk, AVAILABLE_ITEMS[61:63])
        body = requests.get(f"{server.url}/status", timeout=5).json()
        assert body["online"] is False
        assert body["queue"]["pending"] == 2
        assert body["queue"]["oldest_pending_age_s"] >= 0
        found = samples(requests.get(f"{server.url}/metrics", timeout=5).text)
        assert found[("kiosk_online", ())] == 0
        assert found[("kiosk_queue_depth", ())] == 2
        assert found[("kiosk_transactions_total",
                      (("kind", "checkout"), ("outcome", "offline")))] == 2
        library.proxy.restore()


def test_paper_out_reaches_the_central_side_at_once(demo_kiosk: RunningKiosk,
                                                    library: Any) -> None:
    """The periodic heartbeat is 30 s here; the change itself triggers one."""
    with start_status_server(demo_kiosk.kiosk, demo_kiosk.settings) as server:
        demo_kiosk.devs.printer.paper_out()
        with pytest.raises(PaperOut):
            demo_kiosk.devs.printer.print_receipt(Receipt("Test", when=_now()))
        assert wait_for(lambda: "printer" in demo_kiosk.kiosk.session.view.devices_down)

        def central_sees_it() -> bool:
            with direct(library.db_path) as db:
                row = db.execute("SELECT last_status FROM kiosks WHERE kiosk_id = ?",
                                 ("demo-kiosk-1",)).fetchone()
            return bool(row and row[0] and "printer" in json.loads(row[0])["faults"])

        assert wait_for(central_sees_it, timeout=5)
        found = samples(requests.get(f"{server.url}/metrics", timeout=5).text)
        assert found[("kiosk_device_faults_total", (("device", "printer"),))] == 1
        assert found[("kiosk_device_up", (("device", "printer"),))] == 0
        assert requests.get(f"{server.url}/status", timeout=5).json()["printer_out_of_paper"]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_token_is_required_when_configured(demo_kiosk: RunningKiosk, tmp_path: Any) -> None:
    settings = demo_settings("http://127.0.0.1:1/", tmp_path, token_env="KIOSK_STATUS_TOKEN")
    env = {"KIOSK_STATUS_TOKEN": "s3cret-token"}
    with start_status_server(demo_kiosk.kiosk, settings, environ=env) as server:
        for path in ("/healthz", "/status", "/metrics"):
            assert requests.get(server.url + path, timeout=5).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert requests.get(server.url + path, headers=wrong, timeout=5).status_code == 401
            right = {"Authorization": "Bearer s3cret-token"}
            assert requests.get(server.url + path, headers=right, timeout=5).status_code == 200
        assert requests.post(server.url + "/status", timeout=5).status_code == 405  # read-only


def test_other_address_without_token_refuses_to_start(demo_kiosk: RunningKiosk,
                                                      tmp_path: Any) -> None:
    settings = demo_settings("http://127.0.0.1:1/", tmp_path)
    settings = settings.__class__(**{**settings.__dict__, "status": settings.status.__class__(
        listen="0.0.0.0:8787")})
    with pytest.raises(StatusConfigError, match="token"):
        start_status_server(demo_kiosk.kiosk, settings, environ={})
    missing = settings.__class__(**{**settings.__dict__, "status": settings.status.__class__(
        listen="127.0.0.1:0", token_env="NOT_SET_ANYWHERE")})
    with pytest.raises(StatusConfigError, match="NOT_SET_ANYWHERE"):
        start_status_server(demo_kiosk.kiosk, missing, environ={})


def test_stuck_event_thread_makes_healthz_fail(demo_kiosk: RunningKiosk) -> None:
    with start_status_server(demo_kiosk.kiosk, demo_kiosk.settings) as server:
        demo_kiosk.kiosk._stop.set()  # the event thread ends, as if it hung
        demo_kiosk.kiosk._thread.join(10)
        assert not demo_kiosk.kiosk._thread.is_alive()  # else it would overwrite the next line
        demo_kiosk.kiosk.last_loop_at = time.monotonic() - 60
        reply = requests.get(f"{server.url}/healthz", timeout=5)
        assert reply.status_code == 503 and "stuck" in reply.text


@pytest.mark.parametrize("bad", ["8787", "host:", ":80", "127.0.0.1:http", "[::1]80000",
                                 "127.0.0.1:70000"])
def test_bad_listen_addresses_are_named(bad: str) -> None:
    with pytest.raises(StatusConfigError, match=r"status\.listen"):
        parse_listen(bad)


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8787") == ("127.0.0.1", 8787)
    assert parse_listen("[::1]:9") == ("::1", 9)


def test_scrub_removes_patron_numbers_but_keeps_the_message() -> None:
    text = "HTTP 500 for /v1/patrons/P0001/account card 2100000000012 uid 04A1B2C3D4E5F6"
    out = scrub(text)
    assert "P0001" not in out and "2100000000012" not in out and "04A1B2C3D4E5F6" not in out
    assert out.startswith("HTTP 500 for /v1/patrons/*/account")
