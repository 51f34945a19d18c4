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


# what `kiosk update` leaves in the status when a new version did not come up
TRIED_AND_WENT_BACK = {"version": "0.1.0", "tried": "0.2.0", "previous": "0.1.0", "ok": False,
                       "reason": "did not report ready within 120 s",
                       "at": "2026-12-06T08:00:00+00:00"}


# what kiosk/profile.py reports after a profile that kept the kiosk from coming up
PROFILE_ROLLED_BACK = {"running": "1486127f084b", "pending": None, "last": {
    "version": "cd542f3d75ef", "outcome": "rolled back", "at": "2026-12-06T08:00:00+00:00",
    "why": "the kiosk did not come up with it: red status LED on pin 17"}}


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
                                    "queue": {"pending": 0}, "version": "0.1.0",
                                    "last_update": TRIED_AND_WENT_BACK,
                                    "profile": PROFILE_ROLLED_BACK})
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
        # versions across the fleet, and the kiosk whose update went back
        expect(gent_row.locator("td").nth(8)).to_contain_text("0.2.0 failed, went back")
        expect(gent_row.locator("td").nth(8)).to_contain_text("profile 1486127f084b")
        expect(gent_row.locator("td").nth(8)).to_contain_text(
            "profile cd542f3d75ef rolled back")
        expect(gent_row).to_have_class(re.compile("attention"))
        expect(page.locator("#versions")).to_have_text(
            "Versions: 0.1.0 on 2")  # the demo kiosk runs this tree's version
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


def test_the_fleet_over_time_in_the_staff_members_language(browser: Browser,
                                                            library: Any) -> None:
    """A week of a small fleet's heartbeats and loans, charted; staff switch to Dutch, the
    choice sticks across a reload, then French."""
    from datetime import UTC, datetime, timedelta

    from central import fleet_series

    now = datetime.now(UTC)
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
        with db.write() as conn:
            for quarters_ago in range(4 * 24 * 7):
                at = now - timedelta(minutes=15 * quarters_ago)
                busy = 9 <= at.hour < 20
                for n in range(3):  # kiosk-0 stays on at night; the others sleep
                    fleet_series.record_beat(
                        conn, f"kiosk-{n}",
                        {"online": (busy or n == 0) and (quarters_ago // 8 + n) % 23 != 0,
                         "queue": {"pending": (quarters_ago // 4 * 7 + n) % 5}}, at)
                    if quarters_ago % 4 or not busy:
                        continue
                    for _ in range((at.hour * 3 + n) % 7):
                        fleet_series.count_circulation(conn, f"kiosk-{n}", "checkout", at, now)
                        fleet_series.count_circulation(conn, f"kiosk-{n}", "checkin", at, now)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"{library.direct_url}/staff/login")
        page.fill("#name", "alice")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        expect(page).to_have_url(re.compile(r"/staff/$"))
        expect(page.locator("#circulation-chart-summary")).to_contain_text("loan(s)")
        page.select_option("#language", "nl")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.locator("#history-heading")).to_have_text("Verloop")
        expect(page.locator("#fleet thead")).to_contain_text("Vestiging")
        page.reload()  # the choice sticks
        expect(page.locator("#history-heading")).to_have_text("Verloop")
        summary = page.locator("#circulation-chart-summary")
        expect(summary).to_contain_text("uitlening(en)")
        day_loans = int(summary.inner_text().split()[0])
        page.click("button[data-span='7d']")
        expect(page.locator("button[data-span='7d']")).to_have_attribute("aria-pressed", "true")
        page.wait_for_function(
            f"() => parseInt(document.getElementById('circulation-chart-summary')"
            f".textContent) > {day_loans}")
        assert page.evaluate("() => Chart.getChart('fleet-chart').data.labels.length") == 168
        assert page.evaluate(
            "() => Math.max(...Chart.getChart('fleet-chart').data.datasets[0].data)") == 3
        shot(page, "history-nl")
        page.select_option("#language", "fr")
        expect(page.locator("#history-heading")).to_have_text("Évolution")
        expect(page.locator("#fleet-chart")).to_have_attribute(
            "aria-label", "Évolution des bornes en ligne et des transactions en attente")
        shot(page, "history-fr")
    finally:
        page.close()
