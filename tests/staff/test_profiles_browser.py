"""The profiles page in headless Chromium, in French: a technician sets a profile for a
branch in TOML, sees it listed with its version, changes it, sees who changed what, and is
told in plain words when a profile sets what only a kiosk's own file may. Screenshot:
docs/screenshots/profiles-fr.png."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect
from shots import screenshot_dir
from test_dashboard_api import PASSWORD
from test_dashboard_browser import _log_in_as_alice, browser  # noqa: F401

from central.db import Database
from central.staff import add_staff
from domain import profiles
from domain.demo_library import DEMO_TOKEN
from kiosk.backends.rest import RestBackend

SHOTS = screenshot_dir()
TWO = "[offline]\nmax_items_per_patron = 2\n"


def test_a_technician_sets_a_branch_profile_and_reads_the_audit_log(
        browser: Browser, library: Any) -> None:  # noqa: F811
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _log_in_as_alice(page, library.direct_url)
        page.context.add_cookies([{"name": "kiosk_staff_lang", "value": "fr",
                                   "url": library.direct_url}])
        page.goto(f"{library.direct_url}/staff/profiles")
        expect(page.locator("h1")).to_have_text("Profils des bornes")
        expect(page.locator("#no-layers")).to_be_visible()
        expect(page.locator("#layer-for option")).not_to_have_count(1)  # the fleet loaded
        page.select_option("#layer-for", "branch:Hoofdbibliotheek")

        page.fill("#layer-toml", '[backend]\nurl = "https://elsewhere.example/"\n')
        page.click("#layer-save")
        expect(page.locator("#form-error")).to_contain_text("backend: a profile cannot set")
        page.fill("#layer-toml", "[offline\nmax = 1")
        page.click("#layer-save")
        expect(page.locator("#form-error")).to_contain_text("not valid TOML")

        page.fill("#layer-toml", TWO)
        page.click("#layer-save")
        row = page.locator("tr[data-layer='branch:Hoofdbibliotheek']")
        expect(row).to_contain_text("Agence Hoofdbibliotheek")
        expect(row).to_contain_text("max_items_per_patron = 2")
        version = profiles.version_of({"offline": {"max_items_per_patron": 2}})
        expect(row).to_contain_text(version)
        expect(page.locator("#form-error")).to_be_hidden()

        page.select_option("#layer-for", "library:")
        page.select_option("#layer-for", "branch:Hoofdbibliotheek")  # its TOML comes back
        expect(page.locator("#layer-toml")).to_have_value(TWO)
        page.fill("#layer-toml", TWO + "allow_renew = true\n")
        page.click("#layer-save")
        expect(page.locator("#changes tbody tr")).to_have_count(2)
        newest = page.locator("#changes tbody tr").first
        expect(newest).to_contain_text("alice")
        expect(newest.locator("td").nth(3)).to_contain_text("max_items_per_patron = 2")
        expect(newest.locator("td").nth(4)).to_contain_text("allow_renew = true")
        assert errors == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "profiles-fr.png"), full_page=True)
    finally:
        page.close()
    # what the page saved is what the branch's kiosk gets with its next heartbeat
    with RestBackend(library.direct_url, DEMO_TOKEN, kiosk_id="demo-kiosk-1") as backend:
        _version, settings = backend.heartbeat({"online": True}).profile  # type: ignore[misc]
    assert settings == {"offline": {"max_items_per_patron": 2, "allow_renew": True}}
