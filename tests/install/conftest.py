"""The kiosk as a release ships it: a wheel built from the tree, installed into fresh venvs,
never editable, run from a folder that is not the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Venv:
    path: Path

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def run(self, *args: str | Path, cwd: Path, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A command of this venv, with an environment that cannot reach the checkout."""
        clean = {k: v for k, v in os.environ.items()
                 if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DISPLAY", "WAYLAND_DISPLAY")}
        clean["PATH"] = f"{self.path / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
        clean.update(env or {})
        return subprocess.run([str(a) for a in args], cwd=cwd, env=clean, capture_output=True,
                              text=True, timeout=timeout)


def fresh_venv(where: Path) -> Venv:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return Venv(where)


def pip_install(env: Venv, *args: str | Path, cwd: Path) -> None:
    done = env.run(env.bin("python"), "-m", "pip", "install", "-q",
                   "--disable-pip-version-check", *args, cwd=cwd, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build`: an sdist from the tree, then the wheel from that sdist (as a release
    is made, so a file the sdist forgets is missing from the wheel too)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("library_kiosk-*.whl")
    return wheel
