"""Text contrast >= 4.5:1 everywhere (EN 301 549 9.1.4.3 / WCAG 1.4.3), disabled buttons
included, in both themes: every label and button of every gallery screen is read from the real
window, with the colour it is drawn in and the colour it is drawn on (its own background, the
row, banner or pill around it, else the screen's)."""

from __future__ import annotations

import pytest
from gallery import VIEWS, in_language
from kivy.uix.label import Label
from ui_harness import Ui
from wcag import ratio

from kiosk.ui import probe
from kiosk.ui.widgets import Banner, BusyPill, KioskButton, SelectableRow, StatusRow

pytestmark = pytest.mark.usefixtures("pinned_day")

MINIMUM = 4.5


def blend(front, back, alpha: float):  # type: ignore[no-untyped-def]
    return [f * alpha + b * (1 - alpha) for f, b in zip(front[:3], back[:3], strict=True)]


def ground(widget, theme):  # type: ignore[no-untyped-def]
    """The colour behind `widget`'s text."""
    if isinstance(widget, KioskButton):
        return widget.background_color
    parent = widget.parent
    for _ in range(50):  # the window is its own parent: stop at it
        if parent is None:
            break
        if isinstance(parent, SelectableRow):
            return theme.selected if parent.selected else theme.panel
        if isinstance(parent, StatusRow):
            return theme.panel
        if isinstance(parent, Banner):
            return theme.banner
        if isinstance(parent, BusyPill):
            return theme.primary
        parent = parent.parent
    return theme.bg


def lowest(ui: Ui) -> tuple[float, str]:
    theme = ui.app.theme
    worst = (99.0, "")
    for w in probe.on_screen(ui.app):
        if not isinstance(w, Label) or not w.text.strip() or w.opacity <= 0:
            continue
        colour = w.disabled_color if w.disabled else w.color
        behind = ground(w, theme)
        if w.opacity < 1:  # a faded widget: text and its ground both mixed with the screen
            colour, behind = (blend(c, theme.bg, w.opacity) for c in (colour, behind))
        found = ratio(colour, behind)
        if found < worst[0]:
            worst = (found, f"{type(w).__name__} {w.text[:40]!r}{' (disabled)' * w.disabled}")
    return worst


@pytest.mark.parametrize("high_contrast", [False, True], ids=["normal", "high-contrast"])
def test_every_text_on_every_screen_has_enough_contrast(ui: Ui, high_contrast: bool) -> None:
    ui.board.attach(None)
    ui.app.theme.high_contrast = high_contrast
    try:
        found = {}
        for name in VIEWS:
            ui.show(in_language(name, "de"))
            probe.pump(2)
            found[name] = lowest(ui)
        disabled = [b for b in probe.everywhere(ui.app)
                    if isinstance(b, KioskButton) and b.disabled]
    finally:
        ui.app.theme.high_contrast = False
    too_low = {name: f for name, f in found.items() if f[0] < MINIMUM}
    assert too_low == {}
    assert disabled, "the account gallery has a disabled button: it must be measured too"
    print({name: round(f[0], 2) for name, f in found.items()})  # the figures, with -s
