"""`kiosk install`: the steps of docs/raspberry-pi.md that put files in place, run from the
kiosk's own venv (scripts/install-pi.sh first installs the Debian packages and that venv).

Idempotent: each step compares before it writes and says what it did ("installed",
"already in place"), so running it again after an update, or after a failure half way, is the
way to repair an install. A technician's own edits survive: the config and the token file are
written only when absent (the token when one is given); units and rules are ours and are
brought back to what the release ships (local changes belong in drop-ins).

`--root DIR` writes everything under DIR instead of "/" (an SD card's mounted root, or a
throwaway folder in the tests): the user goes into DIR's /etc/passwd through
`systemd-sysusers --root`, units are enabled with `systemctl --root`, and nothing is started
or reloaded, since no system runs there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.appliance.layout import (
    CONFIG,
    CONFIG_DIR,
    DATA_DIR,
    SHIPPED_SYSTEM_FILES,
    SYSUSERS,
    TOKEN,
    Account,
    InstallLayout,
)
from kiosk.files import atomic_write
from kiosk.shipped_files import config_file, systemd_file

Say = Callable[[str], None]
Run = Callable[[Sequence[str]], None]


class InstallError(Exception):
    """A step could not be done; the message says which and why (no traceback for a
    technician)."""


@dataclass(frozen=True)
class Choices:
    kiosk_id: str = ""  # default: the machine's host name
    backend_url: str = ""  # default: the example's placeholder, to be edited
    token_from: Path | None = None  # a file holding the kiosk's API token


def run_command(argv: Sequence[str]) -> None:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InstallError(f"{argv[0]}: {exc}") from None
    if done.returncode != 0:
        raise InstallError(f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}")


def install(layout: InstallLayout, choices: Choices, say: Say = print,
            run: Run = run_command) -> Account:
    """Every step in order; raises InstallError at the first that fails."""
    if os.geteuid() != 0:
        raise InstallError("run as root (sudo): the install writes to /etc and /opt and "
                           "creates the kiosk user")
    root_flag = [] if layout.is_live else [f"--root={layout.root}"]
    _system_files(layout, say)
    run(["systemd-sysusers", *root_flag, str(layout.path(SYSUSERS))])
    user = layout.account()
    if user is None:
        raise InstallError(f"systemd-sysusers did not create the user {layout.user!r}")
    say(f"user {user.name} (uid {user.uid}) in {', '.join(sorted(layout.groups_of(user)))}")
    _directories(layout, user, say)
    _config(layout, user, choices, say)
    _enable(layout, root_flag, say, run)
    _boot(layout, say)
    return user


def _write_if_changed(path: Path, content: bytes, mode: int) -> bool:
    """Write atomically (a power cut leaves the old file or the new, never half) when the
    content differs; True when it wrote."""
    if path.exists() and path.read_bytes() == content:
        path.chmod(mode)
        return False
    atomic_write(path, content, mode=mode)
    return True


def _system_files(layout: InstallLayout, say: Say) -> None:
    for shipped, where in SHIPPED_SYSTEM_FILES.items():
        wrote = _write_if_changed(layout.path(where), systemd_file(shipped).read_bytes(), 0o644)
        say(f"{where}: {'installed' if wrote else 'already in place'}")


def _directories(layout: InstallLayout, user: Account, say: Say) -> None:
    config_dir = layout.path(CONFIG_DIR)
    config_dir.mkdir(parents=True, exist_ok=True)
    os.chown(config_dir, 0, user.gid)
    config_dir.chmod(0o750)
    data_dir = layout.path(DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chown(data_dir, user.uid, user.gid)
    data_dir.chmod(0o750)
    say(f"{CONFIG_DIR} (root:{user.name} 0750), {DATA_DIR} ({user.name} 0750)")


def skeleton_config(kiosk_id: str, backend_url: str) -> str:
    """The example config with this kiosk's id and address, the token read from its file,
    and the screen filled: a technician edits the rest (`kiosk config check` lists it)."""
    text = config_file("kiosk.example.toml").read_text(encoding="utf-8")
    replacements = {
        'id = "kiosk-1"': f'id = "{kiosk_id}"',
        'token_env = "KIOSK_API_TOKEN"': f'token_file = "{TOKEN}"',
        f'# token_file = "{TOKEN}"\n': "",
    }
    if backend_url:
        replacements['url = "https://catalog.example.org/"'] = f'url = "{backend_url}"'
    for old, new in replacements.items():
        if old not in text:
            raise InstallError(f"config/kiosk.example.toml no longer has {old.strip()!r}: "
                               "the installer and the example must change together")
        text = text.replace(old, new, 1)
    return text + "\n[ui]\nfullscreen = true\n"


def _host_name(layout: InstallLayout) -> str:
    hostname = layout.path("/etc/hostname")
    if not layout.is_live and hostname.exists():
        return hostname.read_text(encoding="utf-8").strip() or "kiosk-1"
    return socket.gethostname()


def _config(layout: InstallLayout, user: Account, choices: Choices, say: Say) -> None:
    config = layout.path(CONFIG)
    if config.exists():
        say(f"{CONFIG}: kept as it is (your edits stay)")
    else:
        text = skeleton_config(choices.kiosk_id or _host_name(layout), choices.backend_url)
        _write_if_changed(config, text.encode(), 0o640)
        say(f"{CONFIG}: written from the example (edit it, then: kiosk config check)")
    os.chown(config, 0, user.gid)
    token = layout.path(TOKEN)
    if choices.token_from is not None:
        try:
            secret = choices.token_from.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InstallError(f"cannot read the token from {choices.token_from}: "
                               f"{exc.strerror}") from None
        wrote = _write_if_changed(token, (secret + "\n").encode(), 0o600)
        say(f"{TOKEN}: {'the token given' if wrote else 'already holds that token'} (0600)")
    elif not token.exists():
        _write_if_changed(token, b"", 0o600)
        say(f"{TOKEN}: empty (0600): put the kiosk's token in it "
            "(kiosk-central add-kiosk prints it)")
    else:
        say(f"{TOKEN}: kept as it is")
    os.chown(token, user.uid, user.gid)
    token.chmod(0o600)


def _shipped_by_debian(layout: InstallLayout, unit: str) -> bool:
    return any(layout.path(f"{d}/{unit}").exists()
               for d in ("/lib/systemd/system", "/usr/lib/systemd/system"))


def _enable(layout: InstallLayout, root_flag: list[str], say: Say, run: Run) -> None:
    run(["systemctl", *root_flag, "enable", "kiosk.service"])
    say("kiosk.service enabled")
    if _shipped_by_debian(layout, "multi-user.target"):
        run(["systemctl", *root_flag, "set-default", "multi-user.target"])
        say("boots to the console (multi-user.target): no desktop under the kiosk")
    else:
        say("no multi-user.target here (not a systemd system): default target left alone")
    if _shipped_by_debian(layout, "pcscd.socket"):
        run(["systemctl", *root_flag, "enable", "pcscd.socket"])
        say("pcscd.socket enabled")
    else:
        say("pcscd is not installed here: card readers will not work until it is "
            "(apt install pcscd libccid)")
    if layout.is_live and Path("/run/systemd/system").is_dir():  # booted with systemd, not
        run(["systemctl", "daemon-reload"])                        # a chroot building an image
        if shutil.which("udevadm"):
            run(["udevadm", "control", "--reload"])
            run(["udevadm", "trigger"])


def _boot(layout: InstallLayout, say: Say) -> None:
    """The KMS display driver and no console blanking, on Raspberry Pi OS's boot partition."""
    boot = next((d for d in ("/boot/firmware", "/boot")
                 if layout.path(f"{d}/cmdline.txt").exists()), None)
    if boot is None:
        say("no /boot/firmware/cmdline.txt: not Raspberry Pi OS, boot settings left alone")
        return
    config_txt = layout.path(f"{boot}/config.txt")
    text = config_txt.read_text(encoding="utf-8") if config_txt.exists() else ""
    if "dtoverlay=vc4-kms-v3d" not in text:
        _write_if_changed(config_txt, (text.rstrip("\n") + "\n[all]\ndtoverlay=vc4-kms-v3d\n"
                                       ).lstrip("\n").encode(), 0o644)
        say(f"{boot}/config.txt: dtoverlay=vc4-kms-v3d added")
    cmdline = layout.path(f"{boot}/cmdline.txt")
    line = cmdline.read_text(encoding="utf-8").strip()
    if "consoleblank=0" not in line.split():
        _write_if_changed(cmdline, f"{line} consoleblank=0\n".encode(), 0o644)
        say(f"{boot}/cmdline.txt: consoleblank=0 added (the screen never blanks)")
    else:
        say(f"{boot}: KMS display and consoleblank=0 already set")
