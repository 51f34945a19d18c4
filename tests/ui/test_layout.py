"""Every screen, in every language and every display mode (normal, large text, high
contrast, both), fits 800×480 and 1024×600 both ways round, and 1920×1080: nothing cut off,
every row reachable, every touch target >= 48 dp, and a list that goes on shows it."""

from __future__ import annotations

import pytest
from gallery import VIEWS, in_language
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from ui_harness import Ui
from wcag import ratio

from kiosk.i18n import LANGUAGES
from kiosk.ui import probe
from kiosk.ui.focus import scroller_of
from kiosk.ui.widgets import BusyPill, KioskButton, KioskScroll, SelectableRow, StatusRow

pytestmark = pytest.mark.usefixtures("pinned_day")

SMALL = [(800, 480), (480, 800), (1024, 600), (600, 1024)]
BIG = [(1920, 1080), (1080, 1920)]
MODES = {"normal": (False, False), "large": (True, False), "contrast": (False, True),
         "large-contrast": (True, True)}
FITS_WITHOUT_SCROLLING = ("idle", "pin", "home", "receipt", "goodbye")
EPS = 1.0


def resize(size: tuple[int, int]) -> None:
    Window.size = size
    probe.pump_until(lambda: tuple(Window.size) == size, 3)


def box(w: Widget) -> tuple[float, float, float, float]:
    x0, y0 = w.to_window(w.x, w.y)
    x1, y1 = w.to_window(w.right, w.top)
    return x0, y0, x1, y1


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
        if sv is not None and isinstance(w, StatusRow | SelectableRow):
            _, by0, _, by1 = box(sv.children[0])  # the scrolled body: the row must lie in it
            if y0 < by0 - EPS or y1 > by1 + EPS:
                found.append(f"{name} lies outside its list: it cannot be scrolled to")
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


def scroll_problems(screen: object) -> list[str]:
    """A body taller than its window must show its track and thumb (WCAG 1.4.11: 3:1)."""
    sv = screen.scroll  # type: ignore[attr-defined]
    if not isinstance(sv, KioskScroll) or not sv.overflows():
        return []
    colours = [c.rgba for c in sv.canvas.after.children if hasattr(c, "rgba")]
    thumb = colours[-1] if colours else (0, 0, 0, 0)  # ours come after Kivy's own bar
    if thumb[3] < 1 or ratio(thumb, screen.ui.theme.bg) < 3:  # type: ignore[attr-defined]
        return [f"a list that scrolls does not show it (thumb {thumb})"]
    return []


@pytest.fixture
def window_sizes(ui: Ui):
    ui.board.attach(None)
    yield
    resize((1024, 600))
    ui.app.theme.large_text = False
    ui.app.theme.high_contrast = False
    ui.show(VIEWS["idle"])


CASES = [(size, mode) for size in SMALL for mode in MODES] + [(size, "normal") for size in BIG]


@pytest.mark.parametrize(("size", "mode"), CASES,
                         ids=[f"{w}x{h}-{mode}" for (w, h), mode in CASES])
def test_every_screen_fits(ui: Ui, window_sizes: None, size: tuple[int, int],
                           mode: str) -> None:
    resize(size)
    ui.app.theme.large_text, ui.app.theme.high_contrast = MODES[mode]
    languages = LANGUAGES if size in SMALL else ("de",)  # German is the longest
    failures = {}
    for language in languages:
        for name in VIEWS:
            ui.show(in_language(name, language))
            probe.pump(3)
            found = problems(ui)
            screen = ui.app.screens[ui.app.sm.current]
            found += scroll_problems(screen)
            if name in FITS_WITHOUT_SCROLLING and not ui.app.theme.large_text and (
                    screen.body.height > screen.scroll.height + EPS):
                found.append(f"{name} needs scrolling ({screen.body.height:.0f} > "
                             f"{screen.scroll.height:.0f})")
            if found:
                failures[f"{name}-{language}"] = found
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
