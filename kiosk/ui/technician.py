"""Technician mode on the touchscreen: device tests, network, queue, log, restart.

How one gets in: hold the hidden top-left corner (kiosk/ui/app.py), type the technician PIN;
the UI calls `on_technician_pin(pin)` on a worker thread. `technician_unlock_hook(kiosk,
settings)` (called by kiosk/runner.py) returns that callable: it checks the PIN against the
scrypt hash in the config, with five tries before a five-minute lock (kiosk/technician.py),
and opens the console over the patron screens.

Why the console is a full-screen overlay inside the kiosk app and nothing more: there is no
way out of it to a shell or a desktop (no terminal, no file picker, no "exit to desktop"),
only back to the patron screens or a restart of the kiosk application, which systemd brings
straight back (Restart=always). It also closes itself after five idle minutes, so a
technician who walks away does not leave it open to patrons.

While the console is open, patron-side device events (cards, tags, barcodes) are diverted to
it instead of the session: that is how "read a card" and "read a tag" test the real readers
without starting a patron visit. Everything shown is free of patron identifiers: card numbers
are masked, journal rows are pseudonymised, log lines are scrubbed.

`TechnicianConsole` (plain Python, no Kivy) holds every action and every text the screens
show, so tests drive it without a window; `ConsolePanel` draws it with Kivy.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from drivers.events import BarcodeScanned, CardPresented, CardRemoved, CardUnreadable, ItemsOnPad
from kiosk.metrics import pending_age_s
from kiosk.status import RecentLog, device_states, scrub
from kiosk.technician import Attempt, PinGate, gate_from_settings

log = logging.getLogger(__name__)

IDLE_CLOSE_S = 300.0
_CAPTURED = (CardPresented, CardRemoved, CardUnreadable, ItemsOnPad, BarcodeScanned)


def mask(identifier: str) -> str:
    """Enough of a card number to tell two cards apart, not enough to use one."""
    text = str(identifier)
    if len(text) <= 4:
        return "•" * len(text)
    return "•" * (len(text) - 4) + text[-4:]


class EventTap:
    """Diverts device events from the session to the console while it is open.

    Every event passes the kiosk's `event_filters` on the event thread before the session
    sees it; the tap is one such filter, added on `start()` and removed on `stop()`, so no
    event slips past it and UI actions and device states still reach the session.
    """

    def __init__(self, kiosk: Any, on_event: Callable[[object], None]) -> None:
        self._kiosk = kiosk
        self._on_event = on_event
        self._active = False

    def _take(self, event: object) -> bool:
        if isinstance(event, _CAPTURED):
            self._on_event(event)
            return True
        return False

    def start(self) -> None:
        if not self._active:
            self._kiosk.event_filters.append(self._take)
            self._active = True

    def stop(self) -> None:
        if self._active:
            with contextlib.suppress(ValueError):
                self._kiosk.event_filters.remove(self._take)
            self._active = False


@dataclass
class CheckResult:
    """What a live test shows: a line of text, and whether it went well."""

    ok: bool
    text: str


class TechnicianConsole:
    """Everything technician mode can see and do, without Kivy. Thread-safe enough: actions
    run on a small pool, results arrive through `on_update` (the panel hops to the UI thread).
    """

    def __init__(self, kiosk: Any, *, restart: Callable[[], None],
                 on_update: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 blink_step_s: float = 0.6) -> None:
        self.kiosk = kiosk
        self._restart = restart
        self.on_update = on_update or (lambda: None)
        self._clock = clock
        self._blink_step_s = blink_step_s
        self._pool: ThreadPoolExecutor | None = None
        self._tap = EventTap(kiosk, self._device_event)
        self._lock = threading.Lock()
        self._waiting: dict[str, float] = {}
        self.results: dict[str, CheckResult] = {}
        self._recent = kiosk.extras.get("recent_log")
        self._own_log: RecentLog | None = None
        self.opened = False

    # ---- lifetime ---------------------------------------------------------------------------

    def open(self) -> None:
        if self.opened:
            return
        if self._recent is None:  # no status endpoint attached: keep our own buffer
            self._own_log = RecentLog()
            self._recent = self._own_log
        if self._own_log is not None:
            logging.getLogger().addHandler(self._own_log)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="technician")
        self._tap.start()
        self.opened = True
        log.info("technician mode opened")

    def close(self) -> None:
        if not self.opened:
            return
        self._tap.stop()
        if self._own_log is not None:
            logging.getLogger().removeHandler(self._own_log)
        self.opened = False
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        log.info("technician mode closed")

    # ---- live device tests --------------------------------------------------------------

    def _devices(self) -> Any:
        return self.kiosk.extras.get("devices")

    def wait_for_card(self) -> CheckResult:
        return self._wait("card", "Present a card to the reader…")

    def wait_for_tag(self) -> CheckResult:
        return self._wait("tag", "Place an item on the RFID pad…")

    def _wait(self, what: str, prompt: str) -> CheckResult:
        with self._lock:
            self._waiting[what] = self._clock()
            result = self.results[what] = CheckResult(True, prompt)
        self.on_update()
        return result

    def _device_event(self, event: object) -> None:
        """Called by the tap on a device thread."""
        result: tuple[str, CheckResult] | None = None
        match event:
            case CardPresented(credential=cred, source=source):
                result = ("card", CheckResult(True, f"card read: {cred.kind.value} "
                                                   f"{mask(cred.value)} ({source or 'reader'})"))
            case CardUnreadable(detail=detail):
                result = ("card", CheckResult(False, f"card seen but not read: {detail}"))
            case ItemsOnPad(tags=tags) if tags:
                parts = [f"{t.item_id or '(unreadable tag)'}"
                         f"{' [' + t.owner_isil + ']' if t.owner_isil else ''}"
                         f" {'secured' if t.secured else 'unsecured'}" for t in tags[:6]]
                result = ("tag", CheckResult(True, f"{len(tags)} tag(s): " + "; ".join(parts)))
            case BarcodeScanned(code=code):
                result = ("barcode", CheckResult(True, f"barcode scanned: {mask(code)}"))
        if result is None:
            return
        with self._lock:
            self.results[result[0]] = result[1]
            self._waiting.pop(result[0], None)
        self.on_update()

    def print_test_receipt(self) -> Future[CheckResult]:
        return self._run("printer", self._print)

    def _print(self) -> CheckResult:
        devs = self._devices()
        if devs is None or devs.printer is None:
            return CheckResult(False, "no printer configured")
        from drivers.printer import PrinterError, Receipt

        receipt = Receipt(library_name=self.kiosk.settings.library.name,
                          when=datetime.now(UTC), language="en", kind="test",
                          lines=(("Printer test – technician mode", None),))
        try:
            devs.printer.print_receipt(receipt)
        except PrinterError as exc:
            return CheckResult(False, f"printing failed: {exc}")
        return CheckResult(True, "test receipt printed: check the paper")

    def blink_lights(self) -> Future[CheckResult]:
        return self._run("lights", self._blink)

    def _blink(self) -> CheckResult:
        devs = self._devices()
        if devs is None or devs.lights is None:
            return CheckResult(False, "no lights configured")
        from drivers.gpio import BeepPattern, GpioError, LightState

        try:
            for state in (LightState.READY, LightState.BUSY, LightState.OFFLINE,
                          LightState.FAULT):
                devs.lights.show(state)
                time.sleep(self._blink_step_s)
            devs.lights.beep(BeepPattern.SUCCESS)
            devs.lights.show(LightState.READY)
        except GpioError as exc:
            return CheckResult(False, f"lights failed: {exc}")
        return CheckResult(True, "green, blue, amber, red, one beep: did you see and hear them?")

    def test_connection(self) -> Future[CheckResult]:
        return self._run("network", self._probe)

    def _probe(self) -> CheckResult:
        started = time.perf_counter()
        online = self.kiosk.sync.heartbeat()
        took = (time.perf_counter() - started) * 1000
        if online:
            return CheckResult(True, f"the central side answered in {took:.0f} ms")
        error = scrub(self.kiosk.connectivity.last_error or "no answer")
        return CheckResult(False, f"no answer from the central side: {error}")

    def sync_now(self) -> CheckResult:
        self.kiosk.sync.wake(now=True)
        result = self.results["sync"] = CheckResult(True, "sending the queue now…")
        self.on_update()
        return result

    def restart(self) -> None:
        log.warning("technician restarted the kiosk application")
        self.close()
        self._restart()

    def _run(self, name: str, action: Callable[[], CheckResult]) -> Future[CheckResult]:
        self.results[name] = CheckResult(True, "working…")
        self.on_update()

        def job() -> CheckResult:
            try:
                result = action()
            except Exception as exc:  # a test must report, never take the console down
                log.exception("technician test %s failed", name)
                result = CheckResult(False, f"{name} test failed: {scrub(str(exc))}")
            self.results[name] = result
            self.on_update()
            return result

        if self._pool is None:  # closed: run it here rather than lose it
            done: Future[CheckResult] = Future()
            done.set_result(job())
            return done
        return self._pool.submit(job)

    # ---- what the screens show ------------------------------------------------------------

    def devices_text(self) -> list[tuple[str, bool, str]]:
        """(device, ok, type) for each configured device."""
        return [(name, bool(state["ok"]), str(state["type"]))
                for name, state in device_states(self.kiosk).items()]

    def network_lines(self) -> list[str]:
        s = self.kiosk.settings
        online = self.kiosk.connectivity.online
        lines = [f"Central side: {'online' if online else 'OFFLINE'} ({s.backend.type})"]
        target = _backend_target(s)
        if target:
            lines.append(f"Address: {target[0]}:{target[1]}")
        error = scrub(self.kiosk.connectivity.last_error or "")
        if error:
            lines.append(f"Last error: {error}")
        lines.append(f"This kiosk: {socket.gethostname()} {_local_address(target) or ''}".rstrip())
        report = self.kiosk.sync.last_report
        lines.append(f"Last sync: {report.sent} sent, {report.done} done, "
                     f"{report.conflicts} conflict(s)"
                     + (f", stopped: {scrub(report.error)}" if report.error else ""))
        return lines

    def queue_lines(self, limit: int = 12) -> list[str]:
        j = self.kiosk.journal
        counts = j.counts()
        oldest = j.oldest_pending()
        pending = counts.get("pending", 0) + counts.get("sent", 0)
        lines = [f"Waiting: {pending}   Conflicts: {counts.get('conflict', 0)}   "
                 f"Rejected: {counts.get('rejected', 0)}"]
        if oldest is not None:
            lines.append(f"Oldest waiting: {oldest.isoformat(timespec='minutes')} "
                         f"({_age(pending_age_s(oldest))} ago)")
        for row in j.rows()[-limit:]:
            lines.append(f"#{row.seq} {row.kind} {row.state} item {row.item_id} "
                         f"patron {row.patron_ref} {row.created_at[:16]}"
                         + (f" – {scrub(row.last_error)[:60]}" if row.last_error else ""))
        return lines

    def log_lines(self, count: int = 40) -> list[str]:
        return self._recent.lines(count) if self._recent is not None else []


def _backend_target(settings: Any) -> tuple[str, int] | None:
    if settings.backend.type == "sip2":
        host = str(settings.sip2.get("host", ""))
        return (host, int(settings.sip2.get("port", 6001))) if host else None
    url = urlsplit(settings.backend.url)
    if not url.hostname:
        return None
    return url.hostname, url.port or (443 if url.scheme == "https" else 80)


def _local_address(target: tuple[str, int] | None) -> str:
    """The address this kiosk uses towards the central side (a UDP connect sends nothing)."""
    if target is None:
        return ""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(target)
            return str(s.getsockname()[0])
    except OSError:
        return ""


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---- the unlock hook (runner) -------------------------------------------------------------------


def attempt_message(result: Attempt) -> str:
    if result.ok:
        return ""
    if result.not_configured:
        return "No technician PIN is set on this kiosk (kiosk config set-pin)."
    if result.locked:
        return f"Technician mode is locked for {max(1, round(result.locked_for_s / 60))} min."
    return f"Wrong PIN. {result.tries_left} tries left."


def technician_unlock_hook(kiosk: Any, settings: Any, *,
                           gate: PinGate | None = None,
                           restart: Callable[[], None] | None = None) -> Callable[[str], None]:
    """The UI's `on_technician_pin`: check the PIN (worker thread), then open the console on
    the Kivy thread, or show why not."""
    pin_gate = gate or gate_from_settings(settings)

    def on_pin(pin: str) -> None:
        result = pin_gate.attempt(pin)
        from kivy.clock import Clock

        if result.ok:
            Clock.schedule_once(lambda _dt: open_console(kiosk, restart=restart), 0)
        else:
            message = attempt_message(result)
            Clock.schedule_once(lambda _dt: show_notice(message), 0)

    return on_pin


def _stop_app() -> None:
    """Restart = leave the app; kiosk run returns and systemd starts it again."""
    from kivy.app import App

    app = App.get_running_app()
    if app is not None:
        app.stop()


def open_console(kiosk: Any, *, restart: Callable[[], None] | None = None) -> Any:
    """Open the console over the running app's screens (Kivy thread). Returns the panel."""
    from kivy.app import App

    app = App.get_running_app()
    root = getattr(app, "root_layout", None) or getattr(app, "root", None)
    existing = getattr(app, "_technician_panel", None)
    if existing is not None and existing.parent is not None:
        return existing
    panel_cls = _panel_class()
    panel = panel_cls(TechnicianConsole(kiosk, restart=restart or _stop_app))
    if root is not None:
        root.add_widget(panel)
    if app is not None:
        app._technician_panel = panel
    return panel


def show_notice(message: str, seconds: float = 4.0) -> Any:
    """A short message over the patron screen (wrong PIN, locked)."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.metrics import dp
    from kivy.uix.label import Label

    app = App.get_running_app()
    root = getattr(app, "root_layout", None) or getattr(app, "root", None)
    label = Label(text=message, size_hint=(0.8, None), height=dp(64),
                  pos_hint={"center_x": 0.5, "center_y": 0.5}, font_size=dp(22),
                  color=(1, 1, 1, 1))
    from kivy.graphics import Color, Rectangle

    with label.canvas.before:
        Color(0.15, 0.15, 0.15, 0.92)
        rect = Rectangle(pos=label.pos, size=label.size)
    label.bind(pos=lambda w, p: setattr(rect, "pos", p), size=lambda w, s: setattr(rect, "size", s))
    label.technician_notice = True
    if root is not None:
        root.add_widget(label)
        Clock.schedule_once(lambda _dt: label.parent and label.parent.remove_widget(label),
                            seconds)
    return label


_PANEL: type | None = None


def _panel_class() -> type:
    """Built on first use, so importing this module never imports Kivy's window."""
    global _PANEL
    if _PANEL is None:
        _PANEL = _build_panel_class()
    return _PANEL


def _build_panel_class() -> type:
    from kivy.clock import Clock
    from kivy.graphics import Color, Rectangle
    from kivy.metrics import dp
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    bg = (0.08, 0.1, 0.13, 1)
    ok_colour = (0.45, 0.85, 0.5, 1)
    bad_colour = (1, 0.45, 0.4, 1)

    def button(text: str, action: Callable[[], object], name: str) -> Button:
        b = Button(text=text, size_hint=(1, None), height=dp(56), font_size=dp(18))
        b.action_name = name
        b.bind(on_release=lambda _b: action())
        return b

    def text_label(text: str, colour: tuple[float, ...] = (1, 1, 1, 1),
                   size: float = 17) -> Label:
        lbl = Label(text=text, color=colour, font_size=dp(size), halign="left",
                    valign="top", size_hint_y=None)
        lbl.bind(width=lambda w, v: setattr(w, "text_size", (v, None)),
                 texture_size=lambda w, v: setattr(w, "height", v[1] + dp(6)))
        return lbl

    class ConsolePanel(FloatLayout):
        """The technician console: tabs on the left, the tab's content on the right."""

        TABS = ("Devices", "Network", "Queue", "Log", "Restart")

        def __init__(self, console: TechnicianConsole, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.console = console
            self.tab = "Devices"
            self._confirm_restart = False
            with self.canvas.before:
                Color(*bg)
                self._rect = Rectangle(pos=self.pos, size=self.size)
            self.bind(pos=self._sync, size=self._sync)
            outer = BoxLayout(orientation="vertical", padding=dp(12), spacing=dp(8))
            header = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(8))
            header.add_widget(Label(text="Technician mode", font_size=dp(24), bold=True,
                                    halign="left"))
            header.add_widget(button("Back to patrons", self.dismiss, "technician-close"))
            outer.add_widget(header)
            body = BoxLayout(spacing=dp(12))
            tabs = BoxLayout(orientation="vertical", size_hint_x=0.24, spacing=dp(6))
            self.tab_buttons: dict[str, Button] = {}
            for name in self.TABS:
                b = button(name, lambda n=name: self.show(n), f"technician-tab-{name.lower()}")
                self.tab_buttons[name] = b
                tabs.add_widget(b)
            tabs.add_widget(Label())
            body.add_widget(tabs)
            right = BoxLayout(orientation="vertical", spacing=dp(8))
            self.actions = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(8))
            right.add_widget(self.actions)
            self.scroll = ScrollView(do_scroll_x=False)
            self.content = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(4))
            self.content.bind(minimum_height=self.content.setter("height"))
            self.scroll.add_widget(self.content)
            right.add_widget(self.scroll)
            body.add_widget(right)
            outer.add_widget(body)
            self.add_widget(outer)
            self._last_touch = time.monotonic()
            console.on_update = lambda: Clock.schedule_once(lambda _dt: self.refresh(), 0)
            console.open()
            self._tick = Clock.schedule_interval(self._periodic, 1.0)
            self.show("Devices")

        def _sync(self, *_args: object) -> None:
            self._rect.pos, self._rect.size = self.pos, self.size

        # every touch lands here (nothing reaches the patron screens underneath)
        def on_touch_down(self, touch: Any) -> bool:
            self._last_touch = time.monotonic()
            super().on_touch_down(touch)
            return True

        def on_touch_move(self, touch: Any) -> bool:
            super().on_touch_move(touch)
            return True

        def on_touch_up(self, touch: Any) -> bool:
            super().on_touch_up(touch)
            return True

        def _periodic(self, _dt: float) -> None:
            if time.monotonic() - self._last_touch > IDLE_CLOSE_S:
                log.info("technician mode idle for %.0f s: closing", IDLE_CLOSE_S)
                self.dismiss()
                return
            self.refresh()

        def show(self, tab: str) -> None:
            self.tab = tab
            self._confirm_restart = False
            for name, b in self.tab_buttons.items():
                b.background_color = (0.2, 0.55, 0.8, 1) if name == tab else (1, 1, 1, 1)
            self.actions.clear_widgets()
            c = self.console
            if tab == "Devices":
                for text, action, name in (
                    ("Read a card", c.wait_for_card, "technician-test-card"),
                    ("Read a tag", c.wait_for_tag, "technician-test-tag"),
                    ("Print test receipt", c.print_test_receipt, "technician-test-printer"),
                    ("Blink the lights", c.blink_lights, "technician-test-lights"),
                ):
                    self.actions.add_widget(button(text, action, name))
            elif tab == "Network":
                self.actions.add_widget(button("Test the connection", c.test_connection,
                                               "technician-test-network"))
            elif tab == "Queue":
                self.actions.add_widget(button("Sync now", c.sync_now, "technician-sync-now"))
            elif tab == "Restart":
                self.actions.add_widget(button("Restart the kiosk application",
                                               self._restart, "technician-restart"))
            self.refresh()

        def _restart(self) -> None:
            if not self._confirm_restart:
                self._confirm_restart = True
                self.refresh()
                return
            self.dismiss()
            self.console.restart()

        def lines(self) -> list[tuple[str, tuple[float, ...]]]:
            c = self.console
            white = (1, 1, 1, 1)
            out: list[tuple[str, tuple[float, ...]]] = []
            results = dict(c.results)
            if self.tab == "Devices":
                for name, ok, kind in c.devices_text():
                    out.append((f"{'OK  ' if ok else 'DOWN'}  {name} ({kind})",
                                ok_colour if ok else bad_colour))
                if not out:
                    out.append(("No devices configured.", white))
                for key in ("card", "tag", "barcode", "printer", "lights"):
                    if key in results:
                        r = results[key]
                        out.append((f"{key}: {r.text}", ok_colour if r.ok else bad_colour))
            elif self.tab == "Network":
                out += [(line, white) for line in c.network_lines()]
                if "network" in results:
                    r = results["network"]
                    out.append((r.text, ok_colour if r.ok else bad_colour))
            elif self.tab == "Queue":
                out += [(line, white) for line in c.queue_lines()]
                if "sync" in results:
                    out.append((results["sync"].text, ok_colour))
            elif self.tab == "Log":
                out += [(line, white) for line in c.log_lines()] or [("(no log lines yet)",
                                                                       white)]
            elif self.tab == "Restart":
                out.append(("Restarting closes the kiosk application; it starts again by "
                            "itself within seconds. Transactions in the queue are kept.", white))
                if self._confirm_restart:
                    out.append(("Press the button again to restart now.", bad_colour))
            return out

        def refresh(self) -> None:
            try:
                lines = self.lines()
            except Exception as exc:  # a broken journal must not close the console
                log.exception("technician view failed")
                lines = [(f"cannot show this: {scrub(str(exc))}", bad_colour)]
            self.content.clear_widgets()
            for text, colour in lines:
                self.content.add_widget(text_label(text, colour,
                                                   14 if self.tab == "Log" else 17))

        def dismiss(self) -> None:
            self._tick.cancel()
            self.console.close()
            if self.parent is not None:
                self.parent.remove_widget(self)

    return ConsolePanel
