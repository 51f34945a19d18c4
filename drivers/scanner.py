"""Barcode scanners: keyboard-wedge (evdev on the Pi, or Kivy key events) and serial.

A keyboard-wedge scanner "types" the barcode. We tell it apart from a person by
timing: a scanner sends every key within a few milliseconds, a person needs
well over 50 ms between keys. `WedgeDecoder` turns timed characters into
scans; `EvdevScanner` reads the scanner's input device (grabbed exclusively,
so its keys never reach the UI) and feeds the same decoder; the Kivy UI can
call `WedgeDecoder.feed(char, timestamp)` for scanners it cannot grab.
`SerialScanner` reads line-terminated codes from a serial (or USB-CDC) port.

Every completed code goes through `drivers.barcodes`: a code that passes the
configured checksum schemes is published as `BarcodeScanned(code)`; one that
fails is published as `CardUnreadable(BAD_CHECK_DIGIT)` so the patron is asked
to scan again instead of being told "unknown item". Codes are not logged.

Device loss (scanner unplugged) is `DeviceState("scanner", ok=False)`, and
the driver keeps retrying with backoff until it is back (`ok=True`).

Error tree:

    ScannerError (a DriverError)          anything the scanner drivers raise
    ├── ScannerConfigError (ValueError)   bad constructor arguments
    ├── EvdevNotInstalled (ImportError)   `pip install evdev` on the Pi
    └── ScannerUnavailable                device missing/unplugged (OSError and
                                          serial.SerialException translated here)
    drivers.errors.DeviceClosed           start() after close() (the same for every driver)
"""

from __future__ import annotations

import abc
import errno
import logging
import select
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from domain.events import BarcodeScanned, CardUnreadable, DeviceState, EventSink
from drivers.barcodes import (
    BAD_CHECK_DIGIT,
    UnknownChecksumScheme,
    check_schemes,
    is_acceptable,
    normalise,
)
from drivers.device import Device, Probe, probe_device_path
from drivers.errors import DriverError

logger = logging.getLogger(__name__)

DEVICE = "scanner"
MAX_CODE_LENGTH = 128  # longer bursts are a stuck key or a person pasting text


class ScannerError(DriverError):
    """Root of every error raised by the scanner drivers."""


class ScannerConfigError(ScannerError, ValueError):
    """A constructor argument is invalid."""


class EvdevNotInstalled(ScannerError, ImportError):
    """python-evdev is missing (Linux only: `pip install evdev`)."""


class ScannerUnavailable(ScannerError):
    """The scanner device is missing, unplugged or cannot be opened."""


def _enter_to_newline(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def publish_code(
    sink: EventSink, raw: str, *, checksums: Iterable[str], source: str = DEVICE
) -> str | None:
    """Validate a completed code and publish the matching event; return it if accepted."""
    code = normalise(raw)
    if not code:
        return None
    if not code.isprintable():
        logger.info("scanner sent unprintable characters; asking to scan again")
        sink.put(CardUnreadable(BAD_CHECK_DIGIT, source=source))
        return None
    if not is_acceptable(code, checksums):
        logger.info("barcode rejected: check digit mismatch (%d chars)", len(code))
        sink.put(CardUnreadable(BAD_CHECK_DIGIT, source=source))
        return None
    sink.put(BarcodeScanned(code, source=source))
    return code


def _checked_schemes(checksums: Iterable[str]) -> tuple[str, ...]:
    try:
        return check_schemes(checksums)
    except UnknownChecksumScheme as exc:
        raise ScannerConfigError(str(exc)) from exc


class WedgeDecoder:
    """Turns timed key characters into barcode scans; ignores human typing.

    `feed(char, timestamp)` takes one character (Enter as "\\n" or "\\r") and the
    time it was pressed in seconds (any clock, as long as it is the same one).
    A burst of at least `min_length` characters, each within `max_interkey_ms`
    of the previous one, starting with `prefix` and ended by `suffix`, is a
    scan. With `suffix=""` a burst ends when the keys stop: call `flush(now)`
    from a timer (the evdev loop does) to complete it. Returns the accepted
    code when a scan completes, else None.
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        max_interkey_ms: float = 50.0,
        min_length: int = 4,
        prefix: str = "",
        suffix: str = "\n",
        checksums: Iterable[str] = ("none",),
        source: str = DEVICE,
    ) -> None:
        if not 1 <= max_interkey_ms <= 1000:
            raise ScannerConfigError("max_interkey_ms must be between 1 and 1000")
        if not 1 <= min_length <= MAX_CODE_LENGTH:
            raise ScannerConfigError(f"min_length must be between 1 and {MAX_CODE_LENGTH}")
        self._sink = sink
        self.max_gap = max_interkey_ms / 1000.0
        self.min_length = min_length
        self.prefix = prefix
        self.suffix = _enter_to_newline(suffix)
        self.checksums = _checked_schemes(checksums)
        self.source = source
        self._buffer: list[str] = []
        self._last: float | None = None
        self._overflow = False
        self._lock = threading.Lock()

    def feed(self, char: str, timestamp: float) -> str | None:
        char = _enter_to_newline(char)
        if len(char) != 1:
            raise ScannerConfigError("feed() takes exactly one character")
        with self._lock:
            completed = None
            if self._last is not None and timestamp - self._last > self.max_gap:
                completed = self._end_burst()  # a pause: whatever came before is done
                self._overflow = False
            self._last = timestamp
            if self._overflow:  # drop the rest of a runaway burst
                if self.suffix and char == self.suffix[-1]:
                    self._overflow = False
                    self._reset()
                return completed
            self._buffer.append(char)
            if len(self._buffer) > MAX_CODE_LENGTH + len(self.prefix) + len(self.suffix):
                self._buffer.clear()
                self._overflow = True
                return completed
            if self.suffix and "".join(self._buffer).endswith(self.suffix):
                text = "".join(self._buffer)[: -len(self.suffix)]
                self._reset()
                return self._complete(text) or completed
            return completed

    def flush(self, timestamp: float) -> str | None:
        """End a burst that has gone quiet (needed when no suffix is configured)."""
        with self._lock:
            if self._last is None or timestamp - self._last <= self.max_gap:
                return None
            return self._end_burst()

    def _end_burst(self) -> str | None:
        text = "".join(self._buffer)
        self._reset()
        if self.suffix:  # no suffix came: a person typing, or a partial scan
            return None
        return self._complete(text)

    def _reset(self) -> None:
        self._buffer.clear()
        self._last = None

    def _complete(self, text: str) -> str | None:
        if self.prefix:
            if not text.startswith(self.prefix):
                return None
            text = text[len(self.prefix) :]
        if len(text) < self.min_length:
            return None  # e.g. a person pressing a key then Enter quickly
        return publish_code(self._sink, text, checksums=self.checksums, source=self.source)


# --- evdev (keyboard-wedge scanners on the Pi) --------------------------------

EV_KEY = 1
KEY_DOWN = 1
_SHIFT_KEYS = {42, 54}  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
# Linux input-event codes for a US layout (scanners are set to "USB keyboard, US").
_KEYS: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"),
    7: ("6", "^"), 8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"),
    12: ("-", "_"), 13: ("=", "+"), 15: ("\t", "\t"), 26: ("[", "{"), 27: ("]", "}"),
    28: ("\n", "\n"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"), 43: ("\\", "|"),
    51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), 57: (" ", " "), 96: ("\n", "\n"),
    55: ("*", "*"), 71: ("7", "7"), 72: ("8", "8"), 73: ("9", "9"), 74: ("-", "-"),
    75: ("4", "4"), 76: ("5", "5"), 77: ("6", "6"), 78: ("+", "+"), 79: ("1", "1"),
    80: ("2", "2"), 81: ("3", "3"), 82: ("0", "0"), 83: (".", "."), 98: ("/", "/"),
}
for _row, _start in (("qwertyuiop", 16), ("asdfghjkl", 30), ("zxcvbnm", 44)):
    for _i, _c in enumerate(_row):
        _KEYS[_start + _i] = (_c, _c.upper())


class InputDevice(Protocol):
    """The part of `evdev.InputDevice` we use (lets tests hand in their own device)."""

    fd: int

    def read(self) -> Iterable[Any]: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...


def _require_evdev() -> Any:
    try:
        import evdev
    except ImportError as exc:
        raise EvdevNotInstalled("python-evdev is not installed (pip install evdev)") from exc
    return evdev


def _open_evdev(device_path: str, name_filter: str) -> InputDevice:
    evdev = _require_evdev()
    try:
        if device_path:
            return evdev.InputDevice(device_path)
        for path in evdev.list_devices():
            dev = evdev.InputDevice(path)
            if name_filter.lower() in dev.name.lower():
                return dev
            dev.close()
    except OSError as exc:
        raise ScannerUnavailable(f"cannot open input device: {exc.strerror}") from exc
    raise ScannerUnavailable(f"no input device matches {name_filter!r}")


class _ScannerThread(Device, abc.ABC):
    """Start/close for the scanners that read on a thread of their own (evdev, serial).

    Subclasses set `_thread_name`, create `_stop`, `_thread` and `_closed` in `__init__`, and
    implement `_run`, which loops until `_stop` is set.
    """

    label = "scanner"

    _thread_name = "scanner"
    _stop: threading.Event
    _thread: threading.Thread | None
    _closed: bool

    @abc.abstractmethod
    def _run(self) -> None:
        """Read codes until `_stop` is set (on the scanner's own thread)."""

    def start(self) -> None:
        self._ensure_open()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._thread_name,
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class EvdevScanner(_ScannerThread):
    """A keyboard-wedge scanner read straight from /dev/input, grabbed exclusively.

    Choose the device by `device_path` (e.g. /dev/input/by-id/usb-...-event-kbd,
    stable across reboots) or by a part of its name (`name_filter`). `opener`
    replaces how the device is opened (tests; other input stacks).
    """

    _thread_name = "evdev-scanner"

    @classmethod
    def probe(cls, *, device_path: str = "", **_options: Any) -> Probe:
        if not device_path:
            return Probe(True, "keyboard-wedge scanner found by name at start-up")
        return probe_device_path(device_path, write=False)

    def __init__(
        self,
        sink: EventSink,
        *,
        device_path: str = "",
        name_filter: str = "",
        grab: bool = True,
        max_interkey_ms: float = 50.0,
        min_length: int = 4,
        prefix: str = "",
        suffix: str = "\n",
        checksums: Iterable[str] = ("none",),
        source: str = DEVICE,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        opener: Callable[[], InputDevice] | None = None,
    ) -> None:
        if not device_path and not name_filter and opener is None:
            raise ScannerConfigError("give device_path or name_filter for the scanner")
        if not 0 < retry_initial <= retry_max:
            raise ScannerConfigError("need 0 < retry_initial <= retry_max")
        if opener is None:
            _require_evdev()  # fail at start-up, not silently in the reader thread
        self.decoder = WedgeDecoder(
            sink, max_interkey_ms=max_interkey_ms, min_length=min_length, prefix=prefix,
            suffix=suffix, checksums=checksums, source=source,
        )
        self._sink = sink
        self._opener = opener or (lambda: _open_evdev(device_path, name_filter))
        self.grab = grab
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._shift = False
        self._health = _Health(sink, DEVICE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def handle_event(self, ev_type: int, code: int, value: int, timestamp: float) -> str | None:
        """One input event, as the kernel reports it; the evdev loop calls this."""
        if ev_type != EV_KEY:
            return None
        if code in _SHIFT_KEYS:
            self._shift = value != 0
            return None
        if value != KEY_DOWN:  # key up, auto-repeat
            return None
        chars = _KEYS.get(code)
        if chars is None:
            return None
        return self.decoder.feed(chars[1] if self._shift else chars[0], timestamp)

    def _run(self) -> None:
        delay = self.retry_initial
        while not self._stop.is_set():
            try:
                device = self._opener()
                try:
                    if self.grab:
                        device.grab()
                    self._health.report(True, "scanner ready")
                    delay = self.retry_initial
                    self._pump(device)
                finally:
                    _quietly(device.close)
            except (ScannerUnavailable, OSError) as exc:
                self._health.report(False, _describe(exc))
            except Exception:  # last resort: the scanner thread must never die
                logger.exception("scanner loop failed; retrying")
                self._health.report(False, "scanner error")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.retry_max)

    def _pump(self, device: InputDevice) -> None:
        """Read events until the device goes away (raises) or we are closed."""
        tick = min(0.05, self.decoder.max_gap)
        while not self._stop.is_set():
            ready, _, _ = select.select([device.fd], [], [], tick)
            if ready:
                try:
                    for ev in device.read():
                        self.handle_event(ev.type, ev.code, ev.value, ev.timestamp())
                except BlockingIOError:  # woken without a full event: read again later
                    pass
            self.decoder.flush(time.time())  # evdev stamps events with the wall clock


# --- serial scanners --------------------------------------------------------------


class SerialScanner(_ScannerThread):
    """A scanner on a serial or USB-CDC port sending one code per line (CR and/or LF).

    `prefix` is removed when present (some scanners add an AIM identifier).
    """

    _thread_name = "serial-scanner"

    @classmethod
    def probe(cls, *, port: str = "", **_options: Any) -> Probe:
        return probe_device_path(port, write=True)

    def __init__(
        self,
        sink: EventSink,
        *,
        port: str,
        baudrate: int = 9600,
        prefix: str = "",
        checksums: Iterable[str] = ("none",),
        source: str = DEVICE,
        read_timeout: float = 0.1,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
    ) -> None:
        if not port:
            raise ScannerConfigError("serial scanner needs a port, e.g. /dev/ttyACM0")
        if not isinstance(baudrate, int) or baudrate <= 0:
            raise ScannerConfigError("baudrate must be a positive whole number, e.g. 9600")
        if not 0 < retry_initial <= retry_max:
            raise ScannerConfigError("need 0 < retry_initial <= retry_max")
        self._sink = sink
        self.port = port
        self.baudrate = baudrate
        self.prefix = prefix
        self.checksums = _checked_schemes(checksums)
        self.source = source
        self.read_timeout = read_timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._health = _Health(sink, DEVICE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def _open(self) -> Any:
        import serial  # pyserial is a core dependency; imported here to keep startup light

        try:
            return serial.Serial(self.port, self.baudrate, timeout=self.read_timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ScannerUnavailable(f"cannot open {self.port}: {_describe(exc)}") from exc

    def _run(self) -> None:
        import serial

        delay = self.retry_initial
        while not self._stop.is_set():
            try:
                port = self._open()
                try:
                    self._health.report(True, self.port)
                    delay = self.retry_initial
                    self._read_lines(port)
                finally:
                    _quietly(port.close)
            except ScannerUnavailable as exc:
                self._health.report(False, str(exc))
            except (serial.SerialException, OSError) as exc:
                self._health.report(False, f"{self.port}: {_describe(exc)}")
            except Exception:  # last resort: the scanner thread must never die
                logger.exception("serial scanner loop failed; retrying")
                self._health.report(False, "scanner error")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.retry_max)

    def _read_lines(self, port: Any) -> None:
        pending = b""
        while not self._stop.is_set():
            chunk = port.read(256)
            if not chunk:
                continue
            pending += chunk
            *lines, pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                self.handle_line(line)
            if len(pending) > MAX_CODE_LENGTH:
                pending = b""  # no terminator in sight: noise on the line

    def handle_line(self, line: bytes) -> str | None:
        """One received line (without terminator); the read loop calls this."""
        text = line.decode("latin-1").strip()
        if not text:
            return None
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix) :]
        return publish_code(self._sink, text, checksums=self.checksums, source=self.source)


# --- simulated twin ------------------------------------------------------------------


class SimScanner(Device):
    """A scanner driven by calls: `scan(code)` publishes what a real scanner would."""

    label = "scanner"

    def __init__(
        self, sink: EventSink, *, checksums: Iterable[str] = ("none",), source: str = DEVICE
    ) -> None:
        self._sink = sink
        self.checksums = _checked_schemes(checksums)
        self.source = source
        self.plugged = True
        self._closed = False
        self._health = _Health(sink, DEVICE)

    def start(self) -> None:
        self._ensure_open()
        self._health.report(self.plugged, "simulated scanner")

    def close(self) -> None:
        self._closed = True

    def scan(self, code: str) -> str | None:
        """Scan one barcode; returns the published code, None if rejected or unplugged."""
        if self._closed or not self.plugged:
            return None
        return publish_code(self._sink, code, checksums=self.checksums, source=self.source)

    def unplug(self) -> None:
        self.plugged = False
        self._health.report(False, "scanner unplugged")

    def plug(self) -> None:
        self.plugged = True
        self._health.report(True, "simulated scanner")


# --- helpers -------------------------------------------------------------------------


class _Health:
    """Publishes DeviceState only when availability changes (no event storms on retry)."""

    def __init__(self, sink: EventSink, device: str) -> None:
        self._sink = sink
        self._device = device
        self.ok: bool | None = None

    def report(self, ok: bool, detail: str) -> None:
        if self.ok is ok:
            return
        self.ok = ok
        (logger.info if ok else logger.warning)("%s %s: %s", self._device,
                                                 "ready" if ok else "unavailable", detail)
        self._sink.put(DeviceState(self._device, ok=ok, detail=detail))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENODEV:
        return "device unplugged"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # closing a device that is already gone
        logger.debug("close failed", exc_info=True)
