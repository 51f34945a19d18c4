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

from kiosk.ui.context import DemoControls, UiConfig, UiContext, ui_config_from_settings


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


__all__ = ["DemoControls", "UiConfig", "UiContext", "run_ui", "ui_config_from_settings"]
