"""Technician mode without Kivy: every action and every text the console screens show.

`TechnicianConsole` talks to the kiosk only through its `TechnicianPort` (kiosk.technician.port),
so tests drive it without a window and without reaching into the core; the Kivy panel
(kiosk.technician.panel) draws what it says and sends it the technician's presses.

While the console is open, patron-side device events (cards, tags, barcodes) are diverted to
it instead of the session: that is how "read a card" and "read a tag" test the real readers
without starting a patron visit. Everything shown is free of patron identifiers: card numbers
are masked, journal rows are pseudonymised, log lines are scrubbed.

Languages: technicians in Belgian libraries speak Dutch, French, German or English, so the
console speaks the kiosk's four (the same gettext catalogs as the patron screens). It opens in
the language the patron screen shows at that moment and has the patron header's language
buttons; its language is its own, so closing it leaves the patron side as the session has it.
What is not translated, on purpose: log lines (they are what the log files and support say),
and values (addresses, host names, ISO timestamps, backend and device type names, journal
kinds and states, error details from drivers and the network).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
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
from drivers.errors import DriverError
from kiosk.config import Settings
from kiosk.i18n import (
    DEFAULT_LANGUAGE,
    N_,
    format_duration,
    gettext,
    ngettext,
    translations,
)
from kiosk.i18n.reasons import DEVICE_KINDS, DEVICE_NAMES
from kiosk.metrics import pending_age_s
from kiosk.technician.pin import Attempt
from kiosk.technician.port import TechnicianPort

log = logging.getLogger(__name__)

_CAPTURED = (CardPresented, CardRemoved, CardUnreadable, ItemsOnPad, BarcodeScanned)


class EventTap:
    """Diverts device events from the session to the console while it is open.

    Every event passes the kiosk's event filters on the event thread before the session sees
    it; the tap is one such filter, added on `start()` and removed on `stop()`, so no event
    slips past it and UI actions and device states still reach the session.
    """

    def __init__(self, port: TechnicianPort, on_event: Callable[[object], None]) -> None:
        self._port = port
        self._on_event = on_event
        self._active = False

    def _take(self, event: object) -> bool:
        if isinstance(event, _CAPTURED):
            self._on_event(event)
            return True
        return False

    def start(self) -> None:
        if not self._active:
            self._port.add_event_filter(self._take)
            self._active = True

    def stop(self) -> None:
        if self._active:
            self._port.remove_event_filter(self._take)
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

    def __init__(self, port: TechnicianPort, *, restart: Callable[[], None],
                 on_update: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 blink_step_s: float = 0.6,
                 language: str | None = None) -> None:
        self.port = port
        self._restart = restart
        self.on_update = on_update or (lambda: None)
        self._clock = clock
        self._blink_step_s = blink_step_s
        self._pool: ThreadPoolExecutor | None = None
        self._tap = EventTap(port, self._device_event)
        self._lock = threading.Lock()
        self._waiting: dict[str, float] = {}
        self.results: dict[str, CheckResult] = {}
        self.opened = False
        self.language = DEFAULT_LANGUAGE
        self.set_language(language or port.settings.kiosk.language)
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
        from drivers.printer import Receipt

        language = self.language  # the paper speaks the technician's language too
        receipt = Receipt(library_name=self.port.settings.library.name,
                          when=datetime.now(UTC), language=language, kind="test",
                          lines=((gettext(language, "Printer test – technician mode"), None),))
        try:
            printed = self.port.print_test_receipt(receipt, translations(language).gettext)
        except DriverError as exc:  # out of paper, offline, closed: any device failure
            return CheckResult(False, _say(N_("Printing failed: {error}"), error=exc))
        if not printed:
            return CheckResult(False, _say(N_("No printer configured.")))
        return CheckResult(True, _say(N_("Test receipt printed: check the paper.")))

    def blink_lights(self) -> Future[CheckResult]:
        return self._run("lights", self._blink)

    def _blink(self) -> CheckResult:
        try:
            blinked = self.port.test_lights(self._blink_step_s)
        except DriverError as exc:
            return CheckResult(False, _say(N_("Lights failed: {error}"), error=exc))
        if not blinked:
            return CheckResult(False, _say(N_("No lights configured.")))
        return CheckResult(True, _say(N_(
            "Green, blue, amber, red, one beep: did you see and hear them?")))

    def test_connection(self) -> Future[CheckResult]:
        return self._run("network", self._probe)

    def _probe(self) -> CheckResult:
        started = time.perf_counter()
        online = self.port.heartbeat()
        took = time.perf_counter() - started
        if online:
            return CheckResult(True, lambda language: gettext(
                language, "The central side answered in {duration}.").format(
                    duration=format_duration(took, language)))
        error = scrub(self.port.last_error)
        if not error:
            return CheckResult(False, _say(N_("No answer from the central side.")))
        return CheckResult(False, _say(N_("No answer from the central side: {error}"),
                                       error=error))

    def sync_now(self) -> CheckResult:
        self.port.sync_now()
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
        return {
            "devices": self._devices_lines, "network": self._network_tab,
            "queue": self._queue_tab, "log": self._log_tab, "restart": self._restart_tab,
        }[self.tab](results)

    def _devices_lines(self, results: dict[str, CheckResult]) -> list[Line]:
        out: list[Line] = []
        for name, ok, kind in self.devices_text():
            status = (self.tr("OK") if ok else self.tr("DOWN")).ljust(4)
            device = self.tr(DEVICE_NAMES[name]) if name in DEVICE_NAMES else name
            kind = self.tr(DEVICE_KINDS[kind]) if kind in DEVICE_KINDS else kind
            out.append((f"{status}  {device} ({kind})", "ok" if ok else "bad"))
        if not out:
            out.append((self.tr("No devices configured."), "plain"))
        for key, title in RESULT_TITLES.items():
            if key in results:
                r = results[key]
                out.append((self.tr("{device}: {result}").format(
                    device=self.tr(title), result=r.text(self.language)), _tone(r)))
        return out

    def _network_tab(self, results: dict[str, CheckResult]) -> list[Line]:
        out: list[Line] = [(line, "plain") for line in self.network_lines()]
        if "network" in results:
            out.append((results["network"].text(self.language), _tone(results["network"])))
        return out

    def _queue_tab(self, results: dict[str, CheckResult]) -> list[Line]:
        out: list[Line] = [(line, "plain") for line in self.queue_lines()]
        if "sync" in results:
            out.append((results["sync"].text(self.language), "ok"))
        return out

    def _log_tab(self, _results: dict[str, CheckResult]) -> list[Line]:
        return [(line, "plain") for line in self.log_lines()] or [
            (self.tr("(no log lines yet)"), "plain")]

    def _restart_tab(self, _results: dict[str, CheckResult]) -> list[Line]:
        out: list[Line] = [(self.tr("Restarting closes the kiosk application; it starts again "
                                    "by itself within seconds. Transactions in the queue are "
                                    "kept."), "plain")]
        if self.confirming_restart:
            out.append((self.tr("Press the button again to restart now."), "bad"))
        return out

    def devices_text(self) -> list[tuple[str, bool, str]]:
        """(device, ok, type) for each configured device."""
        return [(name, bool(state["ok"]), str(state["type"]))
                for name, state in self.port.device_states().items()]

    def network_lines(self) -> list[str]:
        s = self.port.settings
        tr = self.tr
        status = (tr("Central side: online ({backend})") if self.port.online
                  else tr("Central side: OFFLINE ({backend})"))
        lines = [status.format(backend=s.backend.type)]
        target = _backend_target(s)
        if target:
            lines.append(tr("Address: {address}").format(address=f"{target[0]}:{target[1]}"))
        error = scrub(self.port.last_error)
        if error:
            lines.append(tr("Last error: {error}").format(error=error))
        here = f"{socket.gethostname()} {_local_address(target) or ''}".rstrip()
        lines.append(tr("This kiosk: {kiosk}").format(kiosk=here))
        report = self.port.last_sync
        lines.append(self.ntr("Last sync: {sent} sent, {done} done, {n} conflict.",
                              "Last sync: {sent} sent, {done} done, {n} conflicts.",
                              report.conflicts).format(sent=report.sent, done=report.done,
                                                       n=report.conflicts))
        if report.error:
            lines.append(tr("Last sync stopped: {error}").format(error=scrub(report.error)))
        skew = self.port.clock_skew_s
        if skew is not None:
            text = (tr("Clock: {seconds} s ahead of the central side.") if skew >= 0
                    else tr("Clock: {seconds} s behind the central side."))
            lines.append(text.format(seconds=f"{abs(skew):.0f}"))
        return lines

    def queue_lines(self, limit: int = 12) -> list[str]:
        counts = self.port.queue_counts()
        oldest = self.port.oldest_pending()
        pending = counts.get("pending", 0) + counts.get("sent", 0)
        lines = [self.tr("Waiting: {pending}   Conflicts: {conflicts}   Rejected: {rejected}")
                 .format(pending=pending, conflicts=counts.get("conflict", 0),
                         rejected=counts.get("rejected", 0))]
        if oldest is not None:
            lines.append(self.tr("Oldest waiting: {time} ({age} ago)").format(
                time=oldest.isoformat(timespec="minutes"),
                age=format_duration(pending_age_s(oldest), self.language)))
        row_text = self.tr("#{seq} {kind} {state} item {item} patron {patron} {time}")
        for row in self.port.queue_rows()[-limit:]:
            lines.append(row_text.format(seq=row.seq, kind=row.kind, state=row.state,
                                         item=row.item_id, patron=row.patron_ref,
                                         time=row.created_at[:16])
                         + (f" – {scrub(row.last_error)[:60]}" if row.last_error else ""))
        return lines

    def log_lines(self, count: int = 40) -> list[str]:
        """The scrubbed log tail, as logged (log lines are not translated: they are what
        support and the log files say)."""
        return self.port.log_lines(count)


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


def _backend_target(settings: Settings) -> tuple[str, int] | None:
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


# ---- why a PIN did not open technician mode ---------------------------------------------


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
