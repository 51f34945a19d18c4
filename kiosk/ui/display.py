"""A display for the UI where there is no screen: our own Xvfb, or SDL's offscreen driver.

Why: the scripted demo tour (`make demo` on a machine without a display), the benchmarks and
the tests all open a real Kivy window. With Xvfb installed we start one on a free display
number (no TCP listener) and stop it afterwards; without it, `SDL_VIDEODRIVER=offscreen`
still renders with OpenGL. This module never imports Kivy: call it first.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


class DisplayError(RuntimeError):
    """No display could be started."""


class HeadlessDisplay:
    """Context manager; sets DISPLAY (or the offscreen driver) in os.environ for Kivy."""

    def __init__(self, size: tuple[int, int] = (2000, 2000)) -> None:
        self.size = size
        self.proc: subprocess.Popen[bytes] | None = None
        self.mode = ""

    def start(self) -> HeadlessDisplay:
        if os.environ.get("DISPLAY") or os.environ.get("SDL_VIDEODRIVER") == "offscreen":
            self.mode = "existing"
            return self
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            os.environ["SDL_VIDEODRIVER"] = "offscreen"
            os.environ["KIVY_WINDOW"] = "sdl2"
            self.mode = "offscreen"
            log.info("no Xvfb: rendering with SDL's offscreen driver")
            return self
        n = free_display_number()
        w, h = self.size
        self.proc = subprocess.Popen(
            [xvfb, f":{n}", "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DisplayError(f"Xvfb did not start on :{n}")
            time.sleep(0.02)
        os.environ["DISPLAY"] = f":{n}"
        self.mode = f"Xvfb :{n}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> HeadlessDisplay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_display_number(first: int = 90, last: int = 199) -> int:
    for n in range(first, last + 1):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise DisplayError(f"no free X display number between :{first} and :{last}")
