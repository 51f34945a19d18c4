"""The UI loop feeds systemd's watchdog: while frames run, the heartbeat beats; a frozen UI
(no frames) stops it, and with it the WATCHDOG=1 pings."""

from __future__ import annotations

import time

from kiosk.ui import probe


def test_the_kivy_clock_beats_about_once_a_second(ui):
    start = ui.board.beats
    assert probe.pump_until(lambda: ui.board.beats >= start + 2, timeout=5.0, settle=0)
    frozen = ui.board.beats
    time.sleep(1.5)  # no frames: the UI thread is "hung"
    assert ui.board.beats == frozen
