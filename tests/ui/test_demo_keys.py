"""The demo's function keys drive the simulated devices through the real window's keyboard
events (SDL key codes), and a failing control never takes the window down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kivy.core.window import Window
from ui_harness import TITLES, Ui, first_name, patron

from domain.demo_library import AVAILABLE_ITEMS
from kiosk.app import Kiosk
from kiosk.ui import probe
from kiosk.ui.context import DemoControls
from kiosk.ui.demo_panel import demo_controls_for, install_demo_controls

MakeKiosk = Callable[..., Kiosk]


def press(key_name: str) -> None:
    code = 282 + int(key_name[1:]) - 1
    Window.dispatch("on_key_down", code, 0, "", [])


def test_function_keys_drive_cards_items_and_network(ui: Ui) -> None:
    calls: list[tuple[str, object]] = []
    demo = DemoControls(
        present_card=lambda code: calls.append(("card", code)),
        place_items=lambda ids: calls.append(("pad", tuple(ids))),
        clear_pad=lambda: calls.append(("pad", ())),
        set_network=lambda up: calls.append(("network", up)),
        sample_cards=("2100000000159", "2100000000081"),
        sample_items=("3700000000512", "3700000000529"),
    )
    keys = install_demo_controls(ui.app, demo)
    try:
        for key in ("F2", "F5", "F6", "F5", "F9", "F10", "F11", "F12"):
            press(key)
    finally:
        keys.uninstall()
    assert calls == [
        ("card", "2100000000081"),
        ("pad", ("3700000000512",)),
        ("pad", ("3700000000512", "3700000000529")),
        ("pad", ("3700000000512", "3700000000529")),  # placing it again changes nothing
        ("pad", ()),
        ("network", False),
        ("network", True),
    ]
    press("F1")  # uninstalled: the key does nothing any more
    assert len(calls) == 7


def test_a_failing_control_is_logged_not_raised(ui: Ui,
                                               caplog: pytest.LogCaptureFixture) -> None:
    def broken(_code: str) -> None:
        raise OSError("simulated reader unplugged")

    keys = install_demo_controls(ui.app, DemoControls(present_card=broken, sample_cards=("x",)))
    try:
        press("F1")
    finally:
        keys.uninstall()
    assert "demo control F1 failed" in caplog.text
    assert ui.app.root_layout.parent is Window


def test_the_demo_keys_act_through_the_simulated_devices(ui: Ui, make_kiosk: MakeKiosk,
                                                         library: Any) -> None:
    """F1 lays sample card 1 (an NFC card) on the simulated reader, F5 puts a book on the
    simulated RFID reader that the pad driver polls, F10 cuts the network: the patron sees
    what the devices published, as on a kiosk."""
    kiosk = make_kiosk(devices={"card_reader": {"type": "sim"}, "scanner": {"type": "sim"},
                                "rfid": {"type": "sim", "poll_interval": 0.05}})
    keys = install_demo_controls(ui.app, demo_controls_for(kiosk, library.proxy))
    try:
        press("F1")
        assert probe.pump_until(lambda: ui.screen == "home", 5)
        assert f"Hallo {first_name(patron('P0015'))}!" in ui.text()
        ui.tap("mode-borrow")
        press("F5")
        book = AVAILABLE_ITEMS[150]
        assert probe.pump_until(lambda: TITLES[book] in ui.text(), 5)
        assert kiosk.devices.rfid.tags[0].item_id == book  # read off the tag by the driver
        press("F10")
        press("F6")
        assert probe.pump_until(lambda: ui.app.view.offline, 10)
        press("F11")
        assert probe.pump_until(lambda: not ui.app.view.offline, 15)
    finally:
        keys.uninstall()
