"""Cold start of the touchscreen UI: process start -> idle screen drawn, and RSS at idle.

Runs the UI in a fresh subprocess (nothing cached in this interpreter) on a headless display
(our own Xvfb, or SDL offscreen), five times; reports the median. Targets: < 3 s, < 200 MB.
The display server is started once beforehand and not counted: on the Pi it is the kernel.

    .venv/bin/python bench/ui_startup.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

CHILD = r"""
import queue, sys, time
T0 = float(sys.argv[1])
from kiosk.ui import env
from kiosk.ui.context import UiConfig, UiContext
config = UiConfig(library_name="Bibliotheek Demo", window_size=(1024, 600),
                  opening_hours={"mon": "10:00-19:00", "sat": "10:00-16:00"})
env.configure(config)
from kiosk.session import SessionView
from kiosk.ui.app import KioskApp
from kivy.clock import Clock

def subscribe(listener):
    listener(SessionView())  # the session's first view: the idle screen

app = KioskApp(UiContext(events=queue.Queue(), subscribe=subscribe, config=config))
state = {"drawn": None}

def measure(_dt):
    rss_kb = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    print(f"RESULT {state['drawn']:.4f} {rss_kb / 1024:.1f}", flush=True)
    app.stop()

def on_frame():
    if app.applied_views and state["drawn"] is None:
        state["drawn"] = time.time() - T0
        Clock.schedule_once(measure, 1.0)  # a second of idling, then measure memory

app.frame_listeners.append(on_frame)
app.run()
"""


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from kiosk.ui.display import HeadlessDisplay

    startups, rss = [], []
    with HeadlessDisplay(), tempfile.TemporaryDirectory() as kivy_home:
        env = {**os.environ, "KIVY_HOME": kivy_home, "KIVY_LOG_MODE": "PYTHON",
               "KIVY_NO_ARGS": "1", "PYTHONPATH": str(ROOT)}
        for n in range(RUNS):
            t0 = time.time()
            out = subprocess.run([sys.executable, "-c", CHILD, repr(t0)], env=env, cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
            if line is None:
                print(out.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"run {n + 1}: the UI did not reach the idle screen")
            _, seconds, mb = line.split()
            startups.append(float(seconds))
            rss.append(float(mb))
            print(f"run {n + 1}: idle screen drawn after {float(seconds):.2f} s, "
                  f"RSS {float(mb):.0f} MB")
    result = {"startup_s": round(statistics.median(startups), 3),
              "rss_mb": round(statistics.median(rss), 1),
              "startup_max_s": round(max(startups), 3),
              "first_run_s": round(startups[0], 3), "runs": RUNS,
              "targets": {"startup_s": 3.0, "rss_mb": 200.0}}
    print(f"median start {result['startup_s']} s (target < 3 s), "
          f"RSS {result['rss_mb']} MB (target < 200 MB)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
