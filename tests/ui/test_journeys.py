"""Whole patron journeys in a real Kivy window, driven by touches and simulated devices,
against the real chain: reference catalog service -> RestBackend -> circulation -> Session -> UI.

Assertions are on what a patron can read (label texts, enabled buttons), in Dutch, the
kiosk's default language.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from shots import screenshot_dir
from ui_harness import TITLES, Ui, card, first_name, pad, patron, scan

from domain.demo_library import (
    AVAILABLE_ITEMS,
    DEMO_PIN,
    HELD_ITEMS,
    PICKUP_ITEM,
    RENEW_LIMIT_ITEM,
    WAITED_FOR_ITEM,
)
from kiosk.app import Kiosk
from kiosk.ui import probe
from kiosk.ui.widgets import SelectableRow, StatusRow

MakeKiosk = Callable[..., Kiosk]


def rows(ui: Ui) -> list[StatusRow]:
    return [w for w in probe.on_screen(ui.app) if isinstance(w, StatusRow) and w.item_id]


def patron_traces(ui: Ui, words: list[str]) -> list[str]:
    """Every label anywhere in the app (shown or not) that still holds one of `words`."""
    return [t for t in probe.texts(probe.everywhere(ui.app)) if any(w in t for w in words)]


def test_borrow_three_items_and_a_refused_one(ui: Ui, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk(devices={"printer": {"type": "sim"}})
    p = patron("P0015")
    ui.device(card(p))
    assert ui.screen == "home"
    assert f"Hallo {first_name(p)}!" in ui.text()

    ui.tap("mode-borrow")
    assert ui.screen == "borrow"
    assert "Leg uw exemplaren op de plaat of scan hun barcode." in ui.text()
    items = AVAILABLE_ITEMS[:3]
    for n in range(1, 4):  # the items are placed one after the other
        ui.device(pad(*items[:n]))
        assert TITLES[items[n - 1]] in ui.text()
    ui.device(scan(HELD_ITEMS[0]))

    text = ui.text()
    for item in items:
        assert TITLES[item] in text
    assert text.count("Geleend — terugbrengen op") == 3
    assert "U hebt 3 exemplaren geleend." in text
    assert "Niet geleend: gereserveerd voor een andere lezer — breng het naar de balie." in text
    by_item = {r.item_id: r for r in rows(ui)}
    assert [by_item[i].status for i in items] == ["ok", "ok", "ok"]
    refused = by_item[HELD_ITEMS[0]]
    assert (refused.status, refused.glyph) == ("error", "\u2716")  # shape, not only colour
    probe.screenshot(screenshot_dir() / "journey-borrow-nl.png")  # the README's first picture
    assert ui.board.cues[-1] == "attention" and "success" in ui.board.cues

    ui.tap("done")
    assert ui.screen == "receipt"
    assert "Wilt u een ticket?" in ui.text()
    ui.tap("receipt-print")
    assert len(kiosk.devices.printer.receipts) == 1
    assert ui.screen in ("goodbye", "idle")
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    assert patron_traces(ui, [first_name(p), *(TITLES[i] for i in items)]) == []
    assert {loan.item_id for loan in kiosk.backend.account(p.patron_id).loans} == set(items)


def test_return_without_a_card_routes_a_held_item_to_the_hold_shelf(
        ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk(devices={"printer": {"type": "sim"}})  # the receipt screen needs one
    assert ui.screen == "idle"
    ui.device(pad(WAITED_FOR_ITEM))
    assert ui.screen == "return"
    text = ui.text()
    assert TITLES[WAITED_FOR_ITEM] in text
    assert "Teruggebracht." in text
    assert "Iemand heeft dit gereserveerd: leg het op de reserveringsplank." in text
    (row,) = rows(ui)
    assert (row.status, row.glyph) == ("attention", "\u26a0")
    assert ui.board.cues[-1] == "attention"
    ui.tap("done")
    assert ui.screen == "receipt"  # a return receipt is offered too
    ui.tap("receipt-none")
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    assert patron_traces(ui, [TITLES[WAITED_FOR_ITEM]]) == []


def test_renew_selected_and_all_from_my_account(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    lotte = patron("P0008")  # one loan at the renewal limit, one that someone waits for
    ui.device(card(lotte))
    ui.tap("mode-account")
    assert ui.screen == "account"
    text = ui.text()
    assert "U hebt 2 exemplaren in bruikleen." in text
    assert TITLES[RENEW_LIMIT_ITEM] in text and TITLES[WAITED_FOR_ITEM] in text
    renew_selected = probe.button(ui.app, "renew-selected")
    assert renew_selected.disabled  # nothing chosen yet

    (row,) = [r for r in probe.on_screen(ui.app)
              if isinstance(r, SelectableRow) and r.item_id == RENEW_LIMIT_ITEM]
    probe.tap(row)
    ui.settle()
    assert row.selected and not probe.button(ui.app, "renew-selected").disabled
    assert "1 gekozen verlengen" in ui.text()
    ui.tap("renew-selected")
    text = ui.text()
    assert ("Niet verlengd: dit exemplaar kunt u niet nog eens verlengen. "
            "Breng het terug voor de inleverdatum.") in text

    ui.tap("renew-all")
    assert ui.text().count("Niet verlengd:") == 2
    ui.tap("done")
    assert probe.pump_until(lambda: ui.screen == "idle", 5)

    jan = patron("P0001")  # one ordinary loan
    ui.device(card(jan))
    ui.tap("mode-account")
    (row,) = [r for r in probe.on_screen(ui.app) if isinstance(r, SelectableRow)]
    before = row.detail
    probe.tap(row)
    ui.settle()
    ui.tap("renew-selected")
    (row,) = [r for r in probe.on_screen(ui.app) if isinstance(r, SelectableRow)]
    assert row.detail.startswith("Verlengd — terugbrengen op")
    assert row.detail != before


def test_account_marks_overdue_loans_in_words_and_shows_fines(
        ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    ui.device(card(patron("P0005")))  # two overdue loans and 12.50 EUR in fines
    ui.tap("mode-account")
    text = ui.text()
    assert text.count("Te laat — het moest terug op") == 2
    assert "Boetes: € 12,50" in text
    overdue = [r for r in probe.on_screen(ui.app) if isinstance(r, SelectableRow)]
    assert len(overdue) == 2 and all(r.overdue and r.title.startswith("\u26a0") for r in overdue)


def test_an_expired_card_hears_why_and_borrows_nothing(ui: Ui, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk()
    p = patron("P0025")  # the card ran out ten days ago
    ui.device(card(p))
    assert ui.screen == "home"
    assert "Uw kaart is verlopen. U kunt ze verlengen aan de balie." in ui.text()
    ui.tap("mode-borrow")
    assert "Uw kaart is verlopen. U kunt ze verlengen aan de balie." in ui.text()
    ui.device(pad(AVAILABLE_ITEMS[11]))
    assert [r.status for r in rows(ui)] == ["error"]
    assert kiosk.backend.account(p.patron_id).loans == ()


def test_timeout_in_the_middle_of_a_borrow_clears_the_screen(
        ui: Ui, make_kiosk: MakeKiosk) -> None:
    # a warning long enough to tap "still here" in even when frames stall on a loaded box,
    # and an idle time that the steps between the patron's actions cannot run into
    make_kiosk(timeout_s=2.0, warning_s=5.0)
    p = patron("P0017")
    ui.device(card(p))
    ui.tap("mode-borrow")
    ui.device(scan(AVAILABLE_ITEMS[10]))
    assert TITLES[AVAILABLE_ITEMS[10]] in ui.text()

    assert probe.pump_until(lambda: ui.app.timeout_overlay is not None, 15)
    text = ui.text()
    assert "Bent u er nog?" in text and "Uw sessie stopt over" in text
    ui.tap("still-here")  # the patron is still there: nothing is lost
    assert ui.app.timeout_overlay is None
    assert ui.screen == "borrow" and TITLES[AVAILABLE_ITEMS[10]] in ui.text()

    assert probe.pump_until(lambda: ui.app.timeout_overlay is not None, 15)
    assert probe.pump_until(lambda: ui.screen == "idle", 20)  # and now they walked away
    assert ui.app.timeout_overlay is None
    assert "Leg uw bibliotheekkaart op de lezer of scan ze." in ui.text()
    assert patron_traces(ui, [first_name(p), TITLES[AVAILABLE_ITEMS[10]]]) == []


def test_language_switch_mid_session_and_back_to_dutch_afterwards(
        ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk(devices={"printer": {"type": "sim"}})  # the receipt screen needs one
    ui.device(card(patron("P0018")))
    assert "Lenen" in ui.text()
    probe.tap(probe.button(ui.app, "lang-fr"))  # the switch shows before the session answers
    assert "Emprunter" in ui.text() and "Lenen" not in ui.text()
    ui.settle()
    ui.tap("mode-borrow")
    ui.device(scan(AVAILABLE_ITEMS[12]))
    text = ui.text()
    assert "Emprunté — à rendre le" in text
    assert "Vous avez emprunté 1 document." in text
    ui.tap("lang-de")
    assert "Ausgeliehen — zurück bis" in ui.text()
    ui.tap("done")
    ui.tap("receipt-none")
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    assert "Leg uw bibliotheekkaart op de lezer of scan ze." in ui.text()
    assert probe.button(ui.app, "lang-nl").text == "NL \u2714"


def test_offline_banner_appears_and_disappears(ui: Ui, make_kiosk: MakeKiosk, library: Any) -> None:
    kiosk = make_kiosk()
    banner = "We werken offline — uw uitleningen zijn bewaard en worden later doorgestuurd."
    ui.device(card(patron("P0019")))
    ui.tap("mode-borrow")
    assert banner not in ui.text()
    library.proxy.cut()
    try:
        ui.device(scan(AVAILABLE_ITEMS[14]))
        text = ui.text()
        assert banner in text
        assert "Offline bewaard: dit wordt later naar de bibliotheek gestuurd." in text
    finally:
        library.proxy.restore()
    kiosk.sync.wake(now=True)
    assert probe.pump_until(lambda: banner not in ui.text(), 15)
    assert ui.screen == "borrow"


def test_pin_pad_masks_digits_and_reports_a_wrong_pin(ui: Ui, make_kiosk: MakeKiosk,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    make_kiosk(require_pin=True)
    p = patron("P0020")
    ui.device(card(p))
    assert ui.screen == "pin"
    assert "Typ uw pincode." in ui.text()
    assert probe.button(ui.app, "pin-ok").disabled
    for digit in "9876":
        ui.tap(f"digit-{digit}")
    assert "9876" not in ui.text().replace(" ", "")
    assert "\u25cf \u25cf \u25cf \u25cf" in ui.text()
    ui.tap("pin-ok")
    assert ui.screen == "pin"
    assert "Die pincode klopt niet. Probeer het opnieuw." in ui.text()
    for digit in DEMO_PIN:
        ui.tap(f"digit-{digit}")
    ui.tap("pin-ok")
    assert ui.screen == "home"
    assert f"Hallo {first_name(p)}!" in ui.text()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    assert not re.search(rf"\b(9876|{DEMO_PIN})\b", logged)  # no PIN, right or wrong
    assert p.barcode not in logged and p.name not in logged


def test_pin_cancel_returns_to_idle(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk(require_pin=True)
    ui.device(card(patron("P0021")))
    ui.tap("digit-1")
    ui.tap("pin-cancel")
    assert ui.screen == "idle"
    assert "\u25cf" not in "".join(probe.texts(probe.everywhere(ui.app)))


@pytest.mark.parametrize("corner_hold_s", [2.5])
def test_hidden_technician_corner_asks_for_a_pin(ui: Ui, make_kiosk: MakeKiosk,
                                                corner_hold_s: float) -> None:
    # the hold (technician_hold_s=2.0 in conftest) is far longer than a short tap takes even
    # with stalled frames, and the long press holds well past it
    assert corner_hold_s > ui.app.hotspot.hold_s >= 1.0
    make_kiosk()
    probe.tap(ui.app.hotspot)  # a short tap does nothing
    assert ui.app.technician_overlay is None
    assert ui.app.hotspot._pending is None  # the lift cancelled the hold timer
    probe.long_press(ui.app.hotspot, corner_hold_s)
    assert ui.app.technician_overlay is not None
    assert "Pincode technicus" in ui.text()
    for digit in "4321":
        ui.tap(f"digit-{digit}")
    ui.tap("pin-ok")
    assert ui.app.technician_overlay is None
    assert probe.pump_until(lambda: ui.board.technician_pins == ["4321"], 2)
    assert ui.screen == "idle"


def test_a_touch_shows_please_wait_in_the_very_next_frame(ui: Ui) -> None:
    """Even when the session is slow to answer, the patron sees the touch was taken."""
    from gallery import in_language
    from kivy.tests.common import UnitTestTouch

    ui.board.attach(None)  # nobody answers
    ui.show(in_language("home", "nl"))
    flips: list[int] = []
    ui.app.frame_listeners.append(lambda: flips.append(len(flips)))
    try:
        target = probe.button(ui.app, "mode-borrow")
        touch = UnitTestTouch(*target.to_window(*target.center))
        touch.touch_down()
        touch.touch_up()
        probe.pump(1)
        assert flips, "no frame was drawn"
        assert ui.app.busy.parent is not None
        assert "Even geduld…" in ui.text()
    finally:
        ui.app.frame_listeners.clear()
        ui.app._set_pending(False)
        ui.app._render_busy()
    assert "Even geduld…" not in ui.text()


def test_sound_and_large_text_switches_hold_for_one_visit(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk(devices={"printer": {"type": "sim"}})  # the receipt screen needs one
    ui.tap("toggle-sound")
    ui.tap("toggle-large-text")
    assert "Geluid: uit" in ui.text() and "Grote letters: aan" in ui.text()
    before = len(ui.board.cues)
    big = probe.button(ui.app, "toggle-sound").font_size
    ui.device(scan(AVAILABLE_ITEMS[20]))  # a return without a card
    assert ui.screen == "return" and "Teruggebracht." in ui.text()
    assert len(ui.board.cues) == before  # sound is off: no cue
    ui.tap("done")
    ui.tap("receipt-none")
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    assert "Geluid: aan" in ui.text() and "Grote letters: uit" in ui.text()
    assert probe.button(ui.app, "toggle-sound").font_size < big


def test_an_unknown_card_is_explained_on_the_idle_screen(ui: Ui, make_kiosk: MakeKiosk) -> None:
    from domain.events import CardPresented
    from domain.model import Credential, CredentialKind

    make_kiosk()
    ui.device(CardPresented(Credential(CredentialKind.BARCODE, "2199999999999")))
    assert ui.screen == "idle"
    assert "We herkennen deze kaart niet. Vraag het aan de balie." in ui.text()
    assert ui.board.cues[-1] == "attention"


def test_a_view_the_ui_cannot_draw_is_logged_and_the_window_stays_up(
        ui: Ui, caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    from gallery import in_language

    ui.board.attach(None)
    broken = dataclasses.replace(in_language("home", "nl"), message="no_such_reason")
    ui.show(broken)
    assert "could not draw the home screen" in caplog.text
    ui.show(in_language("idle", "nl"))
    assert "Leg uw bibliotheekkaart op de lezer of scan ze." in ui.text()


def test_a_hold_ready_is_told_at_identification_and_the_account_says_where_and_until(
        ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    ui.device(card(patron("P0007")))  # the library holds a copy on its shelf for them
    text = ui.text()
    assert "1 reservering ligt voor u klaar." in text
    assert "Onder Mijn account ziet u waar en tot wanneer." in text
    ui.tap("mode-account")
    text = ui.text()
    assert TITLES[PICKUP_ITEM] in text
    assert re.search(r"Ligt voor u klaar tot \w+ \d+ \w+\. Waar: reserveringsrek bij de ingang\.",
                     text), text
    ui.tap("back")
    ui.tap("done")

    ui.device(card(patron("P0015")))  # nothing waiting: nothing said about holds
    assert "reservering" not in ui.text()


def test_the_receipt_screen_offers_only_the_receipts_there_are(ui: Ui) -> None:
    """Print needs a printer, e-mail an address the library holds (shown masked); the first
    choice there is is the main one."""
    from gallery import in_language

    from kiosk.session import EmailReceipt

    ui.board.attach(None)
    full = in_language("receipt", "nl")
    ui.show(full)
    assert [b.action_name for b in ui.app.screens["receipt"].buttons.children[::-1]] == [
        "receipt-print", "receipt-email", "receipt-none"]
    assert "E-mail naar m\u2022\u2022\u2022@example.org" in ui.text()
    ui.tap("receipt-email")
    assert isinstance(ui.board.actions[-1], EmailReceipt)
    ui.show(dataclasses.replace(full, receipt_available=False))  # no printer at this kiosk
    email = probe.button(ui.app, "receipt-email")
    assert email.kind == "primary" and not probe.buttons(ui.app, "receipt-print")
    ui.show(dataclasses.replace(full, email_hint=""))  # no address: no e-mail button
    assert not probe.buttons(ui.app, "receipt-email")
