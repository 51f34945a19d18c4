"""Technician mode on the touchscreen: the Kivy view of the console, and the way in.

How one gets in: hold the hidden top-left corner (kiosk/ui/app.py), type the technician PIN;
the UI calls `on_technician_pin(pin)` on a worker thread. `unlock_hook(port)` (called by
kiosk/runner.py) returns that callable: it checks the PIN against the scrypt hash in the
config, with five tries before a lock that doubles (kiosk.technician.pin), and opens the
console over the patron screens.

Why the console is a full-screen overlay inside the kiosk app and nothing more: there is no
way out of it to a shell or a desktop (no terminal, no file picker, no "exit to desktop"),
only back to the patron screens or a restart of the kiosk application, which systemd brings
straight back (Restart=always). It also closes itself after five idle minutes, so a
technician who walks away does not leave it open to patrons.

The panel is a view only: every text and every action comes from `TechnicianConsole`.
Importing this module imports Kivy; only the UI does.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.i18n import LANGUAGES
from kiosk.technician.console import TABS, TechnicianConsole, Tone, attempt_message
from kiosk.technician.pin import PinGate, gate_from_settings
from kiosk.technician.port import TechnicianPort
from kiosk.ui.widgets import LanguageButtons

log = logging.getLogger(__name__)

IDLE_CLOSE_S = 300.0
_BACKGROUND = (0.08, 0.1, 0.13, 1)
_COLOURS: dict[Tone, tuple[float, ...]] = {
    "plain": (1, 1, 1, 1), "ok": (0.45, 0.85, 0.5, 1), "bad": (1, 0.45, 0.4, 1)}


# ---- the way in ---------------------------------------------------------------------------------


def unlock_hook(port: TechnicianPort, *, gate: PinGate | None = None,
                restart: Callable[[], None] | None = None) -> Callable[[str], None]:
    """The UI's `on_technician_pin`: check the PIN (worker thread), then open the console on
    the Kivy thread, or show why not. Both speak the language on screen at that moment, read
    on the Kivy thread, where the patron side changes it."""
    pin_gate = gate or gate_from_settings(port.settings)

    def on_pin(pin: str) -> None:
        result = pin_gate.attempt(pin)
        if result.ok:
            Clock.schedule_once(lambda _dt: open_console(port, restart=restart), 0)
        else:
            Clock.schedule_once(
                lambda _dt: show_notice(attempt_message(result, _screen_language(port))), 0)

    return on_pin


def _stop_app() -> None:
    """Restart = leave the app; kiosk run returns and systemd starts it again."""
    app = App.get_running_app()
    if app is not None:
        app.stop()


def _screen_language(port: TechnicianPort) -> str:
    """The language the patron screen shows now (the idle screen's is the configured default
    between patrons); the kiosk's default when no KioskApp runs."""
    lang = getattr(App.get_running_app(), "lang", None)
    return lang if lang in LANGUAGES else port.settings.kiosk.language


def _root() -> Any:
    app = App.get_running_app()
    return getattr(app, "root_layout", None) or getattr(app, "root", None)


def open_console(port: TechnicianPort, *, restart: Callable[[], None] | None = None) -> Any:
    """Open the console over the running app's screens (Kivy thread), in the language the
    screen shows. Returns the panel."""
    app = App.get_running_app()
    existing = getattr(app, "_technician_panel", None)
    if existing is not None and existing.parent is not None:
        return existing
    languages = tuple(getattr(getattr(app, "settings", None), "languages", LANGUAGES))
    console = TechnicianConsole(port, restart=restart or _stop_app,
                                language=_screen_language(port))
    panel = ConsolePanel(console, languages=languages)
    root = _root()
    if root is not None:
        root.add_widget(panel)
    if app is not None:
        app._technician_panel = panel
    return panel


def show_notice(message: str, seconds: float = 4.0) -> Any:
    """A short message over the patron screen (wrong PIN, locked)."""
    label = Label(text=message, size_hint=(0.8, None), height=dp(64),
                  pos_hint={"center_x": 0.5, "center_y": 0.5}, font_size=dp(22),
                  color=(1, 1, 1, 1))
    with label.canvas.before:
        Color(0.15, 0.15, 0.15, 0.92)
        rect = Rectangle(pos=label.pos, size=label.size)
    label.bind(pos=lambda w, p: setattr(rect, "pos", p), size=lambda w, s: setattr(rect, "size", s))
    label.technician_notice = True
    root = _root()
    if root is not None:
        root.add_widget(label)
        Clock.schedule_once(lambda _dt: label.parent and label.parent.remove_widget(label),
                            seconds)
    return label


# ---- the panel ----------------------------------------------------------------------------------


def _button(text: str, action: Callable[[], object], name: str) -> Button:
    b = Button(text=text, size_hint=(1, None), height=dp(56), font_size=dp(18),
               halign="center", valign="middle")
    # a long label ("Imprimer un ticket test") wraps onto a second line, never off the edge
    b.bind(size=lambda w, v: setattr(w, "text_size", (max(v[0] - dp(12), dp(10)), v[1])))
    b.action_name = name
    b.bind(on_release=lambda _b: action())
    return b


def _language_button(name: str) -> Button:
    b = _button("", lambda: None, name)  # what a press does is bound by LanguageButtons
    b.size_hint = (None, 1)
    return b


def _text_label(text: str, colour: tuple[float, ...] = (1, 1, 1, 1), size: float = 17) -> Label:
    lbl = Label(text=text, color=colour, font_size=dp(size), halign="left",
                valign="top", size_hint_y=None)
    lbl.bind(width=lambda w, v: setattr(w, "text_size", (v, None)),
             texture_size=lambda w, v: setattr(w, "height", v[1] + dp(6)))
    return lbl


class ConsolePanel(FloatLayout):
    """The technician console: a header with the language buttons, tabs on the left, the
    tab's buttons and content on the right. Every text comes from the console."""

    def __init__(self, console: TechnicianConsole, *,
                 languages: tuple[str, ...] = LANGUAGES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.console = console
        with self.canvas.before:
            Color(*_BACKGROUND)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)
        outer = BoxLayout(orientation="vertical", padding=dp(12), spacing=dp(8))
        outer.add_widget(self._header(languages))
        body = BoxLayout(spacing=dp(12))
        body.add_widget(self._tabs())
        body.add_widget(self._tab_area())
        outer.add_widget(body)
        self.add_widget(outer)
        self._last_touch = time.monotonic()
        console.on_update = lambda: Clock.schedule_once(lambda _dt: self.refresh(), 0)
        console.open()
        self._tick = Clock.schedule_interval(self._periodic, 1.0)
        self.show(TABS[0])

    def _header(self, languages: tuple[str, ...]) -> BoxLayout:
        header = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(8))
        self.title = Label(font_size=dp(24), bold=True, halign="left")
        header.add_widget(self.title)
        # the patron header's buttons; a press changes the console's language only
        self.languages = LanguageButtons(
            languages, self.choose_language, prefix="technician-lang-",
            make=_language_button)  # the console's own (dark) style, not the patron's
        self.languages.fit(App.get_running_app().theme)
        self.languages.add_to(header)
        self.back = _button("", self.dismiss, "technician-close")
        header.add_widget(self.back)
        return header

    def _tabs(self) -> BoxLayout:
        tabs = BoxLayout(orientation="vertical", size_hint_x=0.24, spacing=dp(6))
        self.tab_buttons: dict[str, Button] = {}
        for name in TABS:
            b = _button("", functools.partial(self.show, name), f"technician-tab-{name}")
            self.tab_buttons[name] = b
            tabs.add_widget(b)
        tabs.add_widget(Label())
        return tabs

    def _tab_area(self) -> BoxLayout:
        right = BoxLayout(orientation="vertical", spacing=dp(8))
        self.actions = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(8))
        right.add_widget(self.actions)
        self.scroll = ScrollView(do_scroll_x=False)
        self.content = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(4))
        self.content.bind(minimum_height=self.content.setter("height"))
        self.scroll.add_widget(self.content)
        right.add_widget(self.scroll)
        return right

    @property
    def tab(self) -> str:
        return self.console.tab

    def _sync(self, *_args: object) -> None:
        self._rect.pos, self._rect.size = self.pos, self.size

    # every touch lands here (nothing reaches the patron screens underneath)
    def on_touch_down(self, touch: Any) -> bool:
        self._last_touch = time.monotonic()
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        super().on_touch_up(touch)
        return True

    def _periodic(self, _dt: float) -> None:
        if time.monotonic() - self._last_touch > IDLE_CLOSE_S:
            log.info("technician mode idle for %.0f s: closing", IDLE_CLOSE_S)
            self.dismiss()
            return
        self.refresh()

    def choose_language(self, code: str) -> None:
        """The technician's own language: the console changes, the patron side does not."""
        self.console.set_language(code)
        self._redraw()

    def show(self, tab: str) -> None:
        self.console.select_tab(tab)
        self._redraw()

    def _redraw(self) -> None:
        self._label()
        self._build_actions()
        self.refresh()

    def _label(self) -> None:
        c = self.console
        self.title.text = c.tr("Technician mode")
        self.back.text = c.tr("Back to patrons")
        self.languages.show(c.language)
        for name, b in self.tab_buttons.items():
            b.text = c.tab_title(name)
            b.background_color = (0.2, 0.55, 0.8, 1) if name == c.tab else (1, 1, 1, 1)

    def _build_actions(self) -> None:
        self.actions.clear_widgets()
        for name, label, action in self.console.actions():
            self.actions.add_widget(_button(label, self._pressing(action), name))

    def _pressing(self, action: Callable[[], object]) -> Callable[[], None]:
        def press() -> None:
            action()
            if not self.console.opened:  # it restarted the kiosk: nothing left to show
                self.dismiss()

        return press

    def refresh(self) -> None:
        self.content.clear_widgets()
        size = 14 if self.tab == "log" else 17
        for text, tone in self.console.lines():
            self.content.add_widget(_text_label(text, _COLOURS[tone], size))

    def dismiss(self) -> None:
        self._tick.cancel()
        self.console.close()
        if self.parent is not None:
            self.parent.remove_widget(self)
