"""The staff dashboard in headless Chromium: log in, watch a kiosk go silent, resolve a
conflict. Screenshots go to docs/screenshots/dashboard-*.png.

Two kiosks heartbeat through the real kiosk REST client: the demo kiosk's heartbeat is the
real status snapshot of a running demo kiosk (simulated devices); the second kiosk beats every
second and then stops, so the page (which refreshes by itself) turns it "silent".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from engines import direct
from playwright.sync_api import Browser, Page, expect, sync_playwright
from shots import screenshot_dir
from staff_support import RunningKiosk, wait_for
from test_dashboard_api import AN, JAN, PASSWORD, make_conflict

from central.db import Database
from central.kiosks import register_kiosk
from central.staff import add_staff
from kiosk.backends.rest import RestBackend
from kiosk.status import status_snapshot

SHOTS = screenshot_dir()
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


class Beater:
    """A second kiosk that heartbeats every `every` seconds until stopped."""

    def __init__(self, url: str, token: str, kiosk_id: str, every: float = 1.0) -> None:
        self.backend = RestBackend(url, token, kiosk_id=kiosk_id, timeout=(1, 3))
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.backend.heartbeat({"online": True, "heartbeat_s": self.every, "faults": [],
                                    "queue": {"pending": 0}})
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.backend.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, path


def test_log_in_see_a_kiosk_go_silent_and_resolve_a_conflict(
        browser: Browser, library: Any, demo_kiosk: RunningKiosk) -> None:
    url = library.direct_url
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
        token = register_kiosk(db, "gent-kiosk-2", name="Kiosk 2 (entrance)",
                               branch="Gent Zuid")
    make_conflict(url)

    def last_status() -> str:
        with direct(library.db_path) as db:
            row = db.execute("SELECT last_status FROM kiosks WHERE kiosk_id = 'demo-kiosk-1'"
                             ).fetchone()
        return str(row[0] or "") if row else ""

    # the sync worker beats once at start; let that land before the printer fails
    assert wait_for(lambda: '"event_loop_age_s"' in last_status(), timeout=10)
    # the demo kiosk reports its real state: printer out of paper
    demo_kiosk.devs.printer.paper_out()
    demo_kiosk.kiosk.put(_printer_down())
    demo_kiosk.kiosk.wait_idle()
    assert status_snapshot(demo_kiosk.kiosk)["faults"] == ["printer"]

    assert demo_kiosk.kiosk.sync.heartbeat()
    assert '"printer"' in last_status()
    beater = Beater(url, token, "gent-kiosk-2")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        _log_in_as_alice(page, url)
        demo_row = page.locator("tr[data-kiosk='demo-kiosk-1']")
        gent_row = page.locator("tr[data-kiosk='gent-kiosk-2']")
        expect(gent_row).to_have_attribute("data-state", "online")
        expect(demo_row).to_contain_text("printer")
        expect(demo_row).to_contain_text("Hoofdbibliotheek")
        expect(demo_row.locator("td").nth(5)).to_have_text("1")  # one open conflict
        expect(demo_row.locator("td").nth(6)).to_have_text("1")  # one loan today
        expect(page.locator("#staff-name")).to_have_text("alice")
        shot(page, "fleet")
        # the second kiosk stops beating: the page turns it silent without a reload
        beater.stop()
        expect(gent_row).to_have_attribute("data-state", "silent", timeout=15_000)
        expect(gent_row).to_contain_text("since")
        shot(page, "silent")
        _resolve_the_conflict(page, demo_row)
        text = page.inner_text("body")
        for secret in (JAN.barcode, str(JAN.card_uid), AN.barcode, PASSWORD):
            assert secret not in text
    finally:
        beater.stop()
        page.close()
    with direct(library.db_path) as db:
        assert db.execute("SELECT resolved_by FROM conflicts").fetchone()[0] == "staff:alice"


def _log_in_as_alice(page: Any, url: str) -> None:
    """A wrong password first: the page says so and lets her try again."""
    page.goto(f"{url}/staff/")
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    shot(page, "login")
    page.fill("#name", "alice")
    page.fill("#password", "wrong password!")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text("wrong name or password")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(re.compile(r"/staff/$"))


def _resolve_the_conflict(page: Any, demo_row: Any) -> None:
    """The conflict: what, when, why, and who; then staff resolve it."""
    conflict = page.locator("#conflicts tbody tr")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text("Borrowed")
    expect(conflict).to_contain_text("while offline")
    expect(conflict).to_contain_text(JAN.patron_id)
    expect(conflict).to_contain_text("lent to another patron")
    page.locator("section[aria-labelledby='conflicts-heading']").screenshot(
        path=str(SHOTS / "dashboard-conflict.png"))
    conflict.locator("button.resolve").click()
    expect(page.locator("#no-conflicts")).to_be_visible()
    expect(demo_row.locator("td").nth(5)).to_have_text("0")
    shot(page, "resolved")


def _printer_down() -> Any:
    from domain.events import DeviceState

    return DeviceState(device="printer", ok=False, detail="paper out")
