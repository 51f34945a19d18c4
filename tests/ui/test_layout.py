"""Every screen fits 800×480, 1024×600 and 1920×1080, landscape and portrait, in the longest
language (German), in normal and large text: nothing cut off, every touch target >= 48 dp."""

from __future__ import annotations

import pytest
from gallery import VIEWS, in_language
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget
from ui_harness import Ui

from kiosk.ui import probe
from kiosk.ui.widgets import BusyPill, KioskButton, SelectableRow

SIZES = [(800, 480), (1024, 600), (1920, 1080)]
ORIENTED = [*SIZES, *[(h, w) for w, h in SIZES]]
FITS_WITHOUT_SCROLLING = ("idle", "pin", "home", "receipt", "goodbye")
EPS = 1.0


def resize(size: tuple[int, int]) -> None:
    Window.size = size
    probe.pump_until(lambda: tuple(Window.size) == size, 3)


def box(w: Widget) -> tuple[float, float, float, float]:
    x0, y0 = w.to_window(w.x, w.y)
    x1, y1 = w.to_window(w.right, w.top)
    return x0, y0, x1, y1


def scroller_of(w: Widget) -> ScrollView | None:
    p = w.parent
    while p is not None and p is not p.parent:
        if isinstance(p, ScrollView):
            return p
        p = p.parent
    return None


def problems(ui: Ui) -> list[str]:
    W, H = Window.size
    found = []
    for w in probe.on_screen(ui.app):
        if w.opacity == 0 or w.width <= 0 or w.height <= 0 or isinstance(w, BusyPill):
            continue
        name = f"{type(w).__name__}({getattr(w, 'text', '')[:30]!r})"
        x0, y0, x1, y1 = box(w)
        sv = scroller_of(w)
        if sv is None:
            if x0 < -EPS or y0 < -EPS or x1 > W + EPS or y1 > H + EPS:
                found.append(f"{name} outside the window: {(x0, y0, x1, y1)}")
        else:  # inside a scrolling list: may scroll vertically, never be cut sideways
            sx0, _, sx1, _ = box(sv)
            if x0 < sx0 - EPS or x1 > sx1 + EPS:
                found.append(f"{name} cut off sideways in its list")
        if isinstance(w, KioskButton | SelectableRow) and (
                w.width < dp(48) - EPS or w.height < dp(48) - EPS):
            found.append(f"{name} is a touch target of {w.width:.0f}×{w.height:.0f}")
        if isinstance(w, Label) and w.text and not w.shorten:
            w.texture_update()
            tw, th = w.texture_size
            if tw > w.width + EPS:
                found.append(f"{name} text wider than its label ({tw:.0f} > {w.width:.0f})")
            if isinstance(w, KioskButton) and th > w.height + EPS:
                found.append(f"{name} text taller than its button ({th:.0f} > {w.height:.0f})")
    return found


@pytest.fixture
def window_sizes(ui: Ui):
    ui.board.attach(None)
    yield
    resize((1024, 600))
    ui.app.theme.large_text = False
    ui.show(VIEWS["idle"])


# large text matters most where room is short: the small panels, both ways round
CASES = [(size, False) for size in ORIENTED] + [
    (size, True) for size in ((800, 480), (480, 800), (1024, 600), (600, 1024))]


@pytest.mark.parametrize(("size", "large_text"), CASES,
                         ids=[f"{w}x{h}-{'large' if big else 'normal'}-text"
                              for (w, h), big in CASES])
def test_every_screen_fits(ui: Ui, window_sizes: None, size: tuple[int, int],
                           large_text: bool) -> None:
    resize(size)
    ui.app.theme.large_text = large_text
    failures = {}
    for name in VIEWS:
        ui.show(in_language(name, "de"))
        probe.pump(3)
        found = problems(ui)
        screen = ui.app.screens[ui.app.sm.current]
        if name in FITS_WITHOUT_SCROLLING and not large_text and (
                screen.body.height > screen.scroll.height + EPS):
            found.append(f"{name} needs scrolling ({screen.body.height:.0f} > "
                         f"{screen.scroll.height:.0f})")
        if found:
            failures[name] = found
    assert failures == {}


def test_the_checker_catches_a_cut_off_button(ui: Ui, window_sizes: None) -> None:
    """The layout check itself must be able to fail."""
    resize((800, 480))
    ui.show(in_language("home", "de"))
    bad = KioskButton(text="Ausleihen", size_hint=(None, None), size=(30, 200), pos=(790, 10))
    ui.app.root_layout.add_widget(bad)
    try:
        probe.pump(2)
        found = problems(ui)
    finally:
        ui.app.root_layout.remove_widget(bad)
    assert any("outside the window" in f for f in found)
    assert any("touch target of 30×200" in f for f in found)
