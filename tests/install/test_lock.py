"""The kiosks' lock file (requirements/kiosk-pi.txt, `make lock`) pins what pyproject.toml asks
of a Pi, with a hash for every file: a forgotten `make lock` after a change of dependencies,
or a hand edit, fails here rather than on a kiosk."""

from __future__ import annotations

import re
import tomllib

from install_support import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = ROOT / "requirements" / "kiosk-pi.txt"
# what the lock is for: Raspberry Pi OS Bookworm's Python on a 64-bit Pi
PI = {"python_version": "3.11", "python_full_version": "3.11.2", "platform_machine": "aarch64",
      "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
      "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), from the lock's `name==version \\` blocks."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if pin := re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line):
            name = canonicalize_name(pin[1])
            pins[name] = (pin[2], [])
        elif digest := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line):
            pins[name][1].append(digest[1])
    return pins


def pi_requirements() -> list[Requirement]:
    """The core dependencies and the `pi` extra, with the extras it names, followed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted, seen, todo = [Requirement(r) for r in project["dependencies"]], set(), ["pi"]
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for raw in extras[extra]:
            req = Requirement(raw)
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                todo += [e for e in req.extras if e not in seen]
            else:
                wanted.append(req)
    return [r for r in wanted if r.marker is None or r.marker.evaluate({**PI, "extra": ""})]


def test_the_lock_pins_every_pi_requirement_within_its_range() -> None:
    pins = locked()
    names = {canonicalize_name(r.name) for r in pi_requirements()}
    assert {"kivy", "pyscard", "lgpio", "evdev", "pyusb", "systemd-python", "gpiozero"} <= names
    outside = {r.name: pins.get(canonicalize_name(r.name), ("(not locked)",))[0]
               for r in pi_requirements()
               if canonicalize_name(r.name) not in pins
               or not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)}
    assert outside == {}


def test_every_locked_package_has_hashes_and_no_web_framework_is_locked() -> None:
    pins = locked()
    assert len(pins) > 20
    assert [name for name, (_v, hashes) in pins.items() if not hashes] == []
    assert not {"fastapi", "uvicorn", "starlette"} & set(pins)
    assert "library-kiosk" not in pins  # the wheel itself goes in after, with --no-deps
