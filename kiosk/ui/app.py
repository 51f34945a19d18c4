"""The Kivy application: renders `SessionView` snapshots and puts actions on the app's queue.

Threading: views arrive on the application's event thread; `_on_view` only stores the newest
one and triggers `_apply` on the Kivy thread (several views in one frame collapse into the
last). Touches never wait for the session: the UI shows "Please wait" in the very next frame
and the action goes onto the queue. Cues and the technician callback run on a worker thread
because they may touch hardware. The UI thread does no network, database or device I/O.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk import i18n
from kiosk.session import Screen, SessionView, SetLanguage, StillHere
from kiosk.session_io import AccessUsed, MoreTime
from kiosk.speech.narration import what_to_say
from kiosk.ui import wording
from kiosk.ui.collector import collect_between_frames
from kiosk.ui.context import UiContext
from kiosk.ui.focus import FocusRing, focus_words
from kiosk.ui.keys import SPEECH_KEYS, Key, from_name, key_for
from kiosk.ui.screens import SCREENS, IdleScreen, KioskScreen
from kiosk.ui.theme import STATUS_GLYPHS, Theme, register_fonts
from kiosk.ui.widgets import (
    Banner,
    BusyPill,
    LanguageButtons,
    TechnicianHotspot,
    TechnicianOverlay,
    TimeoutOverlay,
)

log = logging.getLogger(__name__)

KV_FILE = Path(__file__).with_name("kiosk.kv")
PENDING_MAX_S = 5.0  # hide "Please wait" if no answer comes (the app thread is stuck)
LANGUAGE_REQUEST_GRACE_S = 1.0
ACTIVITY_EVERY_S = 2.0  # keys tell the session "still here" at most this often

class CuePlayer:
    """Plays success/attention cues through the injected callable, off the UI thread."""

    def __init__(self, cue: Callable[[str], None] | None, pool: ThreadPoolExecutor) -> None:
        self._cue = cue
        self._pool = pool
        self.enabled = True
        self.played: list[str] = []  # what was asked for, for the demo transcript

    def play(self, kind: str) -> None:
        if not self.enabled or self._cue is None:
            return
        self.played.append(kind)
        self._pool.submit(self._safe, kind)

    def _safe(self, kind: str) -> None:
        try:
            self._cue(kind)  # type: ignore[misc]
        except Exception:  # a broken buzzer must never take the screen down
            log.exception("audio cue %s failed", kind)


class KioskApp(wording.LocaleWords, App):
    """One window, one ScreenManager, a header with languages, banners and overlays."""

    kv_file = str(KV_FILE)
    lang = StringProperty(i18n.DEFAULT_LANGUAGE)
    pending = BooleanProperty(False)
    theme = ObjectProperty(None)
    sound_on = BooleanProperty(True)

    def __init__(self, context: UiContext, **kwargs: Any) -> None:
        self.context = context
        self.settings = context.config
        self.theme = Theme(high_contrast=self.settings.high_contrast,
                           large_text=self.settings.large_text)
        super().__init__(**kwargs)
        self.title = self.settings.library_name
        self._undo_collector: Callable[[], None] = lambda: None
        self.lang = self.settings.default_language
        self.sound_on = self.settings.audio_cues
        self.speech_on = self.settings.speech_always_on and context.speaker is not None
        self._aids_used: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ui-callbacks")
        self.cues = CuePlayer(context.cue, self._pool)
        self.cues.enabled = self.sound_on
        self._preload_languages()
        self._lock = threading.Lock()
        self._latest: SessionView | None = None
        self.view = SessionView(language=self.settings.default_language)
        self._lang_request: tuple[str, float] | None = None
        self._apply_trigger = Clock.create_trigger(self._apply, -1)
        self._pending_timeout = None
        self.timeout_overlay: TimeoutOverlay | None = None
        self.technician_overlay: TechnicianOverlay | None = None
        self.frame_listeners: list[Callable[[], None]] = []
        self.applied_views = 0
        self.help_shown = False
        self._activity_at = 0.0

    def _preload_languages(self) -> None:
        """Read every catalog and Babel's locale data now, before the window shows, so that a
        language switch never waits for the disk on the UI thread."""
        for code in self.settings.languages:
            i18n.translations(code)
            i18n.format_day(date.today(), code)
            i18n.format_money(0, code)
            i18n.weekday_names(code)

    # ---- translation helpers used by the screens ------------------------------------------

    today_source: Callable[[], date] = staticmethod(date.today)  # screenshots pin the day

    def today(self) -> date:
        return self.today_source()

    def weekday_names(self) -> list[str]:
        return i18n.weekday_names(self.lang)

    # ---- building ---------------------------------------------------------------------------

    def load_config(self) -> Any:
        return super().load_config()  # no sections: Kivy writes no ini file next to the code

    def build(self) -> FloatLayout:
        register_fonts()
        root = FloatLayout()
        with root.canvas.before:
            from kivy.graphics import Color, Rectangle

            self._bg_colour = Color(*self.theme.bg)
            self._bg_rect = Rectangle(pos=root.pos, size=root.size)
        root.bind(size=self._sync_bg, pos=self._sync_bg)
        self.theme.bind(bg=self._sync_bg)

        column = BoxLayout(orientation="vertical")
        self.header = BoxLayout(size_hint_y=None, padding=(dp(12), dp(6)), spacing=dp(8))
        self.header_title = Label(halign="left", valign="middle", shorten=True,
                                  shorten_from="right", bold=True)
        self.header_title.bind(size=lambda w, s: setattr(w, "text_size", s))
        self.header.add_widget(self.header_title)
        self.languages = LanguageButtons(self.settings.languages, self.choose_language)
        self.language_buttons: dict[str, Button] = self.languages.buttons
        self.languages.add_to(self.header)
        self.banners = BoxLayout(orientation="vertical", size_hint_y=None, height=0,
                                 spacing=dp(2))
        self.banners.bind(minimum_height=self.banners.setter("height"))
        self.sm = ScreenManager(transition=NoTransition())
        self.screens: dict[str, KioskScreen] = {}
        for cls in SCREENS:
            screen = cls(self)
            self.screens[screen.name] = screen
            self.sm.add_widget(screen)
        column.add_widget(self.header)
        column.add_widget(self.banners)
        column.add_widget(self.sm)
        root.add_widget(column)

        self.busy = BusyPill(pos_hint={"center_x": 0.5, "y": 0.16})
        self.hotspot = TechnicianHotspot(self.open_technician_prompt, size_hint=(None, None),
                                         size=(dp(72), dp(72)), pos_hint={"x": 0, "top": 1},
                                         hold_s=self.settings.technician_hold_s)
        root.add_widget(self.hotspot)
        self.root_layout = root
        self.focus = FocusRing(self)
        self.theme.bind(target=self._style_header, fs_body=self._style_header,
                        text=self._style_header)
        self._style_header()
        Window.bind(on_flip=self._on_flip)
        Window.bind(on_key_down=self._on_key_down)
        self._render()
        return root

    def _sync_bg(self, *_args: object) -> None:
        self._bg_colour.rgba = self.theme.bg
        self._bg_rect.pos = self.root_layout.pos if hasattr(self, "root_layout") else (0, 0)
        self._bg_rect.size = self.root_layout.size if hasattr(self, "root_layout") else (0, 0)

    def _style_header(self, *_args: object) -> None:
        t = self.theme
        self.header.height = t.target + dp(12)
        self.header_title.font_size = t.fs_title
        self.header_title.color = t.text
        self.languages.fit(t)

    def on_start(self) -> None:
        # the widgets built so far live as long as the app: keep them out of the cyclic
        # garbage collector's full passes, which otherwise cost whole frames on a Pi
        gc.collect()
        gc.freeze()
        self._undo_collector = collect_between_frames()
        self.context.subscribe(self._on_view)
        if self.context.keys is not None:  # GPIO buttons: the same keys, from the event thread
            self.context.keys(self.on_device_key)
        heartbeat = self.context.heartbeat
        if heartbeat is not None:
            Clock.schedule_interval(lambda _dt: heartbeat(), 1.0)

    def on_stop(self) -> None:
        self._undo_collector()
        Window.unbind(on_flip=self._on_flip)
        Window.unbind(on_key_down=self._on_key_down)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- views in -----------------------------------------------------------------------------

    def _on_view(self, view: SessionView) -> None:
        """Any thread: keep the newest view, draw it on the next frame."""
        with self._lock:
            self._latest = view
        self._apply_trigger()

    def _apply(self, *_args: object) -> None:
        with self._lock:
            view, self._latest = self._latest, None
        if view is None:
            return
        prev = self.view
        self.view = view
        self.applied_views += 1
        self._set_pending(False)
        try:
            self.lang = self._language_for(view)
            self._play_cues(prev, view)
            if view.screen == Screen.IDLE and prev.screen != Screen.IDLE:
                self._restore_defaults()
            self._speak(prev, view)
            self._render()
        except Exception:  # a bug in drawing one view must not take the kiosk's screen down
            log.exception("could not draw the %s screen; keeping the window up", view.screen)

    def _language_for(self, view: SessionView) -> str:
        if self._lang_request is not None:
            lang, asked = self._lang_request
            if view.language == lang or time.monotonic() - asked > LANGUAGE_REQUEST_GRACE_S:
                self._lang_request = None
            else:
                return lang
        return view.language if view.language in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE

    def _restore_defaults(self) -> None:
        """A new patron starts with the library's defaults, not the previous patron's choices."""
        self.theme.large_text = self.settings.large_text
        self.theme.high_contrast = self.settings.high_contrast
        self.sound_on = self.settings.audio_cues
        self.cues.enabled = self.sound_on
        self.speech_on = self.settings.speech_always_on and self.context.speaker is not None
        self.help_shown = False
        self._aids_used = set()
        self.focus.hide()

    # ---- speech -------------------------------------------------------------------------------

    def _speak(self, prev: SessionView | None, view: SessionView) -> None:
        """Say what changed (the whole screen when a new one opens); the voice's own thread
        does the speaking, so no frame waits for it."""
        speaker = self.context.speaker
        if not self.speech_on or speaker is None:
            return
        said = what_to_say(prev, view, self, auto_print=self.settings.auto_print_on_timeout,
                           places=self.places)
        if said:
            speaker.say(said, self.lang)

    def toggle_speech(self) -> None:
        speaker = self.context.speaker
        if speaker is None:
            return
        self.speech_on = not self.speech_on
        if self.speech_on:
            self._used("speech")
            self._speak(None, self.view)
        else:
            speaker.stop()
        self._show_switches()

    def on_speech_key(self, name: str) -> bool:
        """The speech keys (a USB numeric keypad: * speak or repeat, / stop, - slower,
        + louder). "Speak" also switches speech on, so a patron who cannot see the screen
        starts it without finding a button. True when the key was one of them."""
        speaker = self.context.speaker
        if speaker is None or name not in SPEECH_KEYS:
            return False
        if name == Key.SPEAK:
            if self.speech_on:
                speaker.repeat()
            else:
                self.toggle_speech()
        elif name == Key.STOP:
            speaker.stop()
        elif name == Key.SLOWER:
            speaker.slower()
        else:
            speaker.louder()
        return True

    def say(self, sentences: list[str]) -> None:
        """Speak `sentences` now when speech is on (the focused button, a help text)."""
        speaker = self.context.speaker
        if self.speech_on and speaker is not None and sentences:
            speaker.say(sentences, self.lang)

    # ---- keys ---------------------------------------------------------------------------------

    def _typing_pin(self) -> bool:
        return (self.sm.current == Screen.PIN.value and self.technician_overlay is None
                and self.timeout_overlay is None)

    def _on_key_down(self, _window: object, keycode: int, *_args: object) -> bool:
        meaning = key_for(keycode, typing_digits=self._typing_pin())
        if meaning is None:
            return False
        self.on_key(meaning)
        return True

    def on_device_key(self, name: str) -> None:
        """A GPIO key (any thread): acted on in the next frame, on the UI thread."""
        key = from_name(name)
        if key is not None:
            Clock.schedule_once(lambda _dt: self.on_key(key), 0)

    def on_key(self, key: Key | str) -> None:
        """One key press on the UI thread: a `Key`, or a digit / "delete" on the PIN pad."""
        self._still_active()
        self._used("keypad")
        if key in SPEECH_KEYS:
            self.on_speech_key(key)
            return
        if self.help_shown and key != Key.HELP:
            self.help_shown = False
            self._render_banners(self.view)
        if not isinstance(key, Key):
            self._pin_key(key)
            return
        if key == Key.HELP:
            self.show_help()
        elif key == Key.BACK:
            self.focus.back()
        elif key == Key.SELECT:
            self.focus.select()
        else:
            moved = self.focus.move(-1 if key == Key.UP else 1)
            if moved is not None:
                self.say([focus_words(moved, self)])

    def _pin_key(self, key: str) -> None:
        pad = self.screens[Screen.PIN.value].pad
        if key == "delete":
            if not pad.pin:
                self.focus.back()  # nothing left to delete: Backspace is "back"
                return
            pad.delete()
        else:
            pad.press(key)
        if len(pad.pin) >= pad.min_length:
            self.focus.shown = True
            self.focus.focus_named("pin-ok")  # Enter now sends the PIN
        # how many digits, never which: a PIN is not spoken
        self.say([self.ntr("{n} digit", "{n} digits", len(pad.pin)).format(n=len(pad.pin))])

    def _still_active(self) -> None:
        """A key is the patron being here: tell the session (it extends the timeout), but
        not while the timeout warning waits for an answer (that would close it unasked)."""
        now = time.monotonic()
        if (self.view.screen in (Screen.IDLE, Screen.GOODBYE) or self.timeout_overlay is not None
                or now - self._activity_at < ACTIVITY_EVERY_S):
            return
        self._activity_at = now
        self.context.events.put(StillHere())

    def show_help(self) -> None:
        """The keys explained, on screen and aloud, then the screen read again."""
        self.help_shown = True
        self._render_banners(self.view)
        self.say([*wording.key_help(self), *wording.screen_sentences(
            self.view, self, auto_print=self.settings.auto_print_on_timeout,
            places=self.places)])

    def _play_cues(self, prev: SessionView, view: SessionView) -> None:
        before = {i.item_id: (i.ok, i.reason, i.pending) for i in (*prev.items, *prev.renewals)
                  if not i.working}
        changed = [i for i in (*view.items, *view.renewals)  # a line still being checked: quiet
                   if not i.working and before.get(i.item_id) != (i.ok, i.reason, i.pending)]
        attention = any(not i.ok or i.hold_shelf or i.security_failed for i in changed)
        if (view.message is not None and view.message != prev.message) or (
                view.warning_seconds_left is not None and prev.warning_seconds_left is None):
            attention = True
        if attention:
            self.cues.play("attention")
        elif changed:
            self.cues.play("success")

    # ---- rendering ----------------------------------------------------------------------------

    def _render(self) -> None:
        view = self.view
        name = view.screen.value
        if self.sm.current != name:
            self.sm.current = name
        for screen_name, screen in self.screens.items():
            if screen_name != name and screen.view is not None:
                screen.clear()  # the screen being left forgets the patron at once
        self.screens[name].render(view)
        self.header_title.text = self.settings.library_name
        self.languages.show(self.lang)
        self._render_banners(view)
        self._render_timeout(view)
        self._render_busy()
        self.focus.dirty = True

    def _render_banners(self, view: SessionView) -> None:
        self.banners.clear_widgets()
        if self.help_shown:
            self.banners.add_widget(Banner(text=" ".join(wording.key_help(self)), glyph="\u2139"))
        for text in wording.banners(view, self):
            self.banners.add_widget(Banner(text=text))

    def _render_timeout(self, view: SessionView) -> None:
        left = view.warning_seconds_left
        if left is None:
            self._close_timeout()
            return
        if self.timeout_overlay is None:
            self.timeout_overlay = TimeoutOverlay(still_here_callback=self.still_here,
                                                  more_time_callback=self.more_time)
            self.root_layout.add_widget(self.timeout_overlay)
        o = self.timeout_overlay
        o.heading, o.countdown, o.button_text, o.more_time_text = wording.timeout_texts(
            left, self, more_time=view.more_time)

    def _close_timeout(self) -> None:
        if self.timeout_overlay is not None:
            self.root_layout.remove_widget(self.timeout_overlay)
            self.timeout_overlay = None

    def _render_busy(self) -> None:
        show = self.pending or self.view.busy
        self.busy.text = STATUS_GLYPHS["wait"] + "  " + self.tr("Please wait…")
        if show and self.busy.parent is None:
            self.root_layout.add_widget(self.busy)
        elif not show and self.busy.parent is not None:
            self.root_layout.remove_widget(self.busy)

    def _on_flip(self, *_args: object) -> None:
        self.focus.on_frame()
        for listener in list(self.frame_listeners):
            listener()

    # ---- actions out --------------------------------------------------------------------------

    def post(self, action: object) -> None:
        """Queue an action for the session and show that the touch was taken."""
        self._set_pending(True)
        self._render_busy()
        self.context.events.put(action)

    def note(self, action: object) -> None:
        """Tell the session something for the library's counts (an aid turned on, a message
        shown): nothing the patron waits for, so no busy mark."""
        self.context.events.put(action)

    def _set_pending(self, pending: bool) -> None:
        self.pending = pending
        if self._pending_timeout is not None:
            self._pending_timeout.cancel()
            self._pending_timeout = None
        if pending:
            self._pending_timeout = Clock.schedule_once(self._pending_expired, PENDING_MAX_S)

    def _pending_expired(self, _dt: float) -> None:
        log.warning("no answer from the session within %.0f s", PENDING_MAX_S)
        self._set_pending(False)
        self._render_busy()

    def choose_language(self, code: str) -> None:
        self._lang_request = (code, time.monotonic())
        self.lang = code
        self._render()
        self.post(SetLanguage(code))

    def still_here(self) -> None:
        self._close_timeout()
        self.post(StillHere())

    def more_time(self) -> None:
        """ "I need more time": this patron's timeouts are doubled (and this one ends)."""
        self._close_timeout()
        self.post(MoreTime())

    def toggle_large_text(self) -> None:
        self.theme.large_text = not self.theme.large_text
        if self.theme.large_text:
            self._used("large_text")
        self._render()

    def toggle_high_contrast(self) -> None:
        self.theme.high_contrast = not self.theme.high_contrast
        if self.theme.high_contrast:
            self._used("high_contrast")
        self._render()

    def _used(self, mode: str) -> None:
        """An aid this patron turned on: noted once per visit for the library's insights
        (kiosk/visits.py: which aids are used, never by whom)."""
        if mode not in self._aids_used:
            self._aids_used.add(mode)
            self.note(AccessUsed(mode))

    def toggle_sound(self) -> None:
        self.sound_on = not self.sound_on
        self.cues.enabled = self.sound_on
        self._show_switches()

    def _show_switches(self) -> None:
        idle = self.screens.get(Screen.IDLE.value)
        if isinstance(idle, IdleScreen):
            idle.show_switches()

    @property
    def places(self) -> tuple[str, str]:
        """Where this kiosk's card reader and item pad are ([ui] card_reader_at, pad_at)."""
        return self.settings.card_reader_at, self.settings.pad_at

    @property
    def speech_available(self) -> bool:
        return self.context.speaker is not None

    # ---- technician entry ---------------------------------------------------------------------

    def open_technician_prompt(self) -> None:
        if self.technician_overlay is not None:
            return
        o = TechnicianOverlay(pin_callback=self._technician_pin,
                              cancel_callback=self.close_technician_prompt)
        o.heading = self.tr("Technician PIN")
        o.cancel_text = self.tr("Cancel")
        o.ids.pad.ok_text = self.tr("OK")
        o.ids.pad.delete_text = self.tr("Delete")
        self.technician_overlay = o
        self.root_layout.add_widget(o)

    def close_technician_prompt(self) -> None:
        if self.technician_overlay is not None:
            self.technician_overlay.ids.pad.pin = ""
            self.root_layout.remove_widget(self.technician_overlay)
            self.technician_overlay = None

    def _technician_pin(self, pin: str) -> None:
        self.close_technician_prompt()
        callback = self.context.on_technician_pin
        if callback is None:
            log.info("technician PIN entered but no technician handler is configured")
            return
        self._pool.submit(self._safe_technician, callback, pin)

    @staticmethod
    def _safe_technician(callback: Callable[[str], None], pin: str) -> None:
        try:
            callback(pin)
        except Exception:
            log.exception("technician handler failed")
