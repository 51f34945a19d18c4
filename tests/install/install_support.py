"""Helpers for the install tests: fresh venvs that cannot see the checkout."""

from __future__ import annotations

import os
import subprocess
import venv
from dataclasses import dataclass
from pathlib import Path

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
