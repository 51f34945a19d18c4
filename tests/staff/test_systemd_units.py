"""The unit files pass `systemd-analyze verify` without a single warning, and say what the
issue asks (notify + watchdog, restart, dedicated user, hardening).

`systemd-analyze verify` exits 0 even on errors, so the test reads its output. It also
refuses a unit whose ExecStart binary does not exist; the units point at /opt/kiosk/venv (the
install of docs/raspberry-pi.md), so the test verifies copies whose ExecStart is rewritten to
a bin/ directory it creates with the real `kiosk` and `kiosk-central` entry points of this
checkout. Nothing else in the copies changes.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from staff_support import ROOT

UNITS = ("kiosk.service", "kiosk-central.service")
INSTALL_BIN = "/opt/kiosk/venv/bin/"


def verify(tmp_path: Path, text_by_name: dict[str, str]) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("kiosk", "kiosk-central"):
        target = bin_dir / tool
        if not target.exists():
            real = ROOT / ".venv" / "bin" / tool
            target.write_text(real.read_text() if real.exists() else "#!/bin/sh\nexit 0\n")
            target.chmod(0o755)
    paths = []
    for name, text in text_by_name.items():
        path = tmp_path / name
        path.write_text(text.replace(INSTALL_BIN, f"{bin_dir}/"))
        paths.append(str(path))
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""}
    done = subprocess.run([shutil.which("systemd-analyze") or "systemd-analyze", "verify",
                           *paths], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path)
    return (done.stdout + done.stderr).strip()


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "systemd" / name)
    return parser


@pytest.mark.parametrize("name", UNITS)
def test_unit_verifies_without_warnings(name: str, tmp_path: Path) -> None:
    output = verify(tmp_path, {name: (ROOT / "systemd" / name).read_text()})
    assert output == "", output


def test_verify_does_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a missing binary are reported."""
    text = (ROOT / "systemd" / "kiosk.service").read_text()
    broken = text.replace("WatchdogSec=30", "WatchdogSecs=30")
    output = verify(tmp_path, {"kiosk.service": broken})
    assert "WatchdogSecs" in output
    missing = text.replace(f"{INSTALL_BIN}kiosk run", "/nonexistent/kiosk run")
    assert "nonexistent" in verify(tmp_path, {"kiosk.service": missing})


def test_kiosk_unit_is_notify_with_watchdog_and_hardened() -> None:
    s = unit("kiosk.service")["Service"]
    assert s["Type"] == "notify" and s["Restart"] == "always"
    assert int(s["WatchdogSec"]) > 0
    assert s["User"] == "kiosk" and s["User"] != "root"
    assert s["ProtectSystem"] == "strict" and s["NoNewPrivileges"] == "yes"
    assert s["ReadWritePaths"].split() == ["/var/lib/kiosk"]
    assert s["ExecStart"].startswith(f"{INSTALL_BIN}kiosk run")
    assert s["CapabilityBoundingSet"] == ""


def test_central_unit_is_notify_and_hardened() -> None:
    s = unit("kiosk-central.service")["Service"]
    assert s["Type"] == "notify" and s["Restart"] == "always"
    assert s["User"] == "kiosk-central"
    assert s["ProtectSystem"] == "strict" and s["NoNewPrivileges"] == "yes"
    assert s["ReadWritePaths"].split() == ["/var/lib/kiosk-central"]
    assert "--host 127.0.0.1" in s["ExecStart"]


def test_udev_rules_parse_as_key_value_lines() -> None:
    for raw in (ROOT / "systemd" / "70-kiosk-devices.rules").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keys = [part.strip().split("=")[0].rstrip("=!+:") for part in line.split(",")]
        assert all(keys), line
        assert any(k.startswith(("SUBSYSTEM", "KERNEL")) for k in keys), line
        assert "MODE" in keys and "GROUP" in keys, line
