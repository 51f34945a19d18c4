"""The headless screen tour (`kiosk demo` without a display) in its own process: the real demo
library, our own display, a screenshot per step and a transcript of what each screen said."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from pathlib import Path

import pytest
from kiosk import config
from kiosk.demo import embedded_library
from kiosk.ui import run_screen_tour
out = Path(sys.argv[1])
with embedded_library(out, config.load("config/demo.toml")) as (kiosk, proxy, _):
    sys.exit(run_screen_tour(kiosk, proxy, out))
"""


@pytest.mark.slow  # a whole demo library in another process: about 15 s
def test_screen_tour_writes_a_screenshot_and_the_screen_text_for_every_step(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "SDL_VIDEODRIVER")}
    env.update(KIVY_HOME=str(tmp_path / "kivy"), KIVY_LOG_MODE="PYTHON", KIVY_NO_ARGS="1",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "out")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out"
    shots = sorted(p.name for p in out.glob("*.png"))
    assert shots[0] == "01-idle.png" and len(shots) == 16
    transcript = (out / "ui-transcript.txt").read_text(encoding="utf-8")
    assert "!!" not in transcript  # no step failed
    for said in (
        "Leg uw bibliotheekkaart op de lezer of scan ze.",
        "Niet geleend: gereserveerd voor een andere lezer — breng het naar de balie.",
        "We werken offline — uw uitleningen zijn bewaard en worden later doorgestuurd.",
        "Emprunter",
        "Iemand heeft dit gereserveerd: leg het op de reserveringsplank.",
        "Comment ça s'est passé ?",  # the goodbye screen's faces, in her language
        "Niet verlengd:",
    ):
        assert said in transcript
