"""Technician PIN: hashed in the config, five wrong tries lock for five minutes, set-pin keeps
the rest of the file and never echoes the PIN."""

from __future__ import annotations

import logging
import os
import pty
import select
import sys
import time
import tomllib
from pathlib import Path

import pytest

from kiosk import config
from kiosk.technician.pin import (
    ConfigEditError,
    PinError,
    PinGate,
    hash_pin,
    set_pin_command,
    set_pin_hash_in_toml,
    verify_pin,
)

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_hash_is_salted_scrypt_and_verifies() -> None:
    a, b = hash_pin("4711"), hash_pin("4711")
    assert a.startswith("scrypt$") and a != b  # salted
    assert "4711" not in a
    assert verify_pin("4711", a) and verify_pin("4711", b)
    assert not verify_pin("4712", a)
    assert not verify_pin("4711", "scrypt$garbage")
    assert not verify_pin("4711", "")


@pytest.mark.parametrize("bad", ["12", "abcd", "12 34", "1234567890123", "١٢٣٤"])
def test_unusable_pins_are_refused(bad: str) -> None:
    with pytest.raises(PinError):
        hash_pin(bad)


def test_five_wrong_tries_lock_for_five_minutes(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    gate = PinGate(hash_pin("2468"), state_path=tmp_path / "lock.json", clock=clock)
    lefts = [gate.attempt("0000").tries_left for _ in range(4)]
    assert lefts == [4, 3, 2, 1]
    fifth = gate.attempt("1111")
    assert fifth.locked and fifth.locked_for_s == 300
    # even the right PIN is refused while locked
    assert not gate.attempt("2468").ok
    clock.now += 299
    assert gate.attempt("2468").locked
    # a restart of the application does not reset the lock
    again = PinGate(hash_pin("2468"), state_path=tmp_path / "lock.json", clock=clock)
    assert again.attempt("2468").locked
    clock.now += 2
    assert again.attempt("2468").ok
    assert "2468" not in caplog.text and "0000" not in caplog.text and "1111" not in caplog.text


def test_right_pin_resets_the_count() -> None:
    gate = PinGate(hash_pin("2468"), clock=Clock())
    for _ in range(4):
        gate.attempt("0000")
    assert gate.attempt("2468").ok
    assert gate.attempt("0000").tries_left == 4


def test_no_pin_configured_never_opens() -> None:
    result = PinGate("", clock=Clock()).attempt("")
    assert not result.ok and result.not_configured


def test_damaged_lock_file_starts_locked(tmp_path: Path) -> None:
    state = tmp_path / "lock.json"
    state.write_text("{not json")
    gate = PinGate(hash_pin("2468"), state_path=state, clock=Clock())
    assert gate.attempt("2468").locked


EXAMPLE = """\
# Kiosk at the main branch
[kiosk]
id = "main-1"   # keep
name = "Hal"

[technician]
# set with kiosk config set-pin
pin_hash = "old"

[backend]
type = "rest"
url = "http://127.0.0.1:1/"
token = "t"
"""


def test_set_pin_replaces_only_the_hash_line() -> None:
    out = set_pin_hash_in_toml(EXAMPLE, "scrypt$1$2$3$4$5")
    assert out == EXAMPLE.replace('pin_hash = "old"', 'pin_hash = "scrypt$1$2$3$4$5"')


def test_set_pin_adds_a_section_when_missing() -> None:
    text = '[kiosk]\nid = "x"'
    out = set_pin_hash_in_toml(text, "scrypt$h")
    assert tomllib.loads(out) == {"kiosk": {"id": "x"}, "technician": {"pin_hash": "scrypt$h"}}
    assert out.startswith('[kiosk]\nid = "x"\n')


def test_set_pin_refuses_a_broken_file() -> None:
    with pytest.raises(ConfigEditError):
        set_pin_hash_in_toml("[kiosk\nid=", "scrypt$h")


def test_set_pin_command_writes_a_hash_the_config_loader_accepts(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(EXAMPLE)
    path.chmod(0o640)
    answers = iter(["135790", "135790"])
    lines: list[str] = []
    assert set_pin_command(str(path), read_secret=lambda _p: next(answers),
                           out=lines.append) == 0
    settings = config.load(path)
    assert verify_pin("135790", settings.technician.pin_hash)
    assert settings.kiosk.name == "Hal" and "# keep" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o640
    assert "135790" not in " ".join(lines)


def test_set_pin_command_mismatch_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(EXAMPLE)
    answers = iter(["135790", "135791"])
    lines: list[str] = []
    assert set_pin_command(str(path), read_secret=lambda _p: next(answers),
                           out=lines.append) == 1
    assert path.read_text() == EXAMPLE
    assert "differ" in lines[0]


def test_kiosk_config_set_pin_on_a_real_terminal_does_not_echo(tmp_path: Path) -> None:
    """Through the real CLI on a pseudo-terminal, as a technician would type it."""
    path = tmp_path / "kiosk.toml"
    path.write_text(EXAMPLE)
    pid, fd = pty.fork()
    if pid == 0:  # child: the real `kiosk` command
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "kiosk.cli", "config", "set-pin",
                                  str(path)])
    seen = b""

    def read_until(marker: bytes, timeout: float = 20.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 1024)
                except OSError:
                    break
        assert marker in seen, seen

    read_until(b"PIN (4-12 digits): ")
    os.write(fd, b"97531\n")
    read_until(b"again: ")
    os.write(fd, b"97531\n")
    read_until(b"written to [technician]")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"97531" not in seen
    assert verify_pin("97531", config.load(path).technician.pin_hash)


def test_each_further_lock_doubles_up_to_a_day_and_survives_a_restart(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from kiosk.technician.pin import MAX_LOCK_S, lock_state_path, lockout

    clock = Clock()
    state = lock_state_path(tmp_path)
    locks = []
    for round_ in range(12):
        gate = PinGate(hash_pin("2468"), state_path=state, clock=clock)  # a restart each round
        for _ in range(4):
            gate.attempt("0000")
        fifth = gate.attempt("0000")
        assert fifth.locked
        locks.append(fifth.locked_for_s)
        if round_ == 3:  # staff see the lock on the dashboard as a device fault
            seen = lockout(SimpleNamespace(kiosk=SimpleNamespace(data_dir=str(tmp_path))),
                           clock=clock)
            assert seen == {"locked": True, "locked_for_s": 2400, "rounds": 4}
        clock.now += fifth.locked_for_s + 1
    assert locks[:5] == [300, 600, 1200, 2400, 4800]
    assert max(locks) == MAX_LOCK_S and locks[-1] == MAX_LOCK_S
    gate = PinGate(hash_pin("2468"), state_path=state, clock=clock)
    assert gate.attempt("2468").ok  # the right PIN ends the doubling
    for _ in range(5):
        last = gate.attempt("0000")
    assert last.locked_for_s == 300
