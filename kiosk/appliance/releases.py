"""Releases side by side: each version of the kiosk in a venv of its own,
/opt/kiosk/releases/<version>, filled from the lock file inside that version's wheel; the
link /opt/kiosk/venv names the one that runs (the unit starts /opt/kiosk/venv/bin/kiosk).

Why side by side: an update never changes the files of the version that is running, so going
back is one rename of a link, not a reinstall that could fail in turn. Why the lock file from
the wheel: the versions a release was tested with travel with it, every file's hash checked.

Standard library only: scripts/install-pi.sh runs this module with the system's python3
before any venv exists (`python3 -m kiosk.appliance.releases install WHEEL`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import venv
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.appliance.layout import APP_DIR, InstallLayout

LOCK_IN_WHEEL = "kiosk/shipped/requirements/kiosk-pi.txt"
MARK = ".installed"  # holds the wheel's content digest once a release is complete

Say = Callable[[str], None]


class ReleaseError(Exception):
    """A release could not be installed or switched to; the message says why."""


def wheel_version(wheel: Path) -> str:
    parts = wheel.name.split("-")
    if len(parts) < 5 or not wheel.name.endswith(".whl"):
        raise ReleaseError(f"{wheel.name} is not a wheel's file name")
    return parts[1]


def content_digest(wheel: Path) -> str:
    """What the wheel installs, not how it was zipped: the sorted lines of its RECORD (each
    file with its own sha256). The same tree built twice gives the same digest, so running
    the installer again from one checkout is a repair, not a new release."""
    try:
        with zipfile.ZipFile(wheel) as z:
            (record,) = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")]
            lines = sorted(z.read(record).decode("utf-8").splitlines())
    except (ValueError, KeyError, zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"{wheel} is not a readable wheel: {exc}") from None
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _pip(python: Path, *args: str | Path) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *map(str, args)],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise ReleaseError(f"pip install {' '.join(map(str, args))} failed:\n"
                           f"{(done.stderr or done.stdout)[-2000:]}")


@dataclass(frozen=True)
class Releases:
    layout: InstallLayout

    @property
    def home(self) -> Path:
        return self.layout.path(APP_DIR)

    def path(self, version: str) -> Path:
        return self.home / "releases" / version

    def current(self) -> str | None:
        """The version /opt/kiosk/venv names, or None before the first install."""
        link = self.home / "venv"
        if not link.is_symlink():
            return None
        return Path(os.readlink(link)).name

    def installed(self) -> list[str]:
        found = self.home / "releases"
        return sorted(p.name for p in found.iterdir() if (p / MARK).exists()) \
            if found.is_dir() else []

    def install(self, wheel: Path, say: Say = print) -> str:
        """The wheel's release, complete; nothing done when it already is (same wheel)."""
        if not wheel.is_file():
            raise ReleaseError(f"no wheel at {wheel}")
        version = wheel_version(wheel)
        target, digest = self.path(version), content_digest(wheel)
        mark = target / MARK
        if mark.exists() and mark.read_text().strip() == digest:
            say(f"release {version} already installed in {target}")
            return version
        if version == self.current() and mark.exists():
            raise ReleaseError(f"release {version} is the one running, with other contents: "
                               "give the new build a new version")
        say(f"release {version} into {target} (from its lock file; pyscard, evdev and "
            "systemd-python build here)")
        try:
            with zipfile.ZipFile(wheel) as z:
                lock = z.read(LOCK_IN_WHEEL)
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            raise ReleaseError(f"{wheel} holds no lock file ({LOCK_IN_WHEEL}): {exc}") from None
        python = target / "bin" / "python"
        if not python.exists():
            venv.EnvBuilder(with_pip=True).create(target)
        with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
            f.write(lock)
            f.flush()
            _pip(python, "--require-hashes", "-r", f.name)
        _pip(python, "--no-deps", "--force-reinstall", wheel)
        mark.write_text(digest + "\n")
        return version

    def switch(self, version: str) -> None:
        """Point /opt/kiosk/venv at `version` in one rename: whoever starts the kiosk sees
        the old release or the new, never a missing or half-made link."""
        if not (self.path(version) / MARK).exists():
            raise ReleaseError(f"release {version} is not installed")
        staged = self.home / "venv.next"
        staged.unlink(missing_ok=True)
        staged.symlink_to(Path("releases") / version)
        os.replace(staged, self.home / "venv")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m kiosk.appliance.releases")
    parser.add_argument("command", choices=["install"])
    parser.add_argument("wheel")
    parser.add_argument("--root", default="/")
    args = parser.parse_args(argv)
    releases = Releases(InstallLayout(root=Path(args.root)))
    try:
        version = releases.install(Path(args.wheel), say=lambda line: print(f"== {line}"))
        releases.switch(version)
    except ReleaseError as exc:
        print(f"install-pi: {exc}", file=sys.stderr)
        return 1
    print(f"== /opt/kiosk/venv -> releases/{version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
