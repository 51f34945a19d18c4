"""sd_notify READY / WATCHDOG through a real Unix datagram socket bound as NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from staff_support import ROOT, RunningKiosk

from kiosk.watchdog import Notifier, Watchdog, watchdog_interval


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def collect(self, until: str, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append(data)
            if until in data:
                break
        return self.messages

    def drain(self) -> list[str]:
        got = []
        self.sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError):  # drained: nothing more within 50 ms
            while True:
                got.append(self.sock.recv(4096).decode())
        self.sock.settimeout(0.2)
        return got


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    s = NotifySocket(tmp_path / "notify.sock")
    yield s
    s.sock.close()


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_pings_stop_when_the_event_thread_hangs(demo_kiosk: RunningKiosk,
                                                notify_socket: NotifySocket) -> None:
    """The kiosk's own event thread really hangs (a handler that does not return), with the
    real clock: an earlier version set `last_loop_at` by hand and raced the running thread."""
    kiosk = demo_kiosk.kiosk
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"}
    dog = Watchdog(kiosk, environ=env, stale_s=1.5)  # pings at most every 0.5 s
    wait_until(lambda: kiosk.last_loop_at > 0)
    dog.tick()
    assert dog.pings == 0, "no ping before READY"
    dog.ready()
    assert notify_socket.collect("READY=1")[0].startswith("READY=1\nSTATUS=serving")
    assert dog.tick() is None  # never False: Kivy would unschedule the clock callback
    assert dog.pings == 1
    dog.tick()
    assert dog.pings == 1, "rate-limited to half of WatchdogSec"
    time.sleep(0.55)
    dog.tick()
    assert dog.pings == 2
    got = notify_socket.drain()
    assert sum("WATCHDOG=1" in m for m in got) == 2
    # the event thread gets stuck in a call that never returns: pings stop, systemd hears why
    release = threading.Event()
    stuck = object()
    kiosk.event_filters.append(lambda event: event is stuck and release.wait(30))
    kiosk.put(stuck)
    wait_until(lambda: time.monotonic() - kiosk.last_loop_at > 1.6)
    for _ in range(3):
        dog.tick()
        time.sleep(0.2)
    assert dog.pings == 2
    got = notify_socket.drain()
    assert not any("WATCHDOG=1" in m for m in got)
    assert any("STATUS=event thread stuck" in m for m in got)
    # it recovers: pings resume
    release.set()
    wait_until(lambda: time.monotonic() - kiosk.last_loop_at < 0.5)
    dog.tick()
    assert dog.pings == 3
    dog.stopping()
    got = notify_socket.drain()
    assert got[0].startswith("WATCHDOG=1") and got[-1].startswith("STOPPING=1")


def test_no_socket_no_messages_no_errors() -> None:
    assert not Notifier({}).notify("READY=1")
    assert Notifier({"NOTIFY_SOCKET": "@abstract-name"}).address == "\0abstract-name"
    dead = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify.sock"})
    assert dead.enabled and not dead.notify("WATCHDOG=1")  # logged, not raised


def test_interval_is_half_the_watchdog_timeout() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}) == 5.0


def demo_config(url: str, tmp_path: Path) -> Path:
    """The demo kiosk's config against `url`, its data and status port private to this test."""
    demo = (ROOT / "config/demo.toml").read_text()
    demo = demo.replace('url = "http://127.0.0.1:0/"', f'url = "{url}/"')
    demo = demo.replace('data_dir = "demo-output/var"', f'data_dir = "{tmp_path / "var"}"')
    demo += '\n[status]\nlisten = "127.0.0.1:0"\n'
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(demo)
    return cfg


def test_kiosk_run_headless_really_notifies_systemd(library: Any, tmp_path: Path,
                                                    notify_socket: NotifySocket) -> None:
    """The real `kiosk run --headless` process: READY once serving, WATCHDOG while alive,
    STOPPING on SIGTERM, exit 0."""
    cfg = demo_config(library.url, tmp_path)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "2000000",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--headless",
                             "--config", str(cfg)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        got = notify_socket.collect("READY=1", timeout=20)
        assert any(m.startswith("READY=1") for m in got), got
        got = notify_socket.collect("WATCHDOG=1", timeout=10)
        assert any("WATCHDOG=1" in m for m in got), got
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        got = notify_socket.collect("STOPPING=1", timeout=5)
        assert any(m.startswith("STOPPING=1") for m in got), got
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output = proc.stdout.read().decode() if proc.stdout else ""
        if proc.stdout:
            proc.stdout.close()
    assert "Traceback" not in output, output


def test_tick_keeps_a_kivy_interval_alive(demo_kiosk: RunningKiosk,
                                          notify_socket: NotifySocket) -> None:
    """The UI schedules `lambda dt: watchdog.tick()` on the Kivy clock; Kivy cancels an
    interval whose callback returns False, so tick() must never return False."""
    from kivy.clock import ClockBase

    clock = ClockBase()
    dog = Watchdog(demo_kiosk.kiosk, environ={"NOTIFY_SOCKET": str(notify_socket.path)},
                   interval=0.05)
    dog.ready()
    event = clock.schedule_interval(lambda _dt: dog.tick(), 0.01)
    deadline = time.monotonic() + 10  # a deadline, not a quota: a slow box only takes longer
    while dog.pings < 4 and time.monotonic() < deadline:
        clock.tick()
        time.sleep(0.005)
    assert event.is_triggered, "the Kivy clock dropped the watchdog callback"
    assert dog.pings >= 4


def test_kiosk_run_with_its_screen_stops_cleanly_on_sigterm(library: Any, tmp_path: Path,
                                                           notify_socket: NotifySocket) -> None:
    """With the touchscreen UI, SIGTERM (systemd's stop) must end the Kivy loop too, else
    systemd waits and SIGKILLs a kiosk in the middle of whatever it was doing."""
    from kiosk.ui.display import HeadlessDisplay

    cfg = demo_config(library.url, tmp_path)
    saved = dict(os.environ)
    with HeadlessDisplay(size=(1024, 600)):
        env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path),
               "WATCHDOG_USEC": "2000000", "PYTHONPATH": str(ROOT),
               "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--config", str(cfg)],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            got = notify_socket.collect("WATCHDOG=1", timeout=30)
            assert any("WATCHDOG=1" in m for m in got), got
            proc.send_signal(signal.SIGTERM)
            returncode = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            output = proc.stdout.read().decode() if proc.stdout else ""
            if proc.stdout:
                proc.stdout.close()
    os.environ.clear()
    os.environ.update(saved)
    assert returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
