"""The Kivy touchscreen UI. It renders `SessionView`s and sends actions; it decides nothing.

Entry point for the composition root / CLI::

    from kiosk.ui import UiConfig, UiContext, run_ui
    run_ui(UiContext(events=kiosk, subscribe=kiosk.subscribe,
                     config=ui_config_from_settings(settings), cue=buzzer.cue,
                     on_technician_pin=technician.unlock, demo=DemoControls(...)))

`run_ui` opens the window (full screen on the Pi, see `kiosk.ui.env`) and returns when the
window is closed. Importing this package does not import Kivy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.ui.context import DemoControls, UiConfig, UiContext, ui_config_from_settings

if TYPE_CHECKING:
    from central.faultproxy import FaultProxy
    from kiosk.app import Kiosk


def run_ui(context: UiContext) -> None:
    """Open the kiosk window and run until it is closed."""
    from kiosk.ui import env

    env.configure(context.config)
    from kiosk.ui.app import KioskApp
    from kiosk.ui.demo_panel import install_demo_controls

    app = KioskApp(context)
    if context.demo is not None:
        install_demo_controls(app, context.demo)
    app.run()


def run_demo_ui(kiosk: Kiosk, proxy: FaultProxy) -> int:
    """`kiosk demo` with a display: the window, with the demo keys (F1..F11) driving simulated
    cards, items and the network (see `kiosk.ui.demo_panel`). Returns the exit status."""
    from kiosk.speech import speaker_from
    from kiosk.ui.demo_panel import demo_controls_for

    kiosk.devices.beep_on_views = False  # the UI cues the buzzer, obeying the sound switch
    run_ui(UiContext(events=kiosk, subscribe=kiosk.subscribe,
                     config=ui_config_from_settings(kiosk.settings), cue=kiosk.devices.cue,
                     demo=demo_controls_for(kiosk, proxy), speaker=speaker_from(kiosk.settings),
                     keys=kiosk.subscribe_keys))
    return 0


def run_screen_tour(kiosk: Kiosk, proxy: FaultProxy, output: Path) -> int:
    """`kiosk demo --tour` / no display: every screen played headless, PNGs + transcript."""
    from kiosk.ui.tour import run_screen_tour as tour

    return tour(kiosk, proxy, output)


__all__ = ["DemoControls", "UiConfig", "UiContext", "run_demo_ui", "run_screen_tour", "run_ui",
           "ui_config_from_settings"]
