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

Languages: technicians in Belgian libraries speak Dutch, French, German or English, so the
console speaks the kiosk's four (the same gettext catalogs as the patron screens). It opens in
the language the patron screen shows at that moment and has the patron header's language
buttons; its language is its own, so closing it leaves the patron side as the session has it.
What is not translated, on purpose: log lines (they are what the log files and support say),
and values (addresses, host names, ISO timestamps, backend and device type names, journal
kinds and states, error details from drivers and the network).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from domain.events import (
    BarcodeScanned,
    CardPresented,
    CardRemoved,
    CardUnreadable,
    ItemsOnPad,
    TagRead,
)
from domain.privacy import scrub, shown
from kiosk.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    N_,
    format_duration,
    gettext,
    ngettext,
    translations,
)
from kiosk.metrics import pending_age_s
from kiosk.status import RecentLog, device_states
from kiosk.technician import Attempt, PinGate, gate_from_settings

log = logging.getLogger(__name__)

IDLE_CLOSE_S = 300.0
_CAPTURED = (CardPresented, CardRemoved, CardUnreadable, ItemsOnPad, BarcodeScanned)


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


Say = Callable[[str], str]
"""A sentence not yet put into words: given a language, it returns the text."""

Tone = Literal["plain", "ok", "bad"]
Line = tuple[str, Tone]

TABS: tuple[str, ...] = ("devices", "network", "queue", "log", "restart")
TAB_TITLES: dict[str, str] = {
    "devices": N_("Devices"),
    "network": N_("Network"),
    "queue": N_("Queue"),
    "log": N_("Log"),
    "restart": N_("Restart"),
}
# each tab's buttons: (stable name for tests and the tour, label, TechnicianConsole method)
ACTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "devices": (
        ("technician-test-card", N_("Read a card"), "wait_for_card"),
        ("technician-test-tag", N_("Read a tag"), "wait_for_tag"),
        ("technician-test-printer", N_("Print test receipt"), "print_test_receipt"),
        ("technician-test-lights", N_("Blink the lights"), "blink_lights"),
    ),
    "network": (("technician-test-network", N_("Test the connection"), "test_connection"),),
    "queue": (("technician-sync-now", N_("Sync now"), "sync_now"),),
    "restart": (("technician-restart", N_("Restart the kiosk application"), "press_restart"),),
}
# the live tests' results on the devices tab, in this order, each under its device's name
RESULT_TITLES: dict[str, str] = {
    "card": N_("Card reader"),
    "tag": N_("RFID pad"),
    "barcode": N_("Barcode scanner"),
    "printer": N_("Printer"),
    "lights": N_("Lights"),
}


def _say(message: str, **values: object) -> Say:
    """`message` (marked with `N_`) with `values` filled in, translated when it is shown."""
    return lambda language: gettext(language, message).format(**values)


@dataclass(frozen=True)
class CheckResult:
    """What a live test shows: whether it went well, and its sentence.

    The sentence stays unworded (`say`) until shown, so a technician who switches language
    after a test reads its result in the new language too.
    """

    ok: bool
    say: Say

    def text(self, language: str) -> str:
        return self.say(language)


class TechnicianConsole:
    """Everything technician mode can see and do, without Kivy. Thread-safe enough: actions
    run on a small pool, results arrive through `on_update` (the panel hops to the UI thread).

    Every text comes out in `language`, which the panel sets from the patron screen's language
    when the console opens and from the console's own language buttons; it is the console's
    alone, so the patron side never takes on the technician's choice.
    """

    def __init__(self, kiosk: Any, *, restart: Callable[[], None],
                 on_update: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 blink_step_s: float = 0.6,
                 language: str | None = None) -> None:
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
        self._recent: RecentLog = kiosk.recent_log
        self.opened = False
        self.language = DEFAULT_LANGUAGE
        self.set_language(language or _configured_language(kiosk))
        self.tab = TABS[0]
        self.confirming_restart = False

    # ---- language ---------------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Speak `language` from now on (raises UnknownLanguage for one without a catalog)."""
        translations(language)
        self.language = language

    def tr(self, message: str) -> str:
        return gettext(self.language, message)

    def ntr(self, singular: str, plural: str, n: int) -> str:
        return ngettext(self.language, singular, plural, n)

    # ---- lifetime ---------------------------------------------------------------------------

    def open(self) -> None:
        if self.opened:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="technician")
        self._tap.start()
        self.opened = True
        log.info("technician mode opened")

    def close(self) -> None:
        if not self.opened:
            return
        self._tap.stop()
        self.opened = False
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        log.info("technician mode closed")

    # ---- live device tests --------------------------------------------------------------

    def _devices(self) -> Any:
        return self.kiosk.devices

    def wait_for_card(self) -> CheckResult:
        return self._wait("card", _say(N_("Present a card to the reader…")))

    def wait_for_tag(self) -> CheckResult:
        return self._wait("tag", _say(N_("Place an item on the RFID pad…")))

    def _wait(self, what: str, prompt: Say) -> CheckResult:
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
                card = f"{cred.kind.value} {shown(cred.value)}" + (f" ({source})" if source else "")
                result = ("card", CheckResult(True, _say(N_("Card read: {card}"), card=card)))
            case CardUnreadable(detail=detail):
                result = ("card", CheckResult(False, _say(N_("Card seen but not read: {detail}"),
                                                          detail=detail)))
            case ItemsOnPad(tags=tags) if tags:
                result = ("tag", CheckResult(True, _tags_read(tags)))
            case BarcodeScanned(code=code):
                result = ("barcode", CheckResult(True, _say(N_("Barcode scanned: {code}"),
                                                            code=shown(code))))
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
            return CheckResult(False, _say(N_("No printer configured.")))
        from drivers.errors import DriverError
        from drivers.printer import Receipt

        language = self.language  # the paper speaks the technician's language too
        receipt = Receipt(library_name=self.kiosk.settings.library.name,
                          when=datetime.now(UTC), language=language, kind="test",
                          lines=((gettext(language, "Printer test – technician mode"), None),))
        try:
            devs.printer.print_receipt(receipt, gettext=translations(language).gettext)
        except DriverError as exc:  # out of paper, offline, closed: any device failure
            return CheckResult(False, _say(N_("Printing failed: {error}"), error=exc))
        return CheckResult(True, _say(N_("Test receipt printed: check the paper.")))

    def blink_lights(self) -> Future[CheckResult]:
        return self._run("lights", self._blink)

    def _blink(self) -> CheckResult:
        devs = self._devices()
        if devs is None or devs.lights is None:
            return CheckResult(False, _say(N_("No lights configured.")))
        from drivers.errors import DriverError
        from drivers.gpio import BeepPattern, LightState

        try:
            for state in (LightState.READY, LightState.BUSY, LightState.OFFLINE,
                          LightState.FAULT):
                devs.lights.show(state)
                time.sleep(self._blink_step_s)
            devs.lights.beep(BeepPattern.SUCCESS)
            devs.lights.show(LightState.READY)
        except DriverError as exc:
            return CheckResult(False, _say(N_("Lights failed: {error}"), error=exc))
        return CheckResult(True, _say(N_(
            "Green, blue, amber, red, one beep: did you see and hear them?")))

    def test_connection(self) -> Future[CheckResult]:
        return self._run("network", self._probe)

    def _probe(self) -> CheckResult:
        started = time.perf_counter()
        online = self.kiosk.sync.heartbeat()
        took = time.perf_counter() - started
        if online:
            return CheckResult(True, lambda language: gettext(
                language, "The central side answered in {duration}.").format(
                    duration=format_duration(took, language)))
        error = scrub(self.kiosk.connectivity.last_error or "")
        if not error:
            return CheckResult(False, _say(N_("No answer from the central side.")))
        return CheckResult(False, _say(N_("No answer from the central side: {error}"),
                                       error=error))

    def sync_now(self) -> CheckResult:
        self.kiosk.sync.wake(now=True)
        result = self.results["sync"] = CheckResult(True, _say(N_("Sending the queue now…")))
        self.on_update()
        return result

    def press_restart(self) -> bool:
        """The restart button: the first press only asks (a stray touch must not take the
        kiosk down), the second restarts. True when it restarted."""
        if not self.confirming_restart:
            self.confirming_restart = True
            self.on_update()
            return False
        self.restart()
        return True

    def restart(self) -> None:
        log.warning("technician restarted the kiosk application")
        self.close()
        self._restart()

    def _run(self, name: str, action: Callable[[], CheckResult]) -> Future[CheckResult]:
        self.results[name] = CheckResult(True, _say(N_("Working…")))
        self.on_update()

        def job() -> CheckResult:
            try:
                result = action()
            except Exception as exc:  # a test must report, never take the console down
                log.exception("technician test %s failed", name)
                result = CheckResult(False, _say(N_("Test failed: {error}"),
                                                 error=scrub(str(exc))))
            self.results[name] = result
            self.on_update()
            return result

        if self._pool is None:  # closed: run it here rather than lose it
            done: Future[CheckResult] = Future()
            done.set_result(job())
            return done
        return self._pool.submit(job)

    # ---- what the screens show ------------------------------------------------------------

    def result_text(self, name: str) -> str:
        """The latest result of live test `name` ("card", "tag", ...), in the console's language."""
        result = self.results.get(name)
        return result.text(self.language) if result is not None else ""

    def select_tab(self, tab: str) -> None:
        if tab not in TABS:
            raise ValueError(f"no technician tab {tab!r}; have {', '.join(TABS)}")
        self.tab = tab
        self.confirming_restart = False

    def tab_title(self, tab: str) -> str:
        return self.tr(TAB_TITLES[tab])

    def actions(self, tab: str | None = None) -> list[tuple[str, str, Callable[[], object]]]:
        """The buttons of `tab` (default: the current one): (name, label, what a press does)."""
        return [(name, self.tr(label), getattr(self, method))
                for name, label, method in ACTIONS.get(tab or self.tab, ())]

    def lines(self) -> list[Line]:
        """What the current tab shows, line by line, each with its tone (ok, bad, plain)."""
        try:
            return self._tab_lines()
        except Exception as exc:  # a broken journal must not close the console
            log.exception("technician view failed")
            return [(self.tr("Cannot show this: {error}").format(error=scrub(str(exc))), "bad")]

    def _tab_lines(self) -> list[Line]:
        results = dict(self.results)
        out: list[Line] = []
        if self.tab == "devices":
            for name, ok, kind in self.devices_text():
                status = (self.tr("OK") if ok else self.tr("DOWN")).ljust(4)
                out.append((f"{status}  {name} ({kind})", "ok" if ok else "bad"))
            if not out:
                out.append((self.tr("No devices configured."), "plain"))
            for key, title in RESULT_TITLES.items():
                if key in results:
                    r = results[key]
                    out.append((self.tr("{device}: {result}").format(
                        device=self.tr(title), result=r.text(self.language)), _tone(r)))
        elif self.tab == "network":
            out += [(line, "plain") for line in self.network_lines()]
            if "network" in results:
                out.append((results["network"].text(self.language), _tone(results["network"])))
        elif self.tab == "queue":
            out += [(line, "plain") for line in self.queue_lines()]
            if "sync" in results:
                out.append((results["sync"].text(self.language), "ok"))
        elif self.tab == "log":
            out += [(line, "plain") for line in self.log_lines()] or [
                (self.tr("(no log lines yet)"), "plain")]
        elif self.tab == "restart":
            out.append((self.tr("Restarting closes the kiosk application; it starts again by "
                                "itself within seconds. Transactions in the queue are kept."),
                        "plain"))
            if self.confirming_restart:
                out.append((self.tr("Press the button again to restart now."), "bad"))
        return out

    def devices_text(self) -> list[tuple[str, bool, str]]:
        """(device, ok, type) for each configured device."""
        return [(name, bool(state["ok"]), str(state["type"]))
                for name, state in device_states(self.kiosk).items()]

    def network_lines(self) -> list[str]:
        s = self.kiosk.settings
        tr = self.tr
        status = (tr("Central side: online ({backend})") if self.kiosk.connectivity.online
                  else tr("Central side: OFFLINE ({backend})"))
        lines = [status.format(backend=s.backend.type)]
        target = _backend_target(s)
        if target:
            lines.append(tr("Address: {address}").format(address=f"{target[0]}:{target[1]}"))
        error = scrub(self.kiosk.connectivity.last_error or "")
        if error:
            lines.append(tr("Last error: {error}").format(error=error))
        here = f"{socket.gethostname()} {_local_address(target) or ''}".rstrip()
        lines.append(tr("This kiosk: {kiosk}").format(kiosk=here))
        report = self.kiosk.sync.last_report
        lines.append(self.ntr("Last sync: {sent} sent, {done} done, {n} conflict.",
                              "Last sync: {sent} sent, {done} done, {n} conflicts.",
                              report.conflicts).format(sent=report.sent, done=report.done,
                                                       n=report.conflicts))
        if report.error:
            lines.append(tr("Last sync stopped: {error}").format(error=scrub(report.error)))
        skew = self.kiosk.sync.clock_skew_s
        if skew is not None:
            text = (tr("Clock: {seconds} s ahead of the central side.") if skew >= 0
                    else tr("Clock: {seconds} s behind the central side."))
            lines.append(text.format(seconds=f"{abs(skew):.0f}"))
        return lines

    def queue_lines(self, limit: int = 12) -> list[str]:
        j = self.kiosk.journal
        counts = j.counts()
        oldest = j.oldest_pending()
        pending = counts.get("pending", 0) + counts.get("sent", 0)
        lines = [self.tr("Waiting: {pending}   Conflicts: {conflicts}   Rejected: {rejected}")
                 .format(pending=pending, conflicts=counts.get("conflict", 0),
                         rejected=counts.get("rejected", 0))]
        if oldest is not None:
            lines.append(self.tr("Oldest waiting: {time} ({age} ago)").format(
                time=oldest.isoformat(timespec="minutes"),
                age=format_duration(pending_age_s(oldest), self.language)))
        row_text = self.tr("#{seq} {kind} {state} item {item} patron {patron} {time}")
        for row in j.rows()[-limit:]:
            lines.append(row_text.format(seq=row.seq, kind=row.kind, state=row.state,
                                         item=row.item_id, patron=row.patron_ref,
                                         time=row.created_at[:16])
                         + (f" – {scrub(row.last_error)[:60]}" if row.last_error else ""))
        return lines

    def log_lines(self, count: int = 40) -> list[str]:
        """The scrubbed log tail, as logged (log lines are not translated: they are what
        support and the log files say)."""
        return self._recent.lines(count) if self._recent is not None else []


def _tone(result: CheckResult) -> Tone:
    return "ok" if result.ok else "bad"


def _tags_read(tags: Sequence[TagRead]) -> Say:
    """The tag test's result: how many tags, and the first six with owner and security bit."""

    def say(language: str) -> str:
        parts = [(t.item_id or gettext(language, "(unreadable tag)"))
                 + (f" [{t.owner_isil}]" if t.owner_isil else "") + " "
                 + (gettext(language, "secured") if t.secured
                    else gettext(language, "unsecured"))
                 for t in tags[:6]]
        return ngettext(language, "{n} tag: {tags}", "{n} tags: {tags}", len(tags)).format(
            n=len(tags), tags="; ".join(parts))

    return say


def _configured_language(kiosk: Any) -> str:
    """The kiosk's default language (what the idle screen shows between patrons)."""
    settings = getattr(kiosk, "settings", None)
    return str(getattr(getattr(settings, "kiosk", None), "language", DEFAULT_LANGUAGE))


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


# ---- the unlock hook (runner) -------------------------------------------------------------------


def attempt_message(result: Attempt, language: str) -> str:
    """Why the PIN did not open technician mode, in `language` (the patron screen's)."""
    if result.ok:
        return ""
    if result.not_configured:
        return gettext(language, "No technician PIN is set on this kiosk (kiosk config set-pin).")
    if result.locked:
        minutes = max(1, round(result.locked_for_s / 60))
        return ngettext(language, "Technician mode is locked for {n} minute.",
                        "Technician mode is locked for {n} minutes.", minutes).format(n=minutes)
    return ngettext(language, "Wrong PIN. {n} try left.", "Wrong PIN. {n} tries left.",
                    result.tries_left).format(n=result.tries_left)


def technician_unlock_hook(kiosk: Any, settings: Any, *,
                           gate: PinGate | None = None,
                           restart: Callable[[], None] | None = None) -> Callable[[str], None]:
    """The UI's `on_technician_pin`: check the PIN (worker thread), then open the console on
    the Kivy thread, or show why not. Both speak the language on screen at that moment, read
    on the Kivy thread, where the patron side changes it."""
    pin_gate = gate or gate_from_settings(settings)

    def on_pin(pin: str) -> None:
        result = pin_gate.attempt(pin)
        from kivy.clock import Clock

        if result.ok:
            Clock.schedule_once(lambda _dt: open_console(kiosk, restart=restart), 0)
        else:
            Clock.schedule_once(
                lambda _dt: show_notice(attempt_message(result, _screen_language(kiosk))), 0)

    return on_pin


def _stop_app() -> None:
    """Restart = leave the app; kiosk run returns and systemd starts it again."""
    from kivy.app import App

    app = App.get_running_app()
    if app is not None:
        app.stop()


def _screen_language(kiosk: Any) -> str:
    """The language the patron screen shows now (the idle screen's is the configured default
    between patrons); the kiosk's default when no KioskApp runs."""
    from kivy.app import App

    lang = getattr(App.get_running_app(), "lang", None)
    return lang if lang in LANGUAGES else _configured_language(kiosk)


def open_console(kiosk: Any, *, restart: Callable[[], None] | None = None) -> Any:
    """Open the console over the running app's screens (Kivy thread), in the language the
    screen shows. Returns the panel."""
    from kivy.app import App

    app = App.get_running_app()
    root = getattr(app, "root_layout", None) or getattr(app, "root", None)
    existing = getattr(app, "_technician_panel", None)
    if existing is not None and existing.parent is not None:
        return existing
    languages = tuple(getattr(getattr(app, "settings", None), "languages", LANGUAGES))
    panel_cls = _panel_class()
    panel = panel_cls(TechnicianConsole(kiosk, restart=restart or _stop_app,
                                        language=_screen_language(kiosk)), languages=languages)
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
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.graphics import Color, Rectangle
    from kivy.metrics import dp
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    from kiosk.ui.widgets import LanguageButtons

    bg = (0.08, 0.1, 0.13, 1)
    colours: dict[Tone, tuple[float, ...]] = {
        "plain": (1, 1, 1, 1), "ok": (0.45, 0.85, 0.5, 1), "bad": (1, 0.45, 0.4, 1)}

    def button(text: str, action: Callable[[], object], name: str) -> Button:
        b = Button(text=text, size_hint=(1, None), height=dp(56), font_size=dp(18),
                   halign="center", valign="middle")
        # a long label ("Imprimer un ticket test") wraps onto a second line, never off the edge
        b.bind(size=lambda w, v: setattr(w, "text_size", (max(v[0] - dp(12), dp(10)), v[1])))
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
        """The technician console: a header with the language buttons, tabs on the left, the
        tab's buttons and content on the right. Every text comes from the console."""

        def __init__(self, console: TechnicianConsole, *,
                     languages: tuple[str, ...] = LANGUAGES, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.console = console
            with self.canvas.before:
                Color(*bg)
                self._rect = Rectangle(pos=self.pos, size=self.size)
            self.bind(pos=self._sync, size=self._sync)
            outer = BoxLayout(orientation="vertical", padding=dp(12), spacing=dp(8))
            header = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(8))
            self.title = Label(font_size=dp(24), bold=True, halign="left")
            header.add_widget(self.title)
            # the patron header's buttons; a press changes the console's language only
            self.languages = LanguageButtons(languages, self.choose_language,
                                             prefix="technician-lang-")
            self.languages.fit(App.get_running_app().theme)
            self.languages.add_to(header)
            self.back = button("", self.dismiss, "technician-close")
            header.add_widget(self.back)
            outer.add_widget(header)
            body = BoxLayout(spacing=dp(12))
            tabs = BoxLayout(orientation="vertical", size_hint_x=0.24, spacing=dp(6))
            self.tab_buttons: dict[str, Button] = {}
            for name in TABS:
                b = button("", functools.partial(self.show, name), f"technician-tab-{name}")
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
            self.show(TABS[0])

        @property
        def tab(self) -> str:
            return self.console.tab

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

        def choose_language(self, code: str) -> None:
            """The technician's own language: the console changes, the patron side does not."""
            self.console.set_language(code)
            self._redraw()

        def show(self, tab: str) -> None:
            self.console.select_tab(tab)
            self._redraw()

        def _redraw(self) -> None:
            self._label()
            self._build_actions()
            self.refresh()

        def _label(self) -> None:
            c = self.console
            self.title.text = c.tr("Technician mode")
            self.back.text = c.tr("Back to patrons")
            self.languages.show(c.language)
            for name, b in self.tab_buttons.items():
                b.text = c.tab_title(name)
                b.background_color = (0.2, 0.55, 0.8, 1) if name == c.tab else (1, 1, 1, 1)

        def _build_actions(self) -> None:
            self.actions.clear_widgets()
            for name, label, action in self.console.actions():
                self.actions.add_widget(button(label, self._pressing(action), name))

        def _pressing(self, action: Callable[[], object]) -> Callable[[], None]:
            def press() -> None:
                action()
                if not self.console.opened:  # it restarted the kiosk: nothing left to show
                    self.dismiss()

            return press

        def refresh(self) -> None:
            self.content.clear_widgets()
            size = 14 if self.tab == "log" else 17
            for text, tone in self.console.lines():
                self.content.add_widget(text_label(text, colours[tone], size))

        def dismiss(self) -> None:
            self._tick.cancel()
            self.console.close()
            if self.parent is not None:
                self.parent.remove_widget(self)

    return ConsolePanel
