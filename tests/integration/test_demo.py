"""The README's first command without a screen: `kiosk demo` tells a patron's story, including
an outage, and the library system ends up with every loan exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # the terminal tour plus the screen tour: about 25 s
def test_demo_without_a_display_plays_the_tour_and_writes_its_outputs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # `make demo` installs no test tools: make sure the demo does not lean on them
    blocker = tmp_path / "no-test-tools" / "pytest"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pytest is not in the demo install')")
    env.update(KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_ARGS="1",
               PYTHONPATH=os.pathsep.join([str(blocker.parent), str(ROOT)]))
    out = tmp_path / "demo-output"
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "demo", "--config", str(ROOT / "config/demo.toml"),
         "--output", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    story = done.stdout
    assert "No display found" in story
    assert story.count("borrowed OFFLINE") == 2
    assert "queue empty: True" in story
    assert "All five loans reached the library exactly once." in story
    assert "Traceback" not in story + done.stderr
    assert (out / "transcript.txt").read_text(encoding="utf-8").strip().endswith(
        "All five loans reached the library exactly once.")
    assert len(list(out.glob("[0-9][0-9]-*.png"))) == 16
    assert "!!" not in (out / "ui-transcript.txt").read_text(encoding="utf-8")  # no step failed
    assert "ERROR" not in (out / "kiosk.log").read_text(encoding="utf-8")
