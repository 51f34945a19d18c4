"""Barcode scanners: wedge timing, the evdev loop, a serial scanner on a real pty."""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import BarcodeScanned, CardUnreadable, DeviceState
from drivers.barcodes import BAD_CHECK_DIGIT, normalise
from drivers.errors import DeviceClosed
from drivers.scanner import (
    EV_KEY,
    EvdevNotInstalled,
    EvdevScanner,
    ScannerConfigError,
    SerialScanner,
    SimScanner,
    WedgeDecoder,
)

LIBRARY_CARD = "30234000517861"


def drain(q: queue.Queue, wait: float = 0.0) -> list:
    out = []
    deadline = time.monotonic() + wait
    while True:
        try:
            out.append(q.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            return out


def wait_for(q: queue.Queue, kind: type, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            event = q.get(timeout=remaining)
        except queue.Empty:
            break
        if isinstance(event, kind):
            return event
        raise AssertionError(f"expected {kind.__name__}, got {event!r}")
    raise AssertionError(f"no {kind.__name__} within {timeout}s")


def typed(decoder: WedgeDecoder, text: str, start: float, gap: float) -> list:
    return [decoder.feed(ch, start + i * gap) for i, ch in enumerate(text)]


# --- wedge decoder -------------------------------------------------------------------


def test_fast_burst_with_enter_is_a_scan() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q, checksums=("codabar14",))
    results = typed(d, LIBRARY_CARD + "\r", 100.0, 0.008)
    assert results[-1] == LIBRARY_CARD
    assert drain(q) == [BarcodeScanned(LIBRARY_CARD, source="scanner")]


def test_human_typing_is_ignored() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q, max_interkey_ms=50)
    typed(d, "30234000517861\n", 100.0, 0.15)
    typed(d, "12\n", 200.0, 0.005)  # fast but too short: a key and Enter
    assert drain(q) == []


def test_a_pause_inside_a_burst_discards_it_then_the_next_scan_works() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q)
    typed(d, "3023", 100.0, 0.01)
    typed(d, "4000517861\n", 100.5, 0.01)  # resumed after 0.5 s: not one scan
    assert drain(q) == [BarcodeScanned("4000517861", source="scanner")]


def test_bad_check_digit_asks_to_scan_again() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q, checksums=("codabar14", "ean13"))
    assert typed(d, "30234000517862\n", 1.0, 0.01)[-1] is None
    assert drain(q) == [CardUnreadable(BAD_CHECK_DIGIT, source="scanner")]


def test_prefix_and_multi_char_suffix() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q, prefix="]C0", suffix="\t")
    typed(d, "]C0ABC123\t", 1.0, 0.005)
    typed(d, "ABC123\t", 2.0, 0.005)  # prefix missing: not from our scanner
    assert drain(q) == [BarcodeScanned("ABC123", source="scanner")]


def test_no_suffix_scan_completes_on_flush_or_next_burst() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q, suffix="")
    typed(d, "12345678", 1.0, 0.01)
    assert d.flush(1.08) is None  # keys may still be coming
    assert d.flush(1.2) == "12345678"
    typed(d, "87654321", 5.0, 0.01)
    assert d.feed("9", 9.0) == "87654321"  # a later key ends the previous burst
    assert [e.code for e in drain(q)] == ["12345678", "87654321"]


CODES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=4, max_size=60)


@given(CODES, st.lists(st.floats(0.0005, 0.049), min_size=61, max_size=61))
@settings(max_examples=150, deadline=None)
def test_any_fast_burst_is_published_exactly(code: str, gaps: list[float]) -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q)
    t = 50.0
    for ch, gap in zip(code + "\n", gaps, strict=False):
        t += gap
        d.feed(ch, t)
    assert drain(q) == [BarcodeScanned(normalise(code), source="scanner")]


@given(CODES, st.lists(st.floats(0.051, 2.0), min_size=61, max_size=61))
@settings(max_examples=150, deadline=None)
def test_human_paced_typing_never_scans(code: str, gaps: list[float]) -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q)
    t = 50.0
    for ch, gap in zip(code + "\n", gaps, strict=False):
        t += gap
        d.feed(ch, t)
    d.flush(t + 5)
    assert drain(q) == []


def test_runaway_input_is_dropped() -> None:
    q: queue.Queue = queue.Queue()
    d = WedgeDecoder(q)
    typed(d, "7" * 500 + "\n", 1.0, 0.001)
    assert drain(q) == []
    typed(d, "12345\n", 1.6, 0.001)  # the next real scan is read normally
    assert drain(q) == [BarcodeScanned("12345", source="scanner")]


@pytest.mark.parametrize(
    "kwargs", [{"max_interkey_ms": 0}, {"min_length": 0}, {"checksums": ["crc32"]}]
)
def test_decoder_configuration_errors(kwargs: dict) -> None:
    with pytest.raises(ScannerConfigError):
        WedgeDecoder(queue.Queue(), **kwargs)


# --- evdev: the read loop with a device that speaks evdev's interface ---------------

KEY = {c: code for code, c in [(2, "1"), (3, "2"), (4, "3"), (5, "4"), (6, "5"), (7, "6"),
                               (8, "7"), (9, "8"), (10, "9"), (11, "0"), (30, "a")]}
KEY_ENTER, KEY_LEFTSHIFT = 28, 42


@dataclass
class InputEvent:
    type: int
    code: int
    value: int
    sec: float

    def timestamp(self) -> float:
        return self.sec


def key_events(text: str, start: float, gap: float = 0.004) -> list[InputEvent]:
    events = []
    t = start
    for ch in text:
        code = KEY_ENTER if ch == "\n" else KEY[ch.lower()]
        if ch.isupper():
            events.append(InputEvent(EV_KEY, KEY_LEFTSHIFT, 1, t))
        events += [InputEvent(EV_KEY, code, 1, t), InputEvent(0, 0, 0, t),
                   InputEvent(EV_KEY, code, 0, t + 0.001)]
        if ch.isupper():
            events.append(InputEvent(EV_KEY, KEY_LEFTSHIFT, 0, t + 0.001))
        t += gap
    return events


class PipeInputDevice:
    """Delivers events through a real file descriptor, like /dev/input/eventN."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self.fd = self._r
        self._pending: list[InputEvent] = []
        self._lock = threading.Lock()
        self.grabbed = False
        self.unplugged = False
        self.closed = False

    def send(self, events: list[InputEvent]) -> None:
        with self._lock:
            self._pending += events
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._w, b"x")

    def read(self) -> list[InputEvent]:
        os.read(self._r, 4096)
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        with self._lock:
            events, self._pending = self._pending, []
        return events

    def grab(self) -> None:
        self.grabbed = True

    def close(self) -> None:
        self.closed = True
        os.close(self._r)
        os.close(self._w)


def test_handle_event_maps_keys_and_shift() -> None:
    q: queue.Queue = queue.Queue()
    s = EvdevScanner(q, opener=PipeInputDevice, min_length=2)
    for ev in key_events("12a\n", 10.0) + key_events("Aa0\n", 20.0):
        s.handle_event(ev.type, ev.code, ev.value, ev.timestamp())
    assert [e.code for e in drain(q)] == ["12a", "Aa0"]


def test_evdev_loop_grabs_reads_and_survives_unplug() -> None:
    q: queue.Queue = queue.Queue()
    devices: list[PipeInputDevice] = []

    def opener() -> PipeInputDevice:
        if len(devices) == 1 and devices[0].unplugged and not plugged_back.is_set():
            raise OSError(errno.ENOENT, "No such file or directory")
        devices.append(PipeInputDevice())
        return devices[-1]

    plugged_back = threading.Event()
    with EvdevScanner(q, opener=opener, checksums=("codabar14",), retry_initial=0.05,
                      retry_max=0.1):
        assert wait_for(q, DeviceState).ok
        assert devices[0].grabbed
        devices[0].send(key_events(LIBRARY_CARD + "\n", time.time()))
        assert wait_for(q, BarcodeScanned).code == LIBRARY_CARD
        devices[0].unplug()
        down = wait_for(q, DeviceState)
        assert not down.ok
        assert down.detail == "device unplugged"
        assert devices[0].closed
        plugged_back.set()
        assert wait_for(q, DeviceState).ok
        devices[1].send(key_events("30234000517862\n", time.time()))
        assert wait_for(q, CardUnreadable).detail == BAD_CHECK_DIGIT


def test_evdev_without_the_library_is_a_named_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_evdev(name: str, *args, **kwargs):
        if name == "evdev":
            raise ImportError("No module named 'evdev'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_evdev)
    with pytest.raises(EvdevNotInstalled, match="pip install evdev"):
        EvdevScanner(queue.Queue(), device_path="/dev/input/event0")


def test_evdev_needs_a_device_choice() -> None:
    with pytest.raises(ScannerConfigError, match="device_path or name_filter"):
        EvdevScanner(queue.Queue())


# --- serial scanner on a real pseudo-terminal ------------------------------------------


class PtyLink:
    """A pty whose slave is reachable through a stable symlink, like /dev/serial/by-id."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name)
        tmp.replace(self.link)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        os.close(self.master)
        self.master = -1
        self.link.unlink()

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyLink]:
    link = PtyLink(tmp_path / "scanner")
    yield link
    link.close()


def test_serial_scanner_reads_lines(pty: PtyLink) -> None:
    q: queue.Queue = queue.Queue()
    with SerialScanner(q, port=str(pty.link), checksums=("codabar14", "ean13"), prefix="]E0"):
        assert wait_for(q, DeviceState).ok
        pty.write(b"3023400051")  # a code split over two reads
        time.sleep(0.05)
        pty.write(b"7861\r\n]E09780306406157\r")
        assert wait_for(q, BarcodeScanned).code == LIBRARY_CARD
        assert wait_for(q, BarcodeScanned).code == "9780306406157"
        pty.write(b"\xff\xfe\x01\n")  # line noise
        assert isinstance(wait_for(q, CardUnreadable), CardUnreadable)


def test_serial_scanner_unplugged_and_back(pty: PtyLink) -> None:
    q: queue.Queue = queue.Queue()
    with SerialScanner(q, port=str(pty.link), retry_initial=0.05, retry_max=0.1):
        assert wait_for(q, DeviceState).ok
        pty.unplug()
        assert not wait_for(q, DeviceState).ok
        pty.plug()
        assert wait_for(q, DeviceState).ok
        pty.write(b"ABC-123\n")
        assert wait_for(q, BarcodeScanned).code == "ABC-123"


def test_serial_scanner_missing_port_is_reported_not_raised(tmp_path: Path) -> None:
    q: queue.Queue = queue.Queue()
    with SerialScanner(q, port=str(tmp_path / "nothing-here")):
        state = wait_for(q, DeviceState)
    assert not state.ok
    assert "nothing-here" in state.detail


@pytest.mark.parametrize("kwargs", [{"port": ""}, {"port": "/dev/ttyACM0", "baudrate": 0},
                                    {"port": "/dev/ttyACM0", "checksums": ["md5"]}])
def test_serial_configuration_errors(kwargs: dict) -> None:
    with pytest.raises(ScannerConfigError):
        SerialScanner(queue.Queue(), **kwargs)


def test_closed_scanner_cannot_restart(pty: PtyLink) -> None:
    s = SerialScanner(queue.Queue(), port=str(pty.link))
    s.close()
    with pytest.raises(DeviceClosed):
        s.start()


# --- simulated twin ------------------------------------------------------------------


def test_sim_scanner_validates_like_the_real_ones() -> None:
    q: queue.Queue = queue.Queue()
    with SimScanner(q, checksums=("codabar14",)) as sim:
        assert sim.scan("A30234000517861B") == LIBRARY_CARD
        assert sim.scan("30234000517862") is None
        sim.unplug()
        assert sim.scan(LIBRARY_CARD) is None
        sim.plug()
    assert drain(q) == [
        DeviceState("scanner", ok=True, detail="simulated scanner"),
        BarcodeScanned(LIBRARY_CARD, source="scanner"),
        CardUnreadable(BAD_CHECK_DIGIT, source="scanner"),
        DeviceState("scanner", ok=False, detail="scanner unplugged"),
        DeviceState("scanner", ok=True, detail="simulated scanner"),
    ]
