"""The kiosk as a release ships it: a wheel built from the tree, installed into fresh venvs,
never editable, run from a folder that is not the checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from install_support import ROOT


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
