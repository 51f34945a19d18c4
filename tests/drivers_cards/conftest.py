"""Real pcscd + vpcd + our card emulator, shared by the card reader tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from event_log import EventLog
from pcscd_daemon import Pcscd
from vpcd_emulator import VpcdEmulator


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    daemon = Pcscd(Path(tmp_path_factory.mktemp("pcscd")) / "pcscd.log")
    daemon.ensure_running()
    yield daemon
    daemon.stop()


@pytest.fixture
def emulator(pcscd: Pcscd) -> Iterator[VpcdEmulator]:
    pcscd.ensure_running()  # a test may have stopped and restarted it
    emu = VpcdEmulator()
    yield emu
    emu.pull()


@pytest.fixture
def events() -> EventLog:
    return EventLog()
