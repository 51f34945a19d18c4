"""Every journey with the keys only, in the real window: a patron who cannot use the touch
screen moves a visible focus ring with up and down, chooses with the middle key, goes back
with 0, types the PIN on the keypad's digits and asks for help; GPIO keys do the same.
Cards and books still go on the reader and the pad, as they would for anyone."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from kivy.core.window import Window
from shots import screenshot_dir
from ui_harness import TITLES, Ui, card, first_name, pad, patron

from domain.demo_library import AVAILABLE_ITEMS, DEMO_PIN, RENEW_LIMIT_ITEM
from kiosk.app import Kiosk
from kiosk.ui import probe
from kiosk.ui.focus import focus_words
from kiosk.ui.keys import Key
from kiosk.ui.widgets import KioskButton, SelectableRow

MakeKiosk = Callable[..., Kiosk]
# the USB numeric keypad's own codes (num lock on); arrows for up and down, which are digits
# on the PIN screen
CODES = {Key.UP: 273, Key.DOWN: 274, Key.SELECT: 271, Key.BACK: 27, Key.HELP: 266,
         Key.SPEAK: 268}
MAX_PRESSES = 40


def shot(name: str) -> None:
    probe.screenshot(screenshot_dir() / f"{name}.png")


def key(ui: Ui, k: Key | int) -> None:
    code = k if isinstance(k, int) else CODES[k]
    Window.dispatch("on_key_down", code, 0, None, [])
    ui.settle()


def focused(ui: Ui) -> str:
    w = ui.app.focus.focused
    if isinstance(w, KioskButton):
        return w.action_name
    if isinstance(w, SelectableRow):
        return f"loan:{w.item_id}"
    return ""


def go_to(ui: Ui, name: str) -> int:
    """Press down until `name` has the focus; how many presses it took."""
    for n in range(MAX_PRESSES):
        if focused(ui) == name:
            return n
        key(ui, Key.DOWN)
    raise AssertionError(f"{name} never got the focus on {ui.screen}; last: {focused(ui)}")


def choose(ui: Ui, name: str) -> None:
    go_to(ui, name)
    key(ui, Key.SELECT)


def ring_around_focus(ui: Ui) -> bool:
    """The ring is drawn, and around the focused widget (in window coordinates)."""
    probe.pump(2)
    box, w = ui.app.focus.box, ui.app.focus.focused
    if box is None or w is None:
        return False
    x0, y0 = w.to_window(w.x, w.y)
    x, y, width, height = box
    return x <= x0 and y <= y0 and x + width >= x0 + w.width and y + height >= y0 + w.height


def test_borrow_with_a_pin_and_a_receipt_keys_only(ui: Ui, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk(require_pin=True, devices={"printer": {"type": "sim"}})
    p = patron("P0015")
    ui.device(card(p))
    assert ui.screen == "pin"
    for digit in DEMO_PIN:  # the keypad's digits type the PIN
        key(ui, 256 + int(digit))
    assert focused(ui) == "pin-ok" and ring_around_focus(ui)
    shot("keypad-pin-focus")
    key(ui, Key.SELECT)
    assert ui.screen == "home" and f"Hallo {first_name(p)}!" in ui.text()
    assert focused(ui) == "mode-borrow"  # a screen opens on its main action
    assert ring_around_focus(ui)
    shot("keypad-home-focus")
    key(ui, Key.SELECT)
    assert ui.screen == "borrow"
    items = AVAILABLE_ITEMS[80:82]
    ui.device(pad(*items))
    assert all(TITLES[i] in ui.text() for i in items)
    assert ui.text().count("Geleend — terugbrengen op") == 2
    assert focused(ui) == "done"
    key(ui, Key.SELECT)
    assert ui.screen == "receipt" and focused(ui) == "receipt-print"
    key(ui, Key.SELECT)
    assert len(kiosk.devices.printer.receipts) == 1
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    assert ui.app.focus.box is None  # the next patron starts without the ring
    assert {loan.item_id for loan in kiosk.backend.account(p.patron_id).loans} >= set(items)


def test_return_without_a_card_and_back_keys_only(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    choose(ui, "mode-return")
    assert ui.screen == "return"
    ui.device(pad(AVAILABLE_ITEMS[83]))
    assert "Teruggebracht." in ui.text()
    key(ui, Key.BACK)  # back with nobody identified: the kiosk is free again
    assert ui.screen == "idle"


def test_account_renew_and_language_keys_only(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    ui.device(card(patron("P0008")))
    choose(ui, "lang-fr")
    assert ui.app.lang == "fr" and "Bonjour" in ui.text()
    choose(ui, "mode-account")
    assert ui.screen == "account"
    assert focused(ui).startswith("loan:")  # nothing to renew yet: the first loan
    choose(ui, f"loan:{RENEW_LIMIT_ITEM}")
    row = ui.app.focus.focused
    assert isinstance(row, SelectableRow) and row.selected
    shot("keypad-account-focus")
    choose(ui, "renew-selected")
    assert "Non prolongé : ce document ne peut plus être prolongé." in ui.text()
    key(ui, Key.BACK)
    assert ui.screen == "home"
    choose(ui, "done")
    assert ui.screen in ("goodbye", "idle")


def test_accessibility_switches_keys_only(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    choose(ui, "toggle-large-text")
    assert ui.app.theme.large_text and focused(ui) == "toggle-large-text"
    choose(ui, "toggle-high-contrast")
    assert ui.app.theme.high_contrast
    assert ring_around_focus(ui)
    shot("keypad-idle-high-contrast-focus")
    choose(ui, "toggle-sound")
    assert not ui.app.sound_on
    choose(ui, "toggle-speech")
    assert ui.app.speech_on


def test_help_key_explains_the_keys_on_screen_and_aloud(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk()
    ui.app.toggle_speech()
    key(ui, Key.HELP)
    assert "Toetsen: op en neer verplaatsen het kader" in ui.text()
    assert ui.voice is not None
    assert any("stertoets" in text for text, _ in ui.voice.said)
    key(ui, Key.DOWN)  # the next key puts the help away
    assert "Toetsen:" not in ui.text()
    key(ui, Key.DOWN)
    said = ui.voice.said[-1][0]
    assert said == focus_words(ui.app.focus.focused, ui.app)  # the focused button, aloud
    assert said and "\u2714" not in said


def test_pin_digits_are_counted_aloud_never_said(ui: Ui, make_kiosk: MakeKiosk) -> None:
    make_kiosk(require_pin=True)
    ui.app.toggle_speech()
    ui.device(card(patron("P0015")))
    for digit in "97":
        key(ui, 256 + int(digit))
    assert ui.voice is not None
    said = [text for text, _ in ui.voice.said]
    assert said[-2:] == ["1 cijfer", "2 cijfers"]
    assert not any("9" in t or "7" in t for t in said[-2:])
    key(ui, 8)
    key(ui, 8)  # Backspace deletes; once nothing is left it is "back"
    assert ui.screen == "pin"
    key(ui, 8)
    assert ui.screen == "idle"


def test_a_timeout_warning_offers_more_time_by_key(ui: Ui, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk(timeout_s=0.6, warning_s=20.0)
    ui.device(card(patron("P0015")))
    assert probe.pump_until(lambda: ui.app.timeout_overlay is not None, 5)
    key(ui, Key.DOWN)  # the first key shows the ring on the main choice
    assert focused(ui) == "still-here" and ring_around_focus(ui)
    key(ui, Key.DOWN)  # then up and down move between the warning's two choices
    assert focused(ui) == "more-time"
    shot("keypad-timeout-more-time")
    key(ui, Key.SELECT)
    assert probe.pump_until(lambda: kiosk.session.view.more_time, 5)
    assert ui.app.timeout_overlay is None and ui.screen == "home"
    # doubled: the next warning comes after 1.2 s, and has no "more time" to offer again
    assert probe.pump_until(lambda: ui.app.timeout_overlay is not None, 5)
    overlay = ui.app.timeout_overlay
    assert overlay is not None and overlay.more_time_text == ""
    probe.tap(overlay.children[0].children[-1])  # a tap on the heading is "still here" too
    ui.settle()
    assert ui.app.timeout_overlay is None and ui.screen == "home"


def test_gpio_keys_move_the_same_ring(ui: Ui, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk(devices={"keypad": {"type": "sim"}})
    ui.device(card(patron("P0015")))
    keypad = kiosk.devices.keypad
    assert keypad is not None and focused(ui) == "mode-borrow"
    keypad.press("down")  # the first key shows the ring where the focus is
    assert probe.pump_until(lambda: ui.app.focus.box is not None, 5)
    assert focused(ui) == "mode-borrow"
    keypad.press("down")
    assert probe.pump_until(lambda: focused(ui) == "mode-return", 5)
    keypad.press("select")
    assert probe.pump_until(lambda: ui.screen == "return", 5)
    keypad.press("back")
    assert probe.pump_until(lambda: ui.screen == "home", 5)


def test_how_did_it_go_with_keys_and_speech(ui: Ui, make_kiosk: MakeKiosk,
                                            library: Any) -> None:
    """The goodbye screen's four faces and, after a low score, four reasons: found with the
    keys, read aloud, and recorded for the library (anonymously) with the visit."""
    kiosk = make_kiosk(feedback=True)
    ui.app.toggle_speech()
    ui.device(card(patron("P0016")))
    key(ui, Key.SELECT)  # the home screen opens on Borrow
    ui.device(pad(AVAILABLE_ITEMS[84]))
    choose(ui, "done")  # no printer, no e-mail address: straight to goodbye
    assert ui.screen == "goodbye" and "Hoe ging het?" in ui.text()
    assert ui.voice is not None
    said = ui.voice.said[-1][0]  # the goodbye screen, read as it opened
    assert "Hoe ging het?" in said
    assert said.index("Slecht") < said.index("Niet zo goed") < said.index("Heel goed")
    assert go_to(ui, "feedback-2") <= 4 and ring_around_focus(ui)
    shot("goodbye-feedback")
    key(ui, Key.SELECT)
    assert "Wat ging er mis?" in ui.text()
    assert any("Wat ging er mis?" in text and "Te traag" in text
               for text, _ in ui.voice.said[-3:])
    shot("goodbye-feedback-why")
    choose(ui, "feedback-why-could_not_find")
    assert "Bedankt om het ons te laten weten." in ui.text()
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    kiosk.sync.wake(now=True)

    def stored() -> dict | None:  # the visit, as the library's service holds it
        with sqlite3.connect(library.db_path) as db:
            row = db.execute("SELECT record FROM visits").fetchone()
        return json.loads(row[0]) if row else None
    assert probe.pump_until(lambda: stored() is not None, 10)
    visit = stored()
    assert visit is not None
    assert (visit["feedback"], visit["feedback_reason"]) == (2, "could_not_find")
    assert "keypad" in visit["access"] and "speech" in visit["access"]
