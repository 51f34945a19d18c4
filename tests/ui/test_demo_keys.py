"""The demo's function keys drive the simulated devices through the real window's keyboard
events (SDL key codes), and a failing control never takes the window down."""

from __future__ import annotations

import pytest
from kivy.core.window import Window
from ui_harness import Ui

from kiosk.ui.context import DemoControls
from kiosk.ui.demo_panel import install_demo_controls


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
