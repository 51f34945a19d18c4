"""The focus ring: which button the patron's keys act on, drawn so that it is seen at once.

Why our own and not Kivy's FocusBehavior: Kivy's focus is for text inputs and a keyboard's
Tab order, set up widget by widget. A kiosk's screens are rebuilt from each view, so the
ring is worked out from what is on screen now: the buttons and rows of the top layer (an
overlay when one is open, else the screen, then the language buttons), in reading order.

The ring is two lines, a dark one outside a light one (dp 4 + 3), so it shows on every
colour either theme draws (WCAG 2.4.7 / 2.4.13). It is hidden until a key is used: a
patron who touches the screen sees no ring.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from babel import Locale
from kivy.graphics import Color, InstructionGroup, Line
from kivy.metrics import dp
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.ui.widgets import KioskButton, SelectableRow

if TYPE_CHECKING:
    from kiosk.ui.app import KioskApp

# what "back" presses, where a screen or overlay has one
BACK_ACTIONS = ("back", "pin-cancel", "technician-cancel", "still-here")
OUTER, INNER = dp(4), dp(3)


def walk(widget: Widget) -> Iterator[Widget]:
    """`widget` and everything under it (the tests' and the tour's probe walks with it too)."""
    yield widget
    for child in list(widget.children):
        yield from walk(child)


def scroller_of(widget: Widget) -> ScrollView | None:
    """The scrolling list `widget` sits in, if any."""
    p = widget.parent
    while p is not None and p is not p.parent:  # the Window is its own parent
        if isinstance(p, ScrollView):
            return p
        p = p.parent
    return None


def _focusable(widget: Widget) -> bool:
    return (isinstance(widget, KioskButton | SelectableRow) and not widget.disabled
            and widget.opacity > 0 and widget.width > 0 and widget.height > 0)


def reading_order(widgets: list[Widget]) -> list[Widget]:
    """Top to bottom, then left to right, as the screen is read (window coordinates)."""
    def key(w: Widget) -> tuple[float, float]:
        x, top = w.to_window(w.x, w.top)
        return (-round(top / dp(8)), x)
    return sorted(widgets, key=key)


class FocusRing:
    """Holds the focused widget of the app's top layer and draws the ring around it."""

    def __init__(self, app: KioskApp) -> None:
        self.app = app
        self.shown = False  # a key was used since the last patron left
        self.dirty = False  # a new view was drawn: check the focus on the next frame
        self._drawn: tuple[object, ...] = ()
        self.focused: Widget | None = None
        self._layer: Widget | None = None
        self._group = InstructionGroup()
        self._outer_colour = Color(0, 0, 0, 0)
        self._outer = Line(width=OUTER)
        self._inner_colour = Color(0, 0, 0, 0)
        self._inner = Line(width=INNER)
        for instruction in (self._outer_colour, self._outer, self._inner_colour, self._inner):
            self._group.add(instruction)
        app.root_layout.canvas.after.add(self._group)

    # ---- what can have the focus ------------------------------------------------------------

    def layer(self) -> Widget:
        """An open overlay takes every key; otherwise the current screen."""
        app = self.app
        for overlay in (app.technician_overlay, app.timeout_overlay):
            if overlay is not None and overlay.parent is not None:
                return overlay
        return app.screens[app.sm.current]

    def targets(self) -> list[Widget]:
        layer = self.layer()
        found = reading_order([w for w in walk(layer) if _focusable(w)])
        if layer is self.app.screens.get(self.app.sm.current):
            found += [b for b in self.app.language_buttons.values() if _focusable(b)]
        return found

    def default(self, targets: list[Widget]) -> Widget | None:
        """A new screen opens on its main action (the first enabled primary button)."""
        languages = set(self.app.language_buttons.values())  # the chosen one is "primary" too
        main = (w for w in targets if isinstance(w, KioskButton) and w.kind == "primary"
                and w not in languages)
        return next(main, targets[0] if targets else None)

    def refresh(self) -> None:
        """After each drawn view: keep the focus where it was if that is still on screen."""
        targets = self.targets()
        layer = self.layer()
        if self.focused not in targets or layer is not self._layer:
            self.focused = self.default(targets)
        self._layer = layer
        self.draw()

    # ---- keys -------------------------------------------------------------------------------

    def move(self, step: int) -> Widget | None:
        """The next or previous target; the first key of a visit only shows where the focus
        is (the screen's main action), so that no press goes to a place not yet seen."""
        targets = self.targets()
        if not self.shown:
            self.shown = True
            self.refresh()
            return self.focused
        if not targets:
            self.focused = None
        elif self.focused not in targets:
            self.focused = self.default(targets)
        else:
            at = targets.index(self.focused)
            self.focused = targets[(at + step) % len(targets)]
        self._bring_into_view()
        self.draw()
        return self.focused

    def select(self) -> Widget | None:
        """Press the focused widget as a finger would (its on_press and on_release)."""
        self.shown = True
        target = self.focused
        if target is None or target not in self.targets():
            self.refresh()
            return None
        target.trigger_action(duration=0)
        self.draw()
        return target

    def back(self) -> Widget | None:
        self.shown = True
        for w in self.targets():
            if isinstance(w, KioskButton) and w.action_name in BACK_ACTIONS:
                self.focused = w
                return self.select()
        return None

    def focus_named(self, action_name: str) -> None:
        for w in self.targets():
            if isinstance(w, KioskButton) and w.action_name == action_name:
                self.focused = w
                self.draw()
                return

    def hide(self) -> None:
        self.shown = False
        self.draw()

    # ---- drawing ----------------------------------------------------------------------------

    def _bring_into_view(self) -> None:
        w = self.focused
        scroller = scroller_of(w) if w is not None else None
        if scroller is not None:
            scroller.scroll_to(w, padding=dp(12), animate=False)
            scroller.update_from_scroll()

    def on_frame(self) -> None:
        """Each frame: after a new view, check where the focus is (the ring shown or not, so
        the first key finds it on the new screen); while the ring shows, follow the layout."""
        if self.dirty:
            self.dirty = False
            self.refresh()
        elif self.shown:
            self.draw()

    def draw(self) -> None:
        w = self.focused
        if not self.shown or w is None or w.get_root_window() is None:
            if self._outer_colour.a:
                self._outer_colour.a = self._inner_colour.a = 0
                self._drawn = ()
            return
        t = self.app.theme
        x0, y0 = w.to_window(w.x, w.y)
        x1, y1 = w.to_window(w.right, w.top)
        pad = OUTER / 2
        outer = (x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
        if (outer, tuple(t.focus)) == self._drawn:
            return  # unchanged: no canvas update, so an idle screen draws no new frames
        self._drawn = (outer, tuple(t.focus))
        self._outer.rectangle = outer
        self._inner.rectangle = (x0 + INNER / 2, y0 + INNER / 2, x1 - x0 - INNER,
                                 y1 - y0 - INNER)
        self._outer_colour.rgba = t.focus
        self._inner_colour.rgba = t.focus_inner

    @property
    def box(self) -> tuple[float, float, float, float] | None:
        """Where the ring is drawn (x, y, width, height), or None when hidden."""
        return tuple(self._outer.rectangle) if self._outer_colour.a else None  # type: ignore[return-value]


_GLYPHS = str.maketrans("", "", "\u2714\u2716\u26a0\u2139\u25f7\u232b\u2610\u2611")


class _Words(Protocol):
    def tr(self, message: str) -> str: ...


def focus_words(widget: Widget, w: _Words) -> str:
    """What the focused widget says when speech is on: its words without the glyphs, and for
    a loan on the account screen whether it is chosen for renewal."""
    if isinstance(widget, SelectableRow):
        state = w.tr("Selected") if widget.selected else w.tr("Not selected")
        return f"{widget.title}. {widget.detail}. {state}."
    if isinstance(widget, KioskButton) and widget.action_name.startswith("lang-"):
        code = widget.action_name.removeprefix("lang-")
        name = Locale.parse(code).get_display_name(code) or code  # "NL" is "Nederlands"
        return name.capitalize()
    return " ".join(str(getattr(widget, "text", "")).translate(_GLYPHS).split())
