"""Logs that fit journald: records reach a real systemd-journald with their priority and their
fields, with systemd's JournalHandler and without it; JSON lines for a container; and a
config that names a style that does not exist is refused in words."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import config

ROOT = Path(__file__).resolve().parents[2]
SOCKET = Path("/run/systemd/journal/socket")
JOURNALD = Path("/lib/systemd/systemd-journald")

LOG_ONE = """
import logging, sys
from domain import logs
logs.configure(sys.argv[1], identifier=sys.argv[2], fields={"kiosk_id": "kiosk-7"})
log = logging.getLogger("kiosk.sync")
log.info("sync resumed")
log.warning("transaction %s rejected: %s", "abc12345", "unknown item",
            extra={"event": "rejected", "txn_id": "abc12345-full"})
try:
    raise OSError("disk full")
except OSError:
    log.exception("journal write failed", extra={"event": "disk_full"})
"""


def _listening(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


@pytest.fixture(scope="module")
def journald() -> Iterator[None]:
    """The machine's journald, or one started for these tests (a container has none)."""
    if _listening(SOCKET):
        yield
        return
    assert JOURNALD.exists(), "systemd-journald is missing (Debian package systemd)"
    SOCKET.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([str(JOURNALD)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _listening(SOCKET):
        assert proc.poll() is None and time.monotonic() < deadline, "journald did not start"
        time.sleep(0.1)
    yield
    proc.terminate()
    proc.wait(timeout=10)


def _entries(identifier: str, want: int) -> list[dict[str, str]]:
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run(["journalctl", "--no-pager", "-o", "json",
                              f"SYSLOG_IDENTIFIER={identifier}"],
                             capture_output=True, text=True, check=False).stdout
        entries = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(entries) >= want or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def _run(style: str, identifier: str, *, without_systemd_module: bool = False,
         through_journal_stream: bool = False) -> subprocess.CompletedProcess[str]:
    hide = "import sys; sys.modules['systemd'] = None\n"  # as on a machine without it
    code = (hide if without_systemd_module else "") + LOG_ONE
    cmd = [sys.executable, "-c", code, style, identifier]
    if through_journal_stream:  # what systemd does to a service's stderr
        cmd = ["systemd-cat", "-t", identifier, *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)


def test_records_reach_the_journal_with_their_priority_and_fields(journald: None) -> None:
    identifier = f"kiosk-test-{uuid.uuid4().hex[:8]}"
    _run("journal", identifier)
    entries = _entries(identifier, 3)
    by_message = {e["MESSAGE"]: e for e in entries}
    rejected = by_message["transaction abc12345 rejected: unknown item"]
    assert rejected["PRIORITY"] == "4"
    assert (rejected["KIOSK_ID"], rejected["EVENT"], rejected["TXN_ID"]) == (
        "kiosk-7", "rejected", "abc12345-full")
    assert by_message["sync resumed"]["PRIORITY"] == "6"
    assert by_message["sync resumed"]["KIOSK_ID"] == "kiosk-7"
    failed = next(e for e in entries if e["MESSAGE"].startswith("journal write failed"))
    assert failed["PRIORITY"] == "3" and "OSError: disk full" in failed["EXCEPTION_TEXT"]


def test_without_systemd_python_stderr_lines_carry_the_priority_and_no_timestamp(
        journald: None) -> None:
    identifier = f"kiosk-test-{uuid.uuid4().hex[:8]}"
    _run("journal", identifier, without_systemd_module=True, through_journal_stream=True)
    entries = _entries(identifier, 3)
    rejected = next(e for e in entries if "rejected" in e["MESSAGE"])
    assert rejected["PRIORITY"] == "4"
    assert rejected["MESSAGE"] == ("kiosk.sync: transaction abc12345 rejected: unknown item "
                                   "[kiosk_id=kiosk-7 event=rejected txn_id=abc12345-full]")
    assert not any(e["MESSAGE"][:4].isdigit() for e in entries), "a second timestamp"
    traceback_lines = [e for e in entries if "OSError: disk full" in e["MESSAGE"]]
    assert traceback_lines and traceback_lines[0]["PRIORITY"] == "3"


def test_json_lines_for_a_container() -> None:
    result = _run("json", "unused")
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(e["level"], e["priority"]) for e in lines] == [("info", 6), ("warning", 4),
                                                          ("error", 3)]
    assert lines[1]["txn_id"] == "abc12345-full" and lines[1]["event"] == "rejected"
    assert all(e["kiosk_id"] == "kiosk-7" for e in lines)
    assert "OSError: disk full" in lines[2]["exception"]


def test_auto_is_text_at_a_terminal_and_journal_under_systemd(journald: None) -> None:
    plain = _run("auto", "unused")
    assert plain.stderr.splitlines()[0][:4].isdigit()  # asctime first: a terminal's reader
    identifier = f"kiosk-test-{uuid.uuid4().hex[:8]}"
    # systemd-cat connects stderr to journald but sets no JOURNAL_STREAM: name the stream
    # ourselves as systemd does for a service
    code = ("import os, sys; st = os.fstat(2); "
            "os.environ['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}'\n" + LOG_ONE)
    subprocess.run(["systemd-cat", "-t", identifier, sys.executable, "-c", code, "auto",
                    identifier], check=True, timeout=60, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    entries = _entries(identifier, 3)
    assert any(e.get("EVENT") == "rejected" for e in entries), entries


def test_a_config_naming_an_unknown_style_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[logging]\nformat = "syslog"\n')
    with pytest.raises(config.ConfigError) as err:
        config.load(path, environ={})
    assert "logging.format" in str(err.value) and "journal" in str(err.value)


def test_the_central_service_and_its_workers_log_json_lines(tmp_path: Path) -> None:
    import re
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "central.cli", "serve", "--db", str(tmp_path / "c.db"),
         "--port", "0", "--workers", "2", "--log-format", "json"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, "the service ended before it listened:\n" + "".join(lines)
            lines.append(line)
            found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[1]
    entries = [json.loads(line) for line in lines + rest.splitlines() if line.strip()]
    workers = {e["message"] for e in entries if e["message"].startswith("Started server process")}
    assert len(workers) == 2, entries  # each spawned worker logs through the same formatter
    assert all(e["priority"] in (3, 4, 6) for e in entries)
