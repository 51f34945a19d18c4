"""`kiosk doctor`: a table a technician can act on, and an exit code scripts can use."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from staff_support import ROOT

from domain.demo_library import AVAILABLE_ITEMS
from drivers.rfid_sim import SimRfidReader, SimTag
from kiosk.doctor import (
    InstallLayout,
    Level,
    Row,
    check_device,
    clock_row,
    collect,
    render,
    run_doctor,
)
from kiosk.technician.pin import hash_pin

PIN_HASH = hash_pin("2468")


def write_config(tmp_path: Path, url: str, *, token: str = "demo-token-not-a-secret",
                 extra: str = "") -> Path:
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    text = f"""
[kiosk]
id = "demo-kiosk-1"
data_dir = "{data}"

[backend]
type = "rest"
url = "{url}"
token = "{token}"
connect_timeout_s = 0.5
timeout_s = 1.0

[technician]
pin_hash = "{PIN_HASH}"

[devices.card_reader]
type = "sim"

[devices.printer]
type = "sim"
{extra}
"""
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def by_check(rows: list[Row]) -> dict[str, Row]:
    return {r.check: r for r in rows}


def test_a_healthy_kiosk_passes_and_exits_zero(library: Any, tmp_path: Path) -> None:
    path = write_config(tmp_path, library.url)
    out = io.StringIO()
    assert run_doctor(str(path), out=out) == 0, out.getvalue()
    rows = by_check(collect(str(path)))
    assert rows["backend"].level is Level.OK
    assert rows["authentication"].level is Level.OK
    assert rows["clock"].level is Level.OK and "s " in rows["clock"].result
    assert rows["card reader"].level is Level.OK
    assert rows["journal disk"].level is Level.OK
    assert "All checks passed" in out.getvalue()


def test_a_wrong_token_is_named_with_the_fix(library: Any, tmp_path: Path) -> None:
    path = write_config(tmp_path, library.url, token="not-the-token")
    out = io.StringIO()
    assert run_doctor(str(path), out=out) == 1
    row = by_check(collect(str(path)))["authentication"]
    assert row.level is Level.FAIL and "refused the kiosk's token" in row.result
    assert "add-kiosk" in row.advice
    assert "not-the-token" not in out.getvalue()


def test_an_unreachable_backend_fails_clearly(library: Any, tmp_path: Path) -> None:
    library.proxy.cut()
    path = write_config(tmp_path, library.url)
    rows = by_check(collect(str(path)))
    assert rows["backend"].level is Level.FAIL
    assert "cannot be reached" in rows["backend"].result or "did not answer" in \
        rows["backend"].result
    assert "authentication" not in rows  # no point: the first failing row is the one to fix


def test_a_broken_config_lists_problems_and_skips_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[kiosk]\nlanguage = "xx"\n[backend]\nurl = "ftp://x"\n')
    out = io.StringIO()
    assert run_doctor(str(path), out=out) == 1
    text = out.getvalue()
    assert "kiosk.language" in text and "backend.url" in text
    assert "not checked: the config must be" in text


@pytest.mark.parametrize(("offset_s", "level"), [(0.5, Level.OK), (-20, Level.WARN),
                                                  (600, Level.FAIL), (-3600, Level.FAIL)])
def test_clock_difference(offset_s: float, level: Level) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    row = clock_row(now - timedelta(seconds=offset_s), now=now)
    assert row.level is level
    if level is Level.FAIL:
        assert "timedatectl set-ntp true" in row.advice


def test_rfid_reader_on_the_simulated_serial_line() -> None:
    """The real FEIG driver talks to the simulated reader on a pseudo-terminal."""
    with SimRfidReader() as sim:
        sim.place(SimTag.library_item(AVAILABLE_ITEMS[0], owner_isil="NL-AmRBL"))
        row = check_device("rfid", {"type": "feig", "port": sim.port, "parity": "N"})
        assert row.level is Level.OK and "1 tag(s)" in row.result, row
        sim.set_silent(True)
        silent = check_device("rfid", {"type": "feig", "port": sim.port, "parity": "N"})
        assert silent.level is Level.FAIL
    missing = check_device("rfid", {"type": "feig", "port": "/dev/ttyKIOSK-NOPE"})
    assert missing.level is Level.FAIL and "does not exist" in missing.result


def test_network_printer_reachability() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert check_device("printer", {"type": "escpos",
                              "target": f"network:127.0.0.1:{port}"}).level is Level.OK
    closed = check_device("printer", {"type": "escpos", "target": f"network:127.0.0.1:{port}"})
    assert closed.level is Level.FAIL and "does not accept" in closed.result
    bad = check_device("printer", {"type": "escpos", "target": "lpt1"})
    assert bad.level is Level.FAIL


def test_pcsc_reader_without_pcscd_is_a_row_not_a_crash(tmp_path: Path) -> None:
    """In its own process: libpcsclite reads PCSCLITE_CSOCK_NAME once, when it loads."""
    code = ("from kiosk.doctor import check_device; "
            "r = check_device('card_reader', {'type': 'pcsc'}); "
            "print(r.level.value, '|', r.result)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT,
                          env={**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "none")})
    assert done.stdout.startswith("FAIL | pcscd is not running"), done.stdout + done.stderr


def _pi_root(tmp_path: Path, *, user: str) -> Path:
    root = tmp_path / "root"
    for rel in ("etc/systemd/system/multi-user.target.wants", "etc/udev/rules.d",
                "etc/polkit-1/rules.d", "var/lib/kiosk", "boot/firmware", "proc/device-tree",
                "etc/kiosk"):
        (root / rel).mkdir(parents=True, exist_ok=True)
    (root / "proc/device-tree/model").write_text("Raspberry Pi 5 Model B Rev 1.0\0")
    unit = root / "etc/systemd/system/kiosk.service"
    unit.write_text((ROOT / "systemd/kiosk.service").read_text())
    (root / "etc/systemd/system/multi-user.target.wants/kiosk.service").symlink_to(unit)
    (root / "etc/udev/rules.d/70-kiosk-devices.rules").write_text("#\n")
    (root / "etc/polkit-1/rules.d/50-kiosk-pcscd.rules").write_text("//\n")
    (root / "boot/firmware/config.txt").write_text("[all]\ndtoverlay=vc4-kms-v3d\n")
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1 root=PARTUUID=x "
                                                   "consoleblank=0\n")
    (root / "etc/passwd").write_text(f"root:x:0:0:root:/root:/bin/bash\n"
                                     f"{user}:x:990:990:Library kiosk:/var/lib/kiosk:"
                                     "/usr/sbin/nologin\n")
    groups = [f"{user}:x:990:", *(f"{g}:x:{900 + i}:{user}" for i, g in
                                  enumerate(InstallLayout().groups))]
    (root / "etc/group").write_text("\n".join(groups) + "\n")
    os.chown(root / "var/lib/kiosk", 990, 990)
    config = root / "etc/kiosk/kiosk.toml"
    config.write_text("[kiosk]\n")
    config.chmod(0o640)
    os.chown(config, 0, 990)
    return root


def test_install_check_on_a_set_up_pi(tmp_path: Path) -> None:
    """A directory laid out as the guide says: every install row is green (the user and its
    groups read from that root's own /etc/passwd and /etc/group)."""
    root = _pi_root(tmp_path, user="kiosk")
    from kiosk.doctor import check_install

    layout = InstallLayout(root=root)
    rows = check_install("/etc/kiosk/kiosk.toml", layout, dpkg=lambda _p: True)
    failed = [r for r in rows if r.level is not Level.OK]
    assert not failed, render(failed)
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1\n")
    (root / "etc/systemd/system/multi-user.target.wants/kiosk.service").unlink()
    rows = by_check(check_install("/etc/kiosk/kiosk.toml", layout, dpkg=lambda p: p != "pcscd"))
    assert rows["screen blanking"].level is Level.FAIL
    assert rows["kiosk.service"].result == "installed but not enabled"
    assert rows["kiosk.service"].advice == "sudo systemctl enable kiosk.service"
    assert rows["Debian packages"].advice == "sudo apt install pcscd"
    (root / "etc/group").write_text("kiosk:x:990:\nvideo:x:44:\n")
    rows = by_check(check_install("/etc/kiosk/kiosk.toml", layout, dpkg=lambda _p: True))
    assert rows["groups"].result.startswith("kiosk is not in: video, render, input")
    assert "(no such group: render," in rows["groups"].result


def test_doctor_install_on_this_box_says_what_is_missing(library: Any, tmp_path: Path) -> None:
    """Through the real command: this CI box is no Pi, so --install fails, row by row."""
    path = write_config(tmp_path, library.url)
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "doctor", "--config", str(path),
                           "--install"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for expected in ("board", "kiosk.service", "udev rules", "screen blanking",
                     "check(s) failed"):
        assert expected in done.stdout
    plain = subprocess.run([sys.executable, "-m", "kiosk.cli", "doctor", "--config", str(path)],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert plain.returncode == 0, plain.stdout


def _sip2_config(tmp_path: Path, port: int, password: str) -> Path:
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    path = tmp_path / "sip2.toml"
    path.write_text(f"""
[kiosk]
data_dir = "{data}"

[backend]
type = "sip2"

[sip2]
host = "127.0.0.1"
port = {port}
login_user = "kiosk1"
login_password = "{password}"
location_code = "KIOSK1"
institution_id = "MAIN"
terminal_password = ""
timeout_s = 2.0
connect_timeout_s = 2.0

[technician]
pin_hash = "{PIN_HASH}"
""")
    path.chmod(0o600)
    return path


def test_doctor_with_a_sip2_backend(tmp_path: Path) -> None:
    """Against pysip2's server (the SIP2 tests' library): login, status, clock as rows."""
    sys.path.insert(0, str(ROOT / "tests" / "sip2"))
    try:
        from sip2_library_acs import RunningAcs
    finally:
        sys.path.pop(0)
    with RunningAcs() as acs:
        good = _sip2_config(tmp_path, acs.port, "s3cret")
        out = io.StringIO()
        assert run_doctor(str(good), out=out) == 0, out.getvalue()
        rows = by_check(collect(str(good)))
        assert rows["SIP2 Login (93)"].level is Level.OK
        assert rows["clock"].level is Level.OK
        bad = _sip2_config(tmp_path, acs.port, "Zq9-not-it")
        out = io.StringIO()
        assert run_doctor(str(bad), out=out) == 1
        assert "login_password" in out.getvalue() and "Zq9-not-it" not in out.getvalue()


def test_status_endpoint_exposed_without_a_token_fails(library: Any, tmp_path: Path) -> None:
    path = write_config(tmp_path, library.url, extra='\n[status]\nlisten = "0.0.0.0:8787"\n')
    row = by_check(collect(str(path)))["status endpoint"]
    assert row.level is Level.FAIL and "without a token" in row.result
    ok = write_config(tmp_path, library.url)
    assert by_check(collect(str(ok)))["status endpoint"].result == "127.0.0.1:8787"


def test_a_package_of_another_distribution_under_one_of_our_names_is_named() -> None:
    from kiosk.doctor.python_env import package_owners_row

    ours = {"kiosk": ["library-kiosk"], "drivers": ["library_kiosk"],
            "central": ["library-kiosk"], "domain": ["library-kiosk"]}
    assert package_owners_row(ours).level is Level.OK
    row = package_owners_row({**ours, "drivers": ["library-kiosk", "printer-drivers"]})
    assert row.level is Level.FAIL
    assert row.result == "'drivers' also from printer-drivers"
    # and in this very venv, only ours
    assert package_owners_row().level is Level.OK


def test_a_pi_without_the_pi_extras_modules_fails_and_names_them() -> None:
    from kiosk.doctor.python_env import pi_modules_row

    def without_lgpio(name: str) -> object | None:
        return None if name == "lgpio" else object()

    on_pi = pi_modules_row(True, without_lgpio)
    assert on_pi.level is Level.FAIL
    assert "lgpio (GPIO on a Pi 5" in on_pi.result
    assert "requirements/kiosk-pi.txt" in on_pi.advice
    assert pi_modules_row(False, without_lgpio).level is Level.WARN
    assert pi_modules_row(True).level is Level.OK  # `make test` installs the [pi] extra
