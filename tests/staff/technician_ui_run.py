"""Drives the real Kivy window through technician mode; run by test_technician_ui.py in its
own process (Kivy opens one window per process). Prints one JSON object on its last line.

    python tests/staff/technician_ui_run.py CATALOG_URL DATA_DIR SCREENSHOT_DIR
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]
os.environ["KIVY_HOME"] = tempfile.mkdtemp(prefix="kiosk-tech-kivy-")
os.environ["KIVY_LOG_MODE"] = "PYTHON"
os.environ["KIVY_NO_ARGS"] = "1"

from kiosk.ui.display import HeadlessDisplay  # noqa: E402  (imports no Kivy)

DISPLAY = HeadlessDisplay().start()

from staff_support import RunningKiosk, demo_settings  # noqa: E402

from domain.demo_library import SEED_PATRONS  # noqa: E402
from kiosk.session import Screen  # noqa: E402
from kiosk.technician.pin import hash_pin  # noqa: E402
from kiosk.ui import env  # noqa: E402
from kiosk.ui.context import UiConfig, UiContext  # noqa: E402

PIN = "2468"
JAN = SEED_PATRONS[0]


class _Visit:
    """A technician at the kiosk window: the hidden corner, the PIN pad, the console."""

    def __init__(self, app: Any, running: RunningKiosk, shots: Path) -> None:
        self.app, self.running, self.kiosk, self.shots = app, running, running.kiosk, shots
        self.found: dict[str, object] = {}

    def panel(self) -> Any:
        return getattr(self.app, "_technician_panel", None)

    def enter(self, pin: str) -> None:
        from kiosk.ui import probe

        probe.long_press(self.app.hotspot, 0.5)  # the hidden corner
        assert probe.pump_until(lambda: self.app.technician_overlay is not None, 5)
        pad = self.app.technician_overlay.ids.pad
        for digit in pin:
            pad.press(digit)
        pad.submit()

    def notice(self) -> str:
        from kiosk.ui import probe

        texts = [w.text for w in probe.on_screen(self.app)
                 if getattr(w, "technician_notice", False)]
        return texts[-1] if texts else ""

    def on_screen(self, prefix: str) -> list[str]:
        """The texts of the buttons on screen whose names start with `prefix`, top to bottom."""
        from kiosk.ui import probe

        hits = [w for w in probe.on_screen(self.app)
                if str(getattr(w, "action_name", "")).startswith(prefix)]
        return [w.text for w in sorted(hits, key=lambda w: (-w.to_window(*w.pos)[1],
                                                            w.to_window(*w.pos)[0]))]

    def choose_on_idle(self, code: str) -> bool:
        from kiosk.ui import probe

        probe.tap(probe.button(self.app, f"lang-{code}"))
        return probe.pump_until(lambda: self.kiosk.session.view.language == code, 5)

    def wrong_pin_then_devices(self) -> Any:
        from kiosk.ui import probe

        app, found, devs = self.app, self.found, self.running.devs
        self.enter("1111")
        probe.pump_until(lambda: bool(self.notice()), 10)
        found["wrong_pin_notice"] = self.notice()
        probe.screenshot(self.shots / "technician-wrong-pin.png")
        found["opened_after_wrong_pin"] = self.panel() is not None
        probe.pump_until(lambda: not self.notice(), 10)
        self.enter(PIN)
        found["opened"] = probe.pump_until(lambda: self.panel() is not None, 10)
        p = self.panel()
        probe.pump(5)
        found["devices_text"] = probe.screen_text(app)
        probe.tap(_button(p, "technician-test-card"))
        devs.card_reader.present_uid(JAN.card_uid)
        probe.pump_until(lambda: "Card read:" in probe.screen_text(app), 10)
        self.kiosk.wait_idle()
        found["card_text"] = [line for line in probe.screen_text(app).splitlines()
                              if line.startswith("Card reader:")]
        found["screen_behind"] = self.kiosk.session.view.screen.value
        probe.tap(_button(p, "technician-test-printer"))
        probe.pump_until(lambda: "Test receipt printed" in probe.screen_text(app), 10)
        found["receipts"] = len(devs.printer.receipts)
        probe.screenshot(self.shots / "technician-devices.png")
        return p

    def tabs_then_restart(self, p: Any, restarts: list[bool]) -> None:
        from kiosk.ui import probe

        app, found = self.app, self.found
        for tab, shot in (("queue", True), ("network", True), ("log", False)):
            probe.tap(_button(p, f"technician-tab-{tab}"))
            if tab == "network":
                probe.tap(_button(p, "technician-test-network"))
                probe.pump_until(lambda: "answered in" in probe.screen_text(app), 10)
            probe.pump(3)
            found[f"{tab}_text"] = probe.screen_text(app)
            if shot:
                probe.screenshot(self.shots / f"technician-{tab}.png")
        probe.tap(_button(p, "technician-tab-restart"))
        probe.tap(_button(p, "technician-restart"))
        found["restart_after_one_press"] = list(restarts)
        probe.tap(_button(p, "technician-restart"))
        probe.pump(3)
        found["restarts"] = len(restarts)
        found["closed"] = p.parent is None
        found["tap_removed"] = "handle" not in vars(self.kiosk.session)

    def walks_away(self) -> None:
        """A technician who walks away: the console closes itself, patrons come back."""
        import kiosk.technician.panel as technician_panel
        from kiosk.ui import probe

        technician_panel.IDLE_CLOSE_S = 1.0
        self.enter(PIN)
        probe.pump_until(lambda: self.panel() is not None and self.panel().parent is not None,
                         10)
        self.found["idle_closed"] = probe.pump_until(lambda: self.panel().parent is None, 5)
        self.running.devs.card_reader.remove()
        self.running.devs.card_reader.present_uid(JAN.card_uid)
        self.found["card_starts_visit_after"] = probe.pump_until(
            lambda: self.kiosk.session.view.screen == Screen.HOME, 10)


def main(url: str, data_dir: Path, shots: Path) -> dict[str, object]:
    config = UiConfig(library_name="Bibliotheek Demo", window_size=(1024, 600),
                      technician_hold_s=0.3)
    env.configure(config, max_fps=0)
    from kivy.core.window import Window

    from kiosk.technician.panel import unlock_hook
    from kiosk.ui import probe
    from kiosk.ui.app import KioskApp

    settings = demo_settings(url, data_dir)
    settings = dataclasses.replace(settings, technician=dataclasses.replace(
        settings.technician, pin_hash=hash_pin(PIN)))
    running = RunningKiosk(settings)
    kiosk = running.kiosk
    restarts: list[bool] = []
    app = KioskApp(UiContext(events=kiosk, subscribe=kiosk.subscribe, config=config,
                             on_technician_pin=unlock_hook(
                                 kiosk.technician, restart=lambda: restarts.append(True))))
    app._run_prepare()
    Window.size = config.window_size
    probe.pump(5)
    v = _Visit(app, running, shots)
    try:
        v.found.update(watchdog_follows_the_ui_clock(kiosk, data_dir))
        v.choose_on_idle("en")  # the English screenshots: a patron chose English on the idle
        v.tabs_then_restart(v.wrong_pin_then_devices(), restarts)
        v.found.update(console_follows_the_idle_language(
            app, kiosk, v.enter, v.notice, v.on_screen, v.choose_on_idle, shots))
        v.walks_away()
    finally:
        app.stop()
        running.close()
        Window.close()
    return v.found


def console_follows_the_idle_language(app: Any, kiosk: Any, enter: Callable[[str], None],
                                      notice: Callable[[], str],
                                      on_screen: Callable[[str], list[str]],
                                      choose_on_idle: Callable[[str], bool],
                                      shots: Path) -> dict[str, object]:
    """The idle screen in French: the PIN notice and the console are French; the console's own
    Dutch button changes the console only; closing it leaves the patron side in French."""
    from kiosk.ui import probe

    found: dict[str, object] = {}
    choose_on_idle("fr")
    enter("1111")
    probe.pump_until(lambda: bool(notice()), 10)
    found["fr_wrong_pin_notice"] = notice()
    probe.pump_until(lambda: not notice(), 10)
    enter(PIN)
    probe.pump_until(lambda: getattr(app, "_technician_panel", None) is not None
                     and app._technician_panel.parent is not None, 10)
    panel = app._technician_panel

    def console_labels() -> dict[str, object]:
        return {"title": panel.title.text, "back": on_screen("technician-close"),
                "tabs": on_screen("technician-tab-"), "buttons": on_screen("technician-test-"),
                "languages": on_screen("technician-lang-"),
                "text": probe.screen_text(app).splitlines()}

    found["fr_console"] = console_labels()
    probe.screenshot(shots / "technician-devices-fr.png")
    probe.tap(_button(panel, "technician-lang-nl"))
    probe.pump(3)
    found["nl_console"] = console_labels()
    found["while_open"] = {"app_lang": app.lang, "session": kiosk.session.view.language}
    probe.tap(_button(panel, "technician-close"))
    probe.pump(3)
    found["after_close"] = {
        "closed": panel.parent is None, "app_lang": app.lang,
        "session": kiosk.session.view.language, "screen": kiosk.session.view.screen.value,
        "patron_languages": on_screen("lang-"), "text": probe.screen_text(app).splitlines()}
    return found


def watchdog_follows_the_ui_clock(kiosk: object, data_dir: Path) -> dict[str, object]:
    """Pings ride on the Kivy clock: while frames run they flow, when the UI thread stops
    (a hung screen) they stop."""
    import socket

    from kiosk.ui import probe
    from kiosk.watchdog import Watchdog, schedule_on_kivy_clock

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)

    def received() -> list[str]:
        got = []
        while True:
            try:
                got.append(sock.recv(4096).decode())
            except BlockingIOError:
                return got

    dog = Watchdog(kiosk, environ={"NOTIFY_SOCKET": str(path)}, interval=0.05)
    dog.ready()
    event = schedule_on_kivy_clock(dog, every_s=0.02)
    running: list[str] = []
    deadline = time.monotonic() + 10  # until three pings, however slow the box
    while len(running) < 3 and time.monotonic() < deadline:
        probe.pump()
        time.sleep(0.01)
        running += [m for m in received() if "WATCHDOG=1" in m]
    time.sleep(0.6)  # the UI thread does not go round: no frames, no clock, no pings
    hung = [m for m in received() if "WATCHDOG=1" in m]
    event.cancel()
    dog.stopping()
    sock.close()
    return {"pings_while_ui_runs": len(running), "pings_while_ui_hangs": len(hung)}


def _button(root: object, name: str) -> object:
    from kiosk.ui import probe

    for w in probe.walk(root):
        if getattr(w, "action_name", None) == name:
            return w
    raise LookupError(name)


if __name__ == "__main__":
    started = time.monotonic()
    result = main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
    result["seconds"] = round(time.monotonic() - started, 1)
    DISPLAY.stop()
    print(json.dumps(result, default=str))
