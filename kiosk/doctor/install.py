"""`kiosk doctor --install`: the Raspberry Pi install of docs/raspberry-pi.md, row by row (the
user, groups, units, udev and polkit rules, packages, screen settings). On a machine that is
not set up that way (a laptop, CI) it says what is missing."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

from kiosk.appliance.layout import (
    POLKIT_RULE,
    UDEV_RULES,
    UNIT,
    Account,
    InstallLayout,
)
from kiosk.doctor.python_env import package_owners_row, pi_modules_row
from kiosk.doctor.table import GUIDE, Level, Row

log = logging.getLogger(__name__)

# ---- the Raspberry Pi install (docs/raspberry-pi.md, scripts/install-pi.sh) -----------------

REINSTALL = "sudo /opt/kiosk/venv/bin/kiosk install (or scripts/install-pi.sh)"


def check_install(config_path: str, layout: InstallLayout | None = None,
                  dpkg: Callable[[str], bool] | None = None) -> list[Row]:
    """The guide's install, step by step: board, user and groups, unit and rules, config,
    data directory, packages, boot settings."""
    lay = layout or InstallLayout()
    user = lay.account()
    board = _board_row(lay)
    rows = [board, package_owners_row(), pi_modules_row(board.level is Level.OK),
            *_user_rows(lay, user), *_file_rows(lay)]
    rows.append(_config_readable_row(lay.path(config_path) if lay.root != Path("/")
                                     else Path(config_path), user))
    rows.append(_data_dir_row(lay, user))
    have = dpkg or (_dpkg_installed if lay.is_live else _dpkg_status_reader(lay))
    missing_pkgs = [p for p in lay.packages if not have(p)]
    rows.append(Row("Debian packages", Level.FAIL if missing_pkgs else Level.OK,
                    f"missing: {', '.join(missing_pkgs)}" if missing_pkgs else "all present",
                    f"sudo apt install {' '.join(missing_pkgs)}" if missing_pkgs else ""))
    rows += _boot_rows(lay)
    return rows


def _board_row(lay: InstallLayout) -> Row:
    model_file = lay.path("/proc/device-tree/model")
    model = model_file.read_text(errors="replace").strip("\0\n ") if model_file.exists() else ""
    if "Raspberry Pi" in model:
        return Row("board", Level.OK, model)
    return Row("board", Level.WARN, "not a Raspberry Pi: hardware checks below will show what "
               "is missing here", "run kiosk doctor --install on the Pi")


def _user_rows(lay: InstallLayout, user: Account | None) -> list[Row]:
    if user is None:
        return [Row("user", Level.FAIL, f"no user {lay.user!r}", REINSTALL)]
    rows = [Row("user", Level.OK, f"{lay.user} (uid {user.uid})")]
    member_of = lay.groups_of(user)
    missing = [g for g in lay.groups if g not in member_of]
    absent = [g for g in missing if lay.group_id(g) is None]
    if missing:
        rows.append(Row("groups", Level.FAIL, f"{lay.user} is not in: {', '.join(missing)}"
                        + (f" (no such group: {', '.join(absent)})" if absent else ""),
                        f"sudo usermod -aG {','.join(missing)} {lay.user}"))
    else:
        rows.append(Row("groups", Level.OK, ", ".join(lay.groups)))
    return rows


def _file_rows(lay: InstallLayout) -> list[Row]:
    """The unit, enabled, and the udev and polkit rules in place."""
    rows = []
    unit = Path(UNIT).name
    installed = lay.path(UNIT)
    enabled = lay.path(f"/etc/systemd/system/multi-user.target.wants/{unit}")
    if not installed.exists():
        rows.append(Row(unit, Level.FAIL, f"not installed in {Path(UNIT).parent}", REINSTALL))
    elif not enabled.is_symlink() and not enabled.exists():  # a link into the root's /etc
        rows.append(Row(unit, Level.FAIL, "installed but not enabled",
                        f"sudo systemctl enable {unit}"))
    else:
        rows.append(Row(unit, Level.OK, "installed and enabled"))
    for name, where in (("udev rules", UDEV_RULES), ("polkit rule (pcscd)", POLKIT_RULE)):
        present = lay.path(where).exists()
        rows.append(Row(name, Level.OK if present else Level.FAIL,
                        f"{where} {'present' if present else 'missing'}",
                        "" if present else REINSTALL))
    return rows


def _data_dir_row(lay: InstallLayout, user: Account | None) -> Row:
    data_dir = lay.path("/var/lib/kiosk")
    if not data_dir.is_dir():
        return Row("data dir", Level.FAIL, f"{data_dir} missing",
                   "it is created by the unit (StateDirectory=kiosk) on first start")
    if user is not None and data_dir.stat().st_uid != user.uid:
        return Row("data dir", Level.FAIL, f"{data_dir} is not owned by {lay.user}",
                   f"sudo chown -R {lay.user}:{lay.user} {data_dir}")
    return Row("data dir", Level.OK, f"{data_dir} present")


def _dpkg_status_reader(lay: InstallLayout) -> Callable[[str], bool]:
    """Installed packages from the root's own dpkg database (a root is not this machine)."""
    try:
        text = lay.path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    installed = set()
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line)
        if fields.get("Status") == "install ok installed":
            installed.add(fields.get("Package", ""))
    return installed.__contains__


def _dpkg_installed(package: str) -> bool:
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "install ok installed" in done.stdout


def _config_readable_row(path: Path, user: Account | None) -> Row:
    if not path.exists():
        return Row("config file", Level.FAIL, f"{path} missing", REINSTALL)
    info = path.stat()
    if info.st_mode & 0o002:
        return Row("config file", Level.FAIL, f"{path} is writable by everyone",
                   f"sudo chmod 0640 {path}")
    if user is not None:
        readable = (info.st_uid == user.uid and info.st_mode & 0o400) or \
            (info.st_gid == user.gid and info.st_mode & 0o040) or info.st_mode & 0o004
        if not readable:
            return Row("config file", Level.FAIL, f"{user.name} cannot read {path}",
                       f"sudo chgrp {user.name} {path} && sudo chmod 0640 {path}")
    return Row("config file", Level.OK, f"{path} readable by the kiosk")


def _boot_rows(lay: InstallLayout) -> list[Row]:
    rows = []
    config_txt = next((p for p in (lay.path("/boot/firmware/config.txt"),
                                   lay.path("/boot/config.txt")) if p.exists()), None)
    cmdline = next((p for p in (lay.path("/boot/firmware/cmdline.txt"),
                                lay.path("/boot/cmdline.txt")) if p.exists()), None)
    if config_txt is None:
        rows.append(Row("KMS display", Level.FAIL, "no /boot/firmware/config.txt (not Raspberry "
                        "Pi OS?)", f"{GUIDE}, step 2"))
    elif "vc4-kms-v3d" in config_txt.read_text(errors="replace"):
        rows.append(Row("KMS display", Level.OK, "dtoverlay=vc4-kms-v3d"))
    else:
        rows.append(Row("KMS display", Level.FAIL, "the KMS driver is not enabled",
                        f"add dtoverlay=vc4-kms-v3d to {config_txt}"))
    if cmdline is None:
        rows.append(Row("screen blanking", Level.FAIL, "no cmdline.txt found", f"{GUIDE}, step 2"))
    elif "consoleblank=0" in cmdline.read_text(errors="replace"):
        rows.append(Row("screen blanking", Level.OK, "consoleblank=0"))
    else:
        rows.append(Row("screen blanking", Level.FAIL, "the console blanks after 10 minutes",
                        f"append consoleblank=0 to the single line in {cmdline}"))
    return rows


