"""scripts/install-pi.sh, run for real against a throwaway root: a copy of this Debian
machine's systemd units, accounts and dpkg database, with Raspberry Pi OS's boot files. Every
file the installer writes must land under that root, the unit must verify there, the config it
writes must pass `kiosk config check`, and a second run must change nothing a technician did.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
from install_support import ROOT

SCRIPT = ROOT / "scripts" / "install-pi.sh"
PI_CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootwait\n"
PI_CONFIG = "[all]\ndtparam=audio=on\ncamera_auto_detect=1\n"


def debian_root(where: Path) -> Path:
    """What a fresh Raspberry Pi OS Lite has that the installer reads: systemd's units,
    the accounts, the dpkg database, the boot partition, the board's model."""
    for unit_dir in ("lib/systemd/system", "usr/lib/systemd/system"):
        source = Path("/") / unit_dir
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, where / unit_dir, symlinks=True)
    (where / "etc").mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group", "shadow", "gshadow", "os-release"):
        source = Path("/etc") / name
        if source.exists():
            shutil.copy2(source, where / "etc" / name, follow_symlinks=True)
    (where / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy2("/var/lib/dpkg/status", where / "var/lib/dpkg/status")
    (where / "boot/firmware").mkdir(parents=True)
    (where / "boot/firmware/cmdline.txt").write_text(PI_CMDLINE)
    (where / "boot/firmware/config.txt").write_text(PI_CONFIG)
    (where / "proc/device-tree").mkdir(parents=True)
    (where / "proc/device-tree/model").write_text("Raspberry Pi 5 Model B Rev 1.0\0")
    (where / "etc/hostname").write_text("kiosk-branch-7\n")
    return where


def install(root: Path, wheel: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    env["COLUMNS"] = "120"
    return subprocess.run(["sh", str(SCRIPT), "--root", str(root), "--wheel", str(wheel), *args],
                          cwd=root.parent, env=env, capture_output=True, text=True, timeout=900)


def account(root: Path, name: str) -> list[str]:
    (line,) = [line for line in (root / "etc/passwd").read_text().splitlines()
               if line.startswith(f"{name}:")]
    return line.split(":")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def systemd_analyze_verify(root: Path, unit: str) -> str:
    done = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
    return (done.stdout + done.stderr).strip()


@pytest.fixture(scope="module")
def installed(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    assert os.geteuid() == 0, "the installer creates a user and chowns files: run as root"
    assert not Path("/etc/kiosk").exists() and not Path("/opt/kiosk").exists(), \
        "this machine has a kiosk installed: the test could not tell its files from ours"
    base = tmp_path_factory.mktemp("pi")
    root = debian_root(base / "root")
    token = base / "token"
    token.write_text("the-kiosks-token\n")
    done = install(root, built_wheel, "--kiosk-id", "kiosk-main-1", "--backend-url",
                   "https://catalog.bib.example/", "--token-from", str(token))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return root, done


@pytest.mark.slow  # a venv from the lock file: about 40 s with pip's cache, minutes without
def test_the_installer_lays_out_a_kiosk_under_the_root_and_nowhere_else(installed) -> None:
    root, done = installed
    assert "Traceback" not in done.stdout + done.stderr
    assert not Path("/etc/kiosk").exists() and not Path("/opt/kiosk").exists()
    kiosk = account(root, "kiosk")
    uid, gid = int(kiosk[2]), int(kiosk[3])
    assert kiosk[5:] == ["/var/lib/kiosk", "/usr/sbin/nologin"] and 0 < uid < 1000
    groups = {line.split(":")[0] for line in (root / "etc/group").read_text().splitlines()
              if "kiosk" in line.split(":")[3].split(",")}
    assert {"video", "render", "input", "dialout", "plugdev", "gpio", "audio"} <= groups

    assert (root / "opt/kiosk/venv").readlink() == Path("releases/0.1.0")
    assert (root / "etc/systemd/system/kiosk.service").read_text() == \
        (ROOT / "systemd/kiosk.service").read_text()
    assert (root / "etc/systemd/system/multi-user.target.wants/kiosk.service").is_symlink()
    assert (root / "etc/systemd/system/default.target").readlink().name == "multi-user.target"
    assert (root / "etc/udev/rules.d/70-kiosk-devices.rules").exists()
    assert (root / "etc/polkit-1/rules.d/50-kiosk-pcscd.rules").exists()
    if (root / "lib/systemd/system/pcscd.socket").exists():
        assert (root / "etc/systemd/system/sockets.target.wants/pcscd.socket").is_symlink()

    config, token = root / "etc/kiosk/kiosk.toml", root / "etc/kiosk/api-token"
    assert (mode(root / "etc/kiosk"), (root / "etc/kiosk").stat().st_gid) == (0o750, gid)
    assert (mode(config), config.stat().st_uid, config.stat().st_gid) == (0o640, 0, gid)
    assert (mode(token), token.stat().st_uid) == (0o600, uid)
    assert token.read_text() == "the-kiosks-token\n"
    settings = tomllib.loads(config.read_text())
    assert settings["kiosk"]["id"] == "kiosk-main-1"
    assert settings["backend"]["url"] == "https://catalog.bib.example/"
    assert settings["backend"]["token_file"] == "/etc/kiosk/api-token"
    assert settings["ui"]["fullscreen"] is True
    data = root / "var/lib/kiosk"
    assert (mode(data), data.stat().st_uid) == (0o750, uid)

    assert (root / "boot/firmware/cmdline.txt").read_text() == \
        PI_CMDLINE.strip() + " consoleblank=0\n"
    assert "dtoverlay=vc4-kms-v3d" in (root / "boot/firmware/config.txt").read_text()


@pytest.mark.slow
def test_what_it_installed_verifies_checks_and_passes_the_doctor(installed) -> None:
    root, done = installed
    assert systemd_analyze_verify(root, "kiosk.service") == ""
    kiosk = root / "opt/kiosk/venv/bin/kiosk"
    checked = subprocess.run(
        [str(kiosk), "config", "check", str(root / "etc/kiosk/kiosk.toml")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "KIOSK__BACKEND__TOKEN_FILE": str(root / "etc/kiosk/api-token"),
             "KIOSK__KIOSK__DATA_DIR": str(root / "var/lib/kiosk")})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the doctor ran at the end: everything the installer does is green
    table = done.stdout[done.stdout.index("What the doctor finds"):]
    for row in ("board", "python packages", "pi modules", "user", "groups", "kiosk.service",
                "udev rules", "polkit rule (pcscd)", "config file", "data dir", "KMS display",
                "screen blanking"):
        line = next(line for line in table.splitlines() if line.startswith(row + " "))
        assert line.split()[len(row.split())] == "ok", line


@pytest.mark.slow
def test_a_second_run_keeps_a_technicians_edits_and_adds_nothing_twice(
        installed, built_wheel: Path) -> None:
    root, _ = installed
    config = root / "etc/kiosk/kiosk.toml"
    edited = config.read_text().replace('name = "Kiosk 1"', 'name = "By the door"')
    config.write_text(edited)
    again = install(root, built_wheel)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "release 0.1.0 already installed" in again.stdout
    assert "kiosk.toml: kept as it is" in again.stdout
    assert config.read_text() == edited
    assert (root / "etc/kiosk/api-token").read_text() == "the-kiosks-token\n"
    passwd = (root / "etc/passwd").read_text()
    assert passwd.count("\nkiosk:") + passwd.startswith("kiosk:") == 1
    assert (root / "boot/firmware/cmdline.txt").read_text().count("consoleblank=0") == 1
    assert (root / "boot/firmware/config.txt").read_text().count("vc4-kms-v3d") == 1


def test_a_missing_wheel_is_a_clear_error(tmp_path: Path) -> None:
    done = install(tmp_path, tmp_path / "no-such.whl")
    assert done.returncode == 1
    assert done.stderr.strip() == f"install-pi: no wheel at {tmp_path / 'no-such.whl'}"
