"""The cyclic garbage collector runs on the UI thread, between frames, and nowhere else.

Why: Kivy's kv rules bind each widget to what it shows (`app.theme.text` ...) through a weak
proxy, and unbind it from the proxy's callback once the widget dies. CPython runs a cyclic
collection in whichever thread happens to allocate at the time, and runs those callbacks in
that thread. When a kiosk worker thread collects a screen's old widgets, the proxies are
already dead while the callbacks that unbind them have not finished, and the UI thread, in the
middle of a theme change, calls a dead widget's rule: ReferenceError out of Kivy's loop, the
screen gone (seen in CI; `tests/ui/test_theme_collector.py` reproduces it).
Reference counting still frees almost everything at once; only cycles wait for the next tick.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from kivy.clock import Clock

# a young-generation pass each tick is cheap; the full pass is what costs a frame on a Pi
TICK_S = 0.5
FULL_EVERY_TICKS = 120  # one full pass a minute


def collect_between_frames() -> Callable[[], None]:
    """Turn automatic collection off and collect from the Kivy clock; returns the undo."""
    was_enabled = gc.isenabled()
    gc.disable()
    ticks = 0

    def tick(_dt: float) -> None:
        nonlocal ticks
        ticks += 1
        gc.collect(2 if ticks % FULL_EVERY_TICKS == 0 else 1)

    event = Clock.schedule_interval(tick, TICK_S)

    def undo() -> None:
        event.cancel()
        if was_enabled:
            gc.enable()

    return undo
