"""The experiments page in headless Chromium: the demo's month-old experiment with its result
per variant (interval and test), and a new experiment started from the form. Screenshot:
docs/screenshots/experiments-result.png."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from playwright.sync_api import Browser, expect
from shots import screenshot_dir
from test_dashboard_api import PASSWORD
from test_dashboard_browser import _log_in_as_alice, browser  # noqa: F401

from central.db import Database
from central.demo_visits import DEMO_EXPERIMENT, seed_demo_month
from central.experiments import active_for
from central.messages import active_for as messages_for
from central.staff import add_staff
from domain.demo_library import DEMO_KIOSK_ID

SHOTS = screenshot_dir()


def _read_it_in_german(page: Any, card: Any, new: Any, url: str) -> None:
    """A German-speaking librarian reads the same results in German, the service's own
    words (its test's name, its warning) included."""
    page.context.add_cookies([{"name": "kiosk_staff_lang", "value": "de",
                               "url": f"{url}/staff"}])
    page.reload()
    expect(page.locator("h1")).to_have_text("Änderungen am Angebot ausprobieren")
    expect(card).to_contain_text("läuft")
    expect(card).to_contain_text("Schön, dass Sie da sind!")
    expect(card).to_contain_text("Variiert die Nachricht auf dem Wartebildschirm")
    expect(card.locator("th").first).to_have_text("Variante")
    expect(card).to_contain_text("z-Test für zwei Anteile")
    expect(new).to_contain_text("die geplanten")
    expect(new).not_to_contain_text("not reached")
    expect(page.locator("#exp-save")).to_have_text("Experiment starten")


def test_staff_read_a_result_and_start_an_experiment(browser: Browser,  # noqa: F811
                                                     library: Any) -> None:
    today = date.today()
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
        seed_demo_month(db, today)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _log_in_as_alice(page, library.direct_url)
        page.goto(f"{library.direct_url}/staff/experiments")
        card = page.locator(f"section[data-experiment='{DEMO_EXPERIMENT}']")
        expect(card).to_contain_text("running")
        expect(card).to_contain_text("two-proportion z-test")
        expect(card.locator("tbody tr")).to_have_count(2)
        expect(card).to_contain_text("Good to see you!")  # the variant as English patrons see it
        assert errors == []
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "experiments-result.png"), full_page=True)

        page.fill("#exp-name", "Receipt First!")  # not a slug: the service says why
        page.select_option("#exp-factor", "receipt_default")
        page.select_option("#exp-outcome", "receipt_choice")
        page.fill("#exp-start", today.isoformat())
        page.fill("#exp-end", (today + timedelta(days=28)).isoformat())
        expect(page.locator("#exp-where option")).not_to_have_count(1)  # the fleet loaded
        page.select_option("#exp-where", f"kiosk:{DEMO_KIOSK_ID}")
        page.fill("#exp-a-name", "print-first")
        page.fill("#exp-a-value", "print")
        page.fill("#exp-b-name", "none-first")
        page.fill("#exp-b-value", "none")
        page.evaluate("document.getElementById('exp-name').removeAttribute('pattern')")
        page.click("#exp-save")
        expect(page.locator("#form-error")).to_contain_text("short slug")
        page.fill("#exp-name", "receipt-first")
        page.click("#exp-save")
        new = page.locator("section[data-experiment='receipt-first']")
        expect(new).to_contain_text("running")
        expect(new).to_contain_text("not reached")
        expect(new).to_contain_text(f"kiosks {DEMO_KIOSK_ID}")
        _read_it_in_german(page, card, new, library.direct_url)
        assert errors == []
        page.screenshot(path=str(SHOTS / "experiments-result-de.png"), full_page=True)
    finally:
        page.close()
    with Database(library.db_path) as db:
        running = {e.factor: e.name for e in active_for(db, DEMO_KIOSK_ID, today)}
    assert running == {"idle_message": DEMO_EXPERIMENT, "receipt_default": "receipt-first"}


def test_staff_publish_a_message_for_children_on_one_branch(browser: Browser,  # noqa: F811
                                                            library: Any) -> None:
    today = date.today()
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    try:
        _log_in_as_alice(page, library.direct_url)
        page.goto(f"{library.direct_url}/staff/messages")
        page.fill("#msg-nl", "Woensdag om 14 uur: voorleesuurtje!")
        page.fill("#msg-fr", "Mercredi à 14 h : heure du conte !")
        page.fill("#msg-start", today.isoformat())
        page.fill("#msg-end", (today + timedelta(days=7)).isoformat())
        page.select_option("#msg-audience", "child")
        expect(page.locator("#msg-where option")).not_to_have_count(1)  # branches loaded
        page.select_option("#msg-where", index=1)  # the first branch
        page.click("#msg-save")
        row = page.locator("#messages tbody tr").first
        expect(row).to_contain_text("voorleesuurtje")
        expect(row).to_contain_text("children")
        expect(row).to_contain_text("branch")
        page.screenshot(path=str(SHOTS / "messages-published.png"), full_page=True)
        # a French-speaking librarian reads the page, and the message, in French
        page.context.add_cookies([{"name": "kiosk_staff_lang", "value": "fr",
                                   "url": f"{library.direct_url}/staff"}])
        page.reload()
        expect(page.locator("h1")).to_have_text("Messages aux usagers")
        expect(page.locator("#msg-save")).to_have_text("Publier")
        expect(page.locator("#msg-audience option[value=child]")).to_have_text("Enfants")
        row = page.locator("#messages tbody tr").first
        expect(row).to_contain_text("heure du conte")
        expect(row).to_contain_text("enfants")
        expect(row).to_contain_text("agence")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        page.screenshot(path=str(SHOTS / "messages-published-fr.png"), full_page=True)
    finally:
        page.close()
    with Database(library.db_path) as db:
        [message] = messages_for(db, DEMO_KIOSK_ID, today)
    assert message.audience == "child" and message.texts["fr"].startswith("Mercredi")
