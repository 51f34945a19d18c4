"""A worker thread's garbage collection must not take the screen down.

Kivy's kv rules bind every label to `app.theme` through a weak proxy and unbind it when the
label dies. When another thread runs the cyclic collector, a screen's discarded labels die
there while the UI thread is restyling every label for a theme change: without
`kiosk.ui.collector` that is a ReferenceError out of Kivy's loop (seen in CI when a patron left
and the kiosk switched high contrast back off). Here a thread makes cyclic garbage as fast as
it can, the way the kiosk core's threads do at a slower pace, while the screen changes."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from gallery import VIEWS
from ui_harness import Ui

from kiosk.ui import probe
from kiosk.ui.theme import HIGH_CONTRAST, NORMAL, Theme
from kiosk.ui.widgets import FitLabel


@pytest.fixture
def busy_thread(ui: Ui) -> Iterator[Theme]:
    """A thread allocating reference cycles, many more than the kiosk's threads do, which
    is what starts a collection in that thread."""
    done = threading.Event()

    def churn() -> None:
        while not done.is_set():
            for _ in range(100):
                cycle: list[object] = []
                cycle.append(cycle)
            done.wait(0.001)

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the interpreter between threads often, as a busy Pi does
    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    yield ui.app.theme
    done.set()
    thread.join(timeout=5)
    sys.setswitchinterval(switching)
    ui.app.theme.high_contrast = False
    ui.app.theme.large_text = False
    ui.show(VIEWS["idle"])


def _discarded_labels(count: int) -> None:
    """Labels styled by the kv rules, then dropped in a reference cycle: only the cyclic
    collector can free them, as happens to a screen's widgets once it is redrawn."""
    for _ in range(count):
        label = FitLabel(text="weg", tone="muted")
        label.keep_me = label  # the cycle


def test_contrast_changes_survive_another_threads_collections(ui: Ui, busy_thread: Theme) -> None:
    theme = busy_thread
    ui.show(VIEWS["borrow"])
    for turn in range(200):  # without the fix, the first ReferenceError came within ~10 turns
        _discarded_labels(3)
        theme.high_contrast = not theme.high_contrast
        if turn % 50 == 0:
            probe.pump(1)  # the collector's own tick runs between frames
    assert list(theme.text) == list(NORMAL["text"])  # an even number of turns: back to normal
    theme.high_contrast = True
    assert list(theme.text) == list(HIGH_CONTRAST["text"])


def test_a_patron_leaving_restores_the_library_defaults_while_threads_collect(
        ui: Ui, busy_thread: Theme) -> None:
    """The path CI saw: a patron turned high contrast and large text on, then left."""
    theme = busy_thread
    for _ in range(20):
        ui.show(VIEWS["account"])
        theme.high_contrast = True
        theme.large_text = True
        _discarded_labels(5)
        ui.show(VIEWS["idle"])
        assert not theme.high_contrast and not theme.large_text
        assert list(theme.text) == list(NORMAL["text"])
        assert list(theme.bg) == list(NORMAL["bg"])
