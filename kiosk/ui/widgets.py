"""Reusable touchscreen widgets: buttons that fit their text, auto-height labels, status
rows with icon + word + colour, a PIN pad, overlays, the hidden technician corner and the
language buttons the patron header and the technician console share.

Why text-fitting widgets: the same screen must work at 800×480 and 1920×1080, in four
languages (German words are long) and in large-text mode, without cutting anything off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.ui.theme import Theme

log = logging.getLogger(__name__)

MIN_FIT = 0.45  # never shrink a button's text below 45 % of the theme size


def theme():
    return App.get_running_app().theme


class FitLabel(Label):
    """A label that wraps to its width and grows to its text's height."""

    role = StringProperty("body")  # small | body | title | huge
    tone = StringProperty("text")  # text | muted | ok | error | attention | banner_text


class KioskButton(Button):
    """A big button; its text shrinks (never below MIN_FIT) rather than being cut off."""

    kind = StringProperty("secondary")  # primary | secondary
    fit = NumericProperty(1.0)
    action_name = StringProperty("")  # a stable name tests and the demo can find

    def __init__(self, **kwargs: object) -> None:
        self._fit_trigger = Clock.create_trigger(self._fit_text, -1)
        super().__init__(**kwargs)
        self.bind(text=self._refit, size=self._refit)
        t = theme()
        t.bind(fs_button=self._refit)

    def _refit(self, *_args: object) -> None:
        self._fit_trigger()

    def _fit_text(self, *_args: object) -> None:
        self.fit = 1.0
        while True:
            self.texture_update()
            tw, th = self.texture_size
            if (tw <= self.width - dp(4) and th <= self.height - dp(4)) or self.fit <= MIN_FIT:
                return
            self.fit = round(self.fit - 0.08, 2)


class FaceButton(KioskButton):
    """One of the four faces of "How did it go?": a drawn face above its word.

    Drawn, not a glyph: the kiosk's fonts have two faces at most, and the face must follow the
    theme's text colour (high contrast) and size (large text) like everything else."""

    score = NumericProperty(3)  # 1 (bad) .. 4 (very good): how much the mouth smiles

    def __init__(self, **kwargs: object) -> None:
        # drawn once the frame's layout is done (-1: before the frame is shown), with the
        # button's final place and size
        self._redraw = Clock.create_trigger(self._draw, -1)
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, color=self._redraw, score=self._redraw)

    def _draw(self, *_args: object) -> None:
        from kivy.graphics import Color, Ellipse, Line

        self.canvas.after.remove_group("face")
        r = max(dp(6), min(self.width * 0.2, self.height * 0.24))
        cx, cy = self.center_x, self.top - r - dp(8)
        eye = r * 0.22
        smile = (self.score - 2.5) / 1.5  # -1 (frown) .. 1 (broad smile)
        mouth = [coord for n in range(13) for coord in (
            cx - r * 0.5 + r * n / 12,
            cy - r * 0.4 - smile * r * 0.3 * (1 - (2 * n / 12 - 1) ** 2))]
        with self.canvas.after:
            Color(*self.color, group="face")
            Line(circle=(cx, cy, r), width=dp(2), group="face")
            for dx in (-0.38, 0.38):
                Ellipse(pos=(cx + dx * r - eye / 2, cy + r * 0.2 - eye / 2), size=(eye, eye),
                        group="face")
            Line(points=mouth, width=dp(2), group="face")


class IconLabel(Label):
    """The glyph beside a status: the shape says it, the colour only repeats it."""

    status = StringProperty("info")


class StatusRow(BoxLayout):
    """One line on a list: icon, a title and one or more detail sentences.

    Rows are reused from one view to the next (`set_details` keeps its labels): building
    widgets is the slow part of a frame, and a list must update within a frame.
    """

    status = StringProperty("info")  # ok | error | attention | info | wait
    glyph = StringProperty("")
    title = StringProperty("")
    item_id = StringProperty("")

    def set_details(self, texts: list[str]) -> None:
        box = self.ids.details_box
        labels = list(reversed(box.children))
        for n, text in enumerate(texts):
            if n < len(labels):
                labels[n].text = text
            else:
                box.add_widget(FitLabel(role="body", tone="text", text=text))
        for extra in labels[len(texts):]:
            box.remove_widget(extra)


def fill_rows(box: BoxLayout, specs: list[tuple[str, str, str, list[str]]],
              glyphs: dict[str, str]) -> None:
    """Show `specs` (item id, status, title, details) as StatusRows in `box`, top to bottom,
    reusing the rows already there."""
    rows = list(reversed(box.children))
    for n, (item_id, status, title, details) in enumerate(specs):
        if n < len(rows):
            row = rows[n]
        else:
            row = StatusRow()
            box.add_widget(row)
        row.status, row.glyph, row.title, row.item_id = status, glyphs[status], title, item_id
        row.set_details(details)
    for extra in rows[len(specs):]:
        box.remove_widget(extra)


class SelectableRow(ButtonBehavior, BoxLayout):
    """A loan on the account screen: tap to select it for renewal (☐ / ☑ plus highlight)."""

    selected = BooleanProperty(False)
    title = StringProperty("")
    detail = StringProperty("")
    overdue = BooleanProperty(False)
    item_id = StringProperty("")

    def on_release(self) -> None:
        self.selected = not self.selected


class PlaceTile(BoxLayout):
    """Where something goes at this kiosk: a drawn card or pile of books, a big arrow towards
    the reader or the pad, and the sentence saying it (the arrow only repeats the words)."""

    icon = StringProperty("card")  # card | books
    arrow = StringProperty("")
    text = StringProperty("")
    compact = BooleanProperty(False)  # narrow: the arrow and the words, no drawing


class Panel(BoxLayout):
    """A padded box drawn on the panel colour."""


class Banner(BoxLayout):
    """A full-width notice (offline, a device down). Icon + sentence, never colour alone."""

    text = StringProperty("")
    glyph = StringProperty("\u26a0")


class PinPad(BoxLayout):
    """Digits 0–9, delete and OK. The entered digits show as dots only."""

    pin = StringProperty("")
    max_length = NumericProperty(8)
    min_length = NumericProperty(4)
    ok_text = StringProperty("OK")
    delete_text = StringProperty("")
    submit_callback = ObjectProperty(None, allownone=True)

    def press(self, digit: str) -> None:
        if len(self.pin) < self.max_length:
            self.pin += digit

    def delete(self) -> None:
        self.pin = self.pin[:-1]

    def submit(self) -> None:
        if len(self.pin) < self.min_length:
            return
        pin, self.pin = self.pin, ""
        if self.submit_callback is not None:
            self.submit_callback(pin)

    def masked(self, pin: str) -> str:
        return " ".join("\u25cf" for _ in pin)


class Overlay(FloatLayout):
    """A full-window layer with a dimmed background; it takes every touch while shown."""

    def on_touch_down(self, touch: object) -> bool:
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: object) -> bool:
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: object) -> bool:
        super().on_touch_up(touch)
        return True


class TimeoutOverlay(Overlay):
    """The inactivity warning. Any tap on it, not only on its button, means "still here"."""

    heading = StringProperty("")
    countdown = StringProperty("")
    button_text = StringProperty("")
    more_time_text = StringProperty("")  # empty: the patron already has more time
    still_here_callback = ObjectProperty(None, allownone=True)
    more_time_callback = ObjectProperty(None, allownone=True)

    def on_touch_down(self, touch: object) -> bool:
        if not FloatLayout.on_touch_down(self, touch) and self.still_here_callback:
            self.still_here_callback()
        return True


class TechnicianOverlay(Overlay):
    heading = StringProperty("")
    cancel_text = StringProperty("")
    pin_callback = ObjectProperty(None, allownone=True)
    cancel_callback = ObjectProperty(None, allownone=True)


class BusyPill(Label):
    """"Please wait": shown the very frame after a touch, until the answer is on screen."""


class TechnicianHotspot(Widget):
    """An invisible corner: holding it for `hold_s` seconds opens the technician PIN prompt."""

    hold_s = NumericProperty(3.0)

    def __init__(self, on_open: Callable[[], None], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._on_open = on_open
        self._pending = None
        self._touch_uid: object = None

    def on_touch_down(self, touch: object) -> bool:
        if not self.collide_point(*touch.pos):  # type: ignore[attr-defined]
            return False
        self._touch_uid = touch.uid  # type: ignore[attr-defined]
        self._pending = Clock.schedule_once(self._fire, self.hold_s)
        return True

    def on_touch_move(self, touch: object) -> bool:
        if touch.uid == self._touch_uid and not self.collide_point(*touch.pos):  # type: ignore[attr-defined]
            self._cancel()
        return False

    def on_touch_up(self, touch: object) -> bool:
        if touch.uid == self._touch_uid:  # type: ignore[attr-defined]
            self._cancel()
            return True
        return False

    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._touch_uid = None

    def _fire(self, _dt: float) -> None:
        self._pending = None
        log.info("technician corner held: opening the technician PIN prompt")
        self._on_open()


class KioskScroll(ScrollView):
    """A scrolling body that always shows when there is more than fits: a track and a thumb
    drawn at rest (Kivy draws its bar only after the first scroll), so a patron sees that
    the list goes on before touching it."""

    def overflows(self) -> bool:
        return bool(self.viewport_size[1] > self.height + 1)


class ButtonRow(GridLayout):
    """A row of equal buttons that becomes a column when the screen is too narrow."""

    min_button_width = NumericProperty(dp(150))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.bind(width=self._reflow, children=self._reflow)

    def _reflow(self, *_args: object) -> None:
        n = max(1, len(self.children))
        fits = self.width >= n * self.min_button_width + (n - 1) * self.spacing[0]
        self.cols = n if fits else max(1, int(self.width // self.min_button_width) or 1)


class LanguageButtons:
    """The language buttons ("NL ✔", "FR", "DE", "EN") of a header.

    Why one class: the patron header and the technician console show the same buttons, so a
    technician finds the switch where patrons do. What a press does is the owner's business
    (the patron header asks the session, the console only changes its own language), hence
    `on_choose`; `prefix` keeps the two sets apart for tests and the tour.
    """

    def __init__(self, codes: tuple[str, ...], on_choose: Callable[[str], None], *,
                 prefix: str = "lang-", make: Callable[[str], Button] | None = None) -> None:
        """`make(action_name)` builds a button in the owner's own style (the technician
        console is dark); the patron's big buttons by default."""
        self.buttons: dict[str, Button] = {}
        for code in codes:
            name = f"{prefix}{code}"
            btn = make(name) if make else KioskButton(action_name=name, size_hint=(None, 1))
            btn.bind(on_release=lambda _b, c=code: on_choose(c))
            self.buttons[code] = btn

    def add_to(self, layout: Widget) -> None:
        for btn in self.buttons.values():
            layout.add_widget(btn)

    def fit(self, t: Theme) -> None:
        """Wide enough for "NL ✔" at the theme's touch target."""
        width = max(t.target * 1.25, dp(80))
        for btn in self.buttons.values():
            btn.width = width

    def show(self, current: str) -> None:
        """Mark `current` (a tick, the primary colour): the language in use is seen at once."""
        for code, btn in self.buttons.items():
            btn.text = code.upper() + (" \u2714" if code == current else "")
            if isinstance(btn, KioskButton):
                btn.kind = "primary" if code == current else "secondary"
            else:  # the owner's style: the chosen one bold
                btn.bold = code == current
