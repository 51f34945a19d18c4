"""The insights page in headless Chromium, fed the way the library's would be: a real kiosk's
visit travels session -> journal -> sync -> REST -> the service, beside a month of generated
demo visits. Screenshots go to docs/screenshots/insights-*.png.

The privacy rules are checked where staff meet them: on the page, in both exports, and in what
the service stored (no patron, card, item or title anywhere; small cells withheld).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests
from engines import direct
from playwright.sync_api import Browser, expect
from shots import screenshot_dir
from staff_support import RunningKiosk, demo_settings, wait_for
from test_dashboard_api import PASSWORD
from test_dashboard_browser import CHROMIUM_ARGS, _log_in_as_alice, browser  # noqa: F401

from central.db import Database
from central.demo_visits import seed_demo_month
from central.insights import Scope, export_csv, summary, withheld_with_complement
from central.staff import add_staff
from domain.demo_library import AVAILABLE_ITEMS, SEED_PATRONS
from domain.events import BarcodeScanned, CardPresented
from domain.model import Credential, CredentialKind
from kiosk.session import ChooseMode, Done, Feedback, Mode, ReceiptChoice, Screen

SHOTS = screenshot_dir()
ANNA = SEED_PATRONS[14]


def _one_real_visit(kiosk: RunningKiosk) -> None:
    k = kiosk.kiosk
    k.put(CardPresented(Credential(CredentialKind.BARCODE, ANNA.barcode)))
    k.put(ChooseMode(Mode.BORROW))
    k.put(BarcodeScanned(AVAILABLE_ITEMS[5]))
    k.put(Done())
    k.put(ReceiptChoice(print_receipt=False))
    k.wait_idle()
    assert k.session.view.feedback == "ask"
    k.put(Feedback(4))  # "How did it go?": very good
    assert wait_for(lambda: k.session.view.screen == Screen.IDLE, timeout=5)


def _secrets(db_path: Any) -> list[str]:
    with direct(db_path) as conn:
        items = [r for row in conn.execute("SELECT item_id, title FROM items") for r in row]
    people = [v for p in SEED_PATRONS for v in (p.patron_id, p.barcode, p.name, p.card_uid)
              if v]
    return [str(s) for s in (*items, *people) if len(str(s)) >= 4]


def test_staff_see_a_month_of_visits_and_export_it_without_a_patron_in_it(
        browser: Browser, library: Any, tmp_path: Path) -> None:  # noqa: F811
    today = date.today()
    demo_kiosk = RunningKiosk(demo_settings(library.url, tmp_path, feedback=True))
    try:
        _visit_and_look(browser, library, demo_kiosk, today)
    finally:
        demo_kiosk.close()


def _visit_and_look(browser: Browser, library: Any, demo_kiosk: RunningKiosk,  # noqa: F811
                    today: date) -> None:
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
        generated = seed_demo_month(db, today)
    assert generated > 500

    _one_real_visit(demo_kiosk)
    demo_kiosk.kiosk.sync.wake(now=True)

    def stored_today() -> int:
        with direct(library.db_path) as conn:
            return conn.execute("SELECT COUNT(*) FROM visits WHERE day = ?",
                                (today.isoformat(),)).fetchone()[0]
    assert wait_for(lambda: stored_today() == 1, timeout=15)
    # acknowledged, so gone from the kiosk (deleted once the answer is back, just after the row)
    assert wait_for(lambda: demo_kiosk.kiosk.journal.visit_count() == 0, timeout=5)
    with direct(library.db_path) as conn:
        assert conn.execute("SELECT ended, feedback FROM visits WHERE day = ?",
                            (today.isoformat(),)).fetchone() == ("done", 4)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _log_in_as_alice(page, library.direct_url)
        page.goto(f"{library.direct_url}/staff/insights")
        expect(page.locator("body")).to_have_attribute("data-loaded", "1")
        assert errors == []
        expect(page.locator("#demo")).to_be_visible()
        figures = page.locator("#figures")
        expect(figures).to_contain_text("Visits")
        expect(page.locator("#privacy")).to_contain_text("fewer than 5 visits is withheld")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "insights-library.png"), full_page=True)
        text = page.inner_text("body")
        assert not [s for s in _secrets(library.db_path) if s in text]

        # today alone: one visit, under k, so every figure about it is withheld
        page.fill("#start", today.isoformat())
        page.fill("#end", today.isoformat())
        page.click("#scope button[type=submit]")
        expect(figures.locator("dd").first).to_have_text("withheld")
        page.screenshot(path=str(SHOTS / "insights-one-day-withheld.png"), full_page=True)

        # a Dutch-speaking librarian reads the month in Dutch, as anonymous as in English
        page.context.add_cookies([{"name": "kiosk_staff_lang", "value": "nl",
                                   "url": f"{library.direct_url}/staff"}])
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-loaded", "1")
        expect(page.locator("h1")).to_have_text("Hoe leners de kiosken gebruiken")
        expect(figures).to_contain_text("Bezoeken terwijl offline")
        expect(page.locator("#privacy")).to_contain_text("minder dan 5 bezoeken")
        expect(page.locator("#demo")).to_contain_text("Demogegevens")
        expect(page.locator("#scope-label")).to_contain_text("de hele bibliotheek")
        expect(page.locator("#heat")).to_have_attribute("aria-label",
                                                        "Bezoeken per uur van de week")
        assert errors == []
        page.screenshot(path=str(SHOTS / "insights-library-nl.png"), full_page=True)
        assert not [s for s in _secrets(library.db_path) if s in page.inner_text("body")]
    finally:
        page.close()

    _exports_hold_no_patron(library, today, generated)


def _exports_hold_no_patron(library: Any, today: date, generated: int) -> None:
    """Both exports, as a logged-in member of staff downloads them."""
    session = requests.Session()
    reply = session.post(f"{library.direct_url}/staff/api/login",
                         json={"name": "alice", "password": PASSWORD},
                         headers={"X-Staff-Request": "1"}, timeout=10)
    assert reply.ok
    base = f"{library.direct_url}/staff/api/insights/export"
    month = {"start": (today - timedelta(days=30)).isoformat(), "end": today.isoformat()}
    as_csv = session.get(f"{base}.csv", params=month, timeout=10)
    as_json = session.get(f"{base}.json", params=month, timeout=10)
    assert as_csv.ok and as_json.ok
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["section", "key", "value"] and len(rows) > 40
    data = json.loads(as_json.text)
    assert data["licence"] == "CC0-1.0" and data["visits"] >= generated
    for body in (as_csv.text, as_json.text):
        assert not [s for s in _secrets(library.db_path) if s in body]
    one_day = session.get(f"{base}.json", params={"start": today.isoformat(),
                                                  "end": today.isoformat()}, timeout=10)
    assert json.loads(one_day.text)["visits"] is None
    assert session.get(f"{base}.csv", params={"start": "2026-13-01"}, timeout=10
                       ).status_code == 422
    assert requests.get(f"{base}.csv", timeout=10).status_code == 401  # not logged in


def test_every_figure_under_k_visits_is_withheld(library: Any) -> None:
    with Database(library.db_path) as db:
        seed_demo_month(db, date(2026, 11, 1))
        month = Scope(date(2026, 10, 1), date(2026, 10, 31))
        full = summary(db, month, k=5)
        strict = summary(db, month, k=10**6)
    assert full["visits"] and full["seconds"]["median"] and full["feedback"]["mean"]
    assert full["heat"][6] == [0] * 24  # closed on Sunday: no one came (says nothing of anyone)
    shown = [v for table in ("access", "languages", "refusals", "identified")
             for v in full[table].values() if v is not None]
    assert shown and min(shown) >= 5

    def figures(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [x for v in value.values() for x in figures(v)]
        if isinstance(value, list):
            return [x for v in value for x in figures(v)]
        return [value]
    numbers = [v for key, v in strict.items() if key not in ("scope", "min_visits")
               for v in figures(v)]
    assert numbers and all(v in (None, 0) for v in numbers), "nothing rests on a million visits"
    exported = list(csv.reader(io.StringIO(export_csv(strict))))[3:]  # after the scope rows
    assert exported and all(value in ("", "0") for _, _, value in exported)


def test_a_small_cell_cannot_be_worked_out_from_the_total_and_its_neighbours() -> None:
    # 929 visits: 900 Dutch, 27 French, 2 German. Withholding only the 2 would leave it as
    # 929 - 900 - 27; so the smallest cell shown is withheld with it
    assert withheld_with_complement({"nl": 900, "fr": 27, "de": 2}, 5) == {
        "nl": 900, "fr": None, "de": None}
    assert withheld_with_complement({"a": 50, "b": 3, "c": 4}, 5) == {
        "a": 50, "b": None, "c": None}  # two withheld, 7 together: neither can be told
    assert withheld_with_complement({"a": 50, "b": 0, "c": 9}, 5) == {"a": 50, "b": 0, "c": 9}
    assert withheld_with_complement({"a": 3}, 5) == {"a": None}
