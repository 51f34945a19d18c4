"""One Kivy screen per step of a patron's visit. Each screen only *renders* a SessionView
and turns touches into session actions; no screen decides anything about circulation.

Why every screen has `clear()`: when a session ends, the screen being left must forget the
patron's name and titles at once, not when it is next shown (a test walks the whole widget
tree after a logout and looks for any trace).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from domain.model import ReasonCode
from kiosk.session import (
    Back,
    CancelPin,
    ChooseMode,
    Done,
    EmailReceipt,
    EnterPin,
    Feedback,
    FeedbackReason,
    MessageShown,
    Mode,
    ReceiptChoice,
    RenewItems,
    SessionView,
)
from kiosk.ui import wording
from kiosk.ui.theme import STATUS_GLYPHS
from kiosk.ui.widgets import (
    ButtonRow,
    FaceButton,
    FitLabel,
    KioskButton,
    KioskScroll,
    PinPad,
    PlaceTile,
    SelectableRow,
    fill_rows,
)

if TYPE_CHECKING:
    from datetime import date

    from kiosk.ui.context import UiConfig
    from kiosk.ui.theme import Theme

log = logging.getLogger(__name__)

RowSpec = tuple[str, str, str, list[str]]  # item id, status, title, detail sentences
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def fit_height(layout: Any) -> Any:
    """Make a layout exactly as tall as its children (an empty one takes no room)."""
    layout.bind(minimum_height=layout.setter("height"))
    return layout


def vbox(spacing: float = 0) -> BoxLayout:
    return fit_height(BoxLayout(orientation="vertical", spacing=spacing, size_hint_y=None,
                                height=0))


def grid2(spacing: float) -> GridLayout:
    return fit_height(GridLayout(cols=2, spacing=spacing, size_hint_y=None, height=0))


def _landscape(widget: Any) -> bool:
    return widget.width >= widget.height


class ScreenHost(Protocol):
    """What a screen asks of the app that shows it (`KioskApp` is one): words in the
    patron's language, the look, and where the patron's actions go."""

    lang: str
    theme: Theme
    settings: UiConfig
    sound_on: bool
    speech_on: bool
    speech_available: bool

    def tr(self, message: str) -> str: ...

    def ntr(self, singular: str, plural: str, n: int) -> str: ...

    def day(self, value: date | None) -> str: ...

    def money(self, cents: int) -> str: ...

    def weekday_names(self) -> list[str]: ...

    def today(self) -> date: ...

    def post(self, action: object) -> None: ...

    def note(self, action: object) -> None: ...

    def toggle_large_text(self) -> None: ...

    def toggle_high_contrast(self) -> None: ...

    def toggle_sound(self) -> None: ...

    def toggle_speech(self) -> None: ...


class KioskScreen(Screen):
    """Base: a padded column with a scrolling body and a bottom row of buttons."""

    screen_name = ""

    def __init__(self, ui: ScreenHost, **kwargs: Any) -> None:
        super().__init__(name=self.screen_name, **kwargs)
        self.ui = ui
        self.view: SessionView | None = None
        outer = BoxLayout(orientation="vertical", padding=dp(12), spacing=dp(10))
        self.scroll = KioskScroll(do_scroll_x=False, scroll_type=["bars", "content"])
        self.body = vbox(dp(10))
        self.scroll.add_widget(self.body)
        self.buttons = fit_height(ButtonRow(spacing=dp(10), size_hint_y=None, height=0))
        outer.add_widget(self.scroll)
        outer.add_widget(self.buttons)
        self.add_widget(outer)
        self.build()

    # helpers -----------------------------------------------------------------------------

    def label(self, role: str = "body", tone: str = "text", **kwargs: Any) -> FitLabel:
        return FitLabel(role=role, tone=tone, **kwargs)

    def button(self, name: str, on_release: Any, kind: str = "secondary") -> KioskButton:
        btn = KioskButton(action_name=name, kind=kind, size_hint_y=None)
        btn.bind(on_release=lambda *_: on_release())
        self.ui.theme.bind(target=lambda *_: setattr(btn, "height", self.ui.theme.target))
        btn.height = self.ui.theme.target
        return btn

    def message_spec(self, view: SessionView) -> list[RowSpec]:
        """The session's message (why something did not happen) as a row, or nothing."""
        return wording.message_rows(view, self.ui)

    def show_rows(self, box: BoxLayout, specs: list[RowSpec]) -> None:
        fill_rows(box, specs, STATUS_GLYPHS)

    def post(self, action: object) -> None:
        self.ui.post(action)

    def on_pre_enter(self, *_args: object) -> None:
        self.scroll.scroll_y = 1  # a screen always opens at its top

    # what subclasses provide -------------------------------------------------------------

    def build(self) -> None:
        """Create the widgets that do not depend on the session."""

    def render(self, view: SessionView) -> None:
        self.view = view

    def clear(self) -> None:
        self.view = None


NOTICE_S = 8.0  # how long each of the library's messages stays on the idle screen


class IdleScreen(KioskScreen):
    """Attract screen: library, how to start, opening hours, accessibility switches."""

    screen_name = "idle"

    def build(self) -> None:
        self.columns = grid2(dp(16))
        self.col_a = vbox(dp(12))
        self.col_b = vbox(dp(2))  # opening hours: a table, read line by line
        self.columns.add_widget(self.col_a)
        self.columns.add_widget(self.col_b)
        self.body.add_widget(self.columns)
        self.bind(size=lambda *_: self._reflow())
        self.btn_large = self.button("toggle-large-text", self.ui.toggle_large_text)
        self.btn_contrast = self.button("toggle-high-contrast", self.ui.toggle_high_contrast)
        self.btn_sound = self.button("toggle-sound", self.ui.toggle_sound)
        self.btn_speech = self.button("toggle-speech", self.ui.toggle_speech)
        for b in (self.btn_large, self.btn_contrast, self.btn_sound):
            self.buttons.add_widget(b)
        if self.ui.speech_available:  # no voice here: no button that does nothing
            self.buttons.add_widget(self.btn_speech)
        # four switches stay one row on a 480-wide portrait panel (their words wrap)
        self.buttons.min_button_width = dp(110)
        # the library's messages, one at a time under the instruction (which never moves)
        self.notice = self.label("title", tone="muted")
        self._notices: tuple[tuple[int, str], ...] = ()
        self._notice_at = -1
        Clock.schedule_interval(lambda _dt: self._rotate(), NOTICE_S)

    def on_pre_enter(self, *args: object) -> None:
        super().on_pre_enter(*args)
        self._notice_at = -1  # a new wait for a patron: the first message is shown anew

    def _rotate(self, *, again: bool = True) -> None:
        """The next message (or the same one, drawn again); each time one is put up it is
        counted (a single message: once per wait for a patron)."""
        if not self._notices or self.manager is None or self.manager.current != self.name:
            return
        before = self._notice_at
        if again or not 0 <= self._notice_at < len(self._notices):
            self._notice_at = (self._notice_at + 1) % len(self._notices)
        number, text = self._notices[self._notice_at]
        self.notice.text = text
        if self._notice_at != before:
            self.ui.note(MessageShown(number))

    def _reflow(self) -> None:
        cols = 2 if _landscape(self) and self.width > dp(700) else 1
        if cols != self.columns.cols and self.view is not None:
            self.columns.cols = cols
            self.render(self.view)
        self.columns.cols = cols

    def render(self, view: SessionView) -> None:
        super().render(view)
        ui, tr = self.ui, self.ui.tr
        self.col_a.clear_widgets()
        if not _landscape(self):  # the narrow header shortens the library's name
            self.col_a.add_widget(self.label("title", tone="muted",
                                             text=ui.settings.library_name))
        headline, hint, return_items = wording.idle_texts(ui)
        self.col_a.add_widget(self.label("huge", text=headline))
        self.col_a.add_widget(self.label(text=hint))
        if view.idle_message:  # the library's line for this visit (an experiment's variant)
            self.col_a.add_widget(self.label("title", text=view.idle_message))
        if view.idle_messages != self._notices:
            self._notices, self._notice_at = view.idle_messages, -1
        self.notice.text = ""
        if self._notices:
            self.col_a.add_widget(self.notice)
            self._rotate(again=False)
        btn = self.button("mode-return", lambda: self.post(ChooseMode(Mode.RETURN)))
        btn.text = return_items
        self.col_a.add_widget(btn)
        if view.message is not None:
            messages = vbox()
            self.show_rows(messages, self.message_spec(view))
            self.col_a.add_widget(messages)
        self.col_b.clear_widgets()
        # where the card and the books go, beside the sentence that says it (a picture for
        # those who read little); then the opening hours, a table read line by line
        one_column = self.columns.cols == 1  # portrait: the two side by side, no drawing
        places = grid2(dp(8))
        places.cols = 2 if one_column else 1
        for icon, arrow, text in wording.idle_places(ui, ui.settings.card_reader_at,
                                                     ui.settings.pad_at):
            places.add_widget(PlaceTile(icon=icon, arrow=arrow, text=text, compact=one_column))
        self.col_b.add_widget(places)
        hours = ui.settings.opening_hours
        if hours:
            self.col_b.add_widget(self.label("title", text=tr("Opening hours")))
            for line in self.hour_lines(hours):
                self.col_b.add_widget(self.label("small", text=line))
        self.show_switches()
        self._reflow()

    def show_switches(self) -> None:
        """The switches' words only: flipping sound or speech redraws four buttons, not the
        screen (a key press must not cost the frames that rebuilding the tiles does)."""
        ui, tr = self.ui, self.ui.tr
        on, off = tr("on"), tr("off")
        self.btn_large.text = tr("Large text: {state}").format(
            state=on if ui.theme.large_text else off)
        self.btn_contrast.text = tr("High contrast: {state}").format(
            state=on if ui.theme.high_contrast else off)
        self.btn_sound.text = tr("Sound: {state}").format(state=on if ui.sound_on else off)
        self.btn_speech.text = tr("Speech: {state}").format(state=on if ui.speech_on else off)

    def hour_lines(self, hours: Mapping[str, str] | Sequence[str]) -> list[str]:
        if not isinstance(hours, Mapping):
            return [str(line) for line in hours]
        names = self.ui.weekday_names()
        closed = self.ui.tr("closed")
        return [f"{name}: {hours.get(key) or closed}"
                for key, name in zip(WEEKDAYS, names, strict=True)]

    def clear(self) -> None:
        super().clear()
        self.col_a.clear_widgets()
        self.col_b.clear_widgets()


class PinScreen(KioskScreen):
    """On-screen PIN pad: digits appear as dots, the PIN goes straight to the session."""

    screen_name = "pin"

    def build(self) -> None:
        self.split = grid2(dp(16))
        self.col_a = BoxLayout(orientation="vertical", spacing=dp(12), size_hint_y=None)
        self.col_a.bind(minimum_height=lambda *_: self._reflow())
        self.pad = PinPad(size_hint_y=None,
                          min_length=self.ui.settings.pin_min_length,
                          max_length=self.ui.settings.pin_max_length)
        self.pad.submit_callback = lambda pin: self.post(EnterPin(pin))
        self.split.add_widget(self.col_a)
        self.split.add_widget(self.pad)
        self.body.add_widget(self.split)
        self.cancel = self.button("pin-cancel", lambda: self.post(CancelPin()))
        self.buttons.add_widget(self.cancel)
        self.bind(size=lambda *_: self._reflow())
        self.scroll.bind(height=lambda *_: self._reflow())
        self.ui.theme.bind(target=lambda *_: self._reflow())

    def _reflow(self) -> None:
        landscape = _landscape(self)
        self.split.cols = 2 if landscape else 1
        t = self.ui.theme
        wanted = t.target * 5 + dp(8) * 4
        smallest = t.min_target * 5 + dp(8) * 4
        room = self.scroll.height - (0 if landscape else self.col_a.minimum_height + dp(16))
        self.pad.height = max(smallest, min(wanted, room))
        # side by side, the prompt starts at the top next to the pad
        self.col_a.height = (max(self.col_a.minimum_height, self.pad.height) if landscape
                             else self.col_a.minimum_height)

    def render(self, view: SessionView) -> None:
        super().render(view)
        tr = self.ui.tr
        self.col_a.clear_widgets()
        heading, hint = wording.pin_texts(self.ui)
        self.col_a.add_widget(self.label("title", text=heading))
        self.col_a.add_widget(self.label(text=hint))
        if view.message not in (None, ReasonCode.PIN_REQUIRED):
            messages = vbox()
            self.show_rows(messages, self.message_spec(view))
            self.col_a.add_widget(messages)
        self.col_a.add_widget(Widget())  # side by side with the pad: keep the text at the top
        self.pad.ok_text = tr("OK")
        self.pad.delete_text = tr("Delete")
        self.cancel.text = tr("Cancel")
        self._reflow()

    def clear(self) -> None:
        super().clear()
        self.pad.pin = ""
        self.col_a.clear_widgets()


class HomeScreen(KioskScreen):
    """Borrow, Return, My account, Done."""

    screen_name = "home"

    def build(self) -> None:
        self.greeting = self.label("huge")
        self.messages = vbox()
        self.grid = GridLayout(cols=2, spacing=dp(12), size_hint_y=None)
        self.b_borrow = self.button("mode-borrow", lambda: self.post(ChooseMode(Mode.BORROW)),
                                    kind="primary")
        self.b_return = self.button("mode-return", lambda: self.post(ChooseMode(Mode.RETURN)),
                                    kind="primary")
        self.b_account = self.button("mode-account", lambda: self.post(ChooseMode(Mode.ACCOUNT)),
                                     kind="primary")
        self.b_done = self.button("done", lambda: self.post(Done()))
        for b in (self.b_borrow, self.b_return, self.b_account, self.b_done):
            self.grid.add_widget(b)
        self.body.add_widget(self.greeting)
        self.body.add_widget(self.messages)
        self.body.add_widget(self.grid)
        self.bind(size=lambda *_: self._reflow())
        self.scroll.bind(height=lambda *_: self._reflow())
        self.messages.bind(height=lambda *_: self._reflow())
        self.ui.theme.bind(target=lambda *_: self._reflow())

    def _reflow(self) -> None:
        # big targets: as tall as the screen allows, never below the theme's target
        rows = 2 if self.grid.cols == 2 else 4
        avail = self.scroll.height - self.greeting.height - self.messages.height - dp(40)
        h = max(self.ui.theme.target, min(dp(180), (avail - dp(12) * (rows - 1)) / rows))
        for b in self.grid.children:
            b.height = h
        self.grid.height = h * rows + dp(12) * (rows - 1)

    def render(self, view: SessionView) -> None:
        super().render(view)
        self.greeting.text = wording.home_greeting(view, self.ui)
        self.show_rows(self.messages, wording.home_rows(view, self.ui))
        (self.b_borrow.text, self.b_return.text, self.b_account.text,
         self.b_done.text) = wording.home_choices(self.ui)
        self._reflow()

    def clear(self) -> None:
        super().clear()
        self.greeting.text = ""
        self.messages.clear_widgets()


class ItemsScreen(KioskScreen):
    """Shared by borrow and return: the newest item on top, each with a clear outcome."""

    def build(self) -> None:
        self.heading = self.label("title")
        self.hint = self.label("body", tone="muted")
        self.summary = self.label("body")
        self.messages = vbox()
        self.list = vbox(dp(6))
        for w in (self.heading, self.hint, self.summary, self.messages, self.list):
            self.body.add_widget(w)
        self.b_back = self.button("back", lambda: self.post(Back()))
        self.b_done = self.button("done", lambda: self.post(Done()), kind="primary")
        self.buttons.add_widget(self.b_back)
        self.buttons.add_widget(self.b_done)

    # BorrowScreen and ReturnScreen say what their lines mean; these two are theirs to define
    # (abc.ABC cannot be mixed into Kivy widgets: their metaclasses conflict)
    def render(self, view: SessionView) -> None:
        super().render(view)
        heading, hint, summary = wording.items_texts(view, self.ui)
        self.heading.text, self.hint.text, self.summary.text = heading, hint, summary
        self.show_rows(self.messages, self.message_spec(view))
        self.show_rows(self.list, [wording.item_row(view.screen, line, self.ui)
                                   for line in reversed(view.items)])
        self.b_back.text = self.ui.tr("Back")
        self.b_done.text = self.ui.tr("Done")

    def clear(self) -> None:
        super().clear()
        for w in (self.heading, self.hint, self.summary):
            w.text = ""
        self.messages.clear_widgets()
        self.list.clear_widgets()


class BorrowScreen(ItemsScreen):
    screen_name = "borrow"


class ReturnScreen(ItemsScreen):
    screen_name = "return"


class AccountScreen(KioskScreen):
    """Loans with due dates (overdue marked in words), renew selected or all, holds, fines."""

    screen_name = "account"

    def build(self) -> None:
        self.heading = self.label("title")
        self.summary = self.label("body")
        self.messages = vbox(dp(6))
        self.list = vbox(dp(6))
        for w in (self.heading, self.summary, self.messages, self.list):
            self.body.add_widget(w)
        self.loan_rows: list[SelectableRow] = []
        self.b_selected = self.button("renew-selected", self._renew_selected, kind="primary")
        self.b_all = self.button("renew-all", lambda: self.post(RenewItems(())))
        self.b_back = self.button("back", lambda: self.post(Back()))
        self.b_done = self.button("done", lambda: self.post(Done()))
        for b in (self.b_selected, self.b_all, self.b_back, self.b_done):
            self.buttons.add_widget(b)

    def _selected(self) -> tuple[str, ...]:
        return tuple(r.item_id for r in self.loan_rows if r.selected)

    def _renew_selected(self) -> None:
        ids = self._selected()
        if ids:
            self.post(RenewItems(ids))

    def _update_buttons(self, *_args: object) -> None:
        n = len(self._selected())
        self.b_selected.text = self.ui.ntr("Renew {n} selected", "Renew {n} selected", n).format(
            n=n) if n else self.ui.tr("Renew selected")
        self.b_selected.disabled = n == 0
        self.b_all.disabled = not self.loan_rows

    def render(self, view: SessionView) -> None:
        super().render(view)
        keep = set(self._selected())
        self.heading.text = self.ui.tr("My account")
        self.summary.text, specs, loans = wording.account_parts(view, self.ui)
        self.show_rows(self.messages, specs)
        self._show_loans(loans, keep)
        _selected, self.b_all.text, self.b_back.text, self.b_done.text = \
            wording.account_choices(self.ui)
        self._update_buttons()

    def _show_loans(self, loans: list[tuple[str, str, str, bool]], keep: set[str]) -> None:
        """One selectable row per loan, reusing the rows already on screen."""
        while len(self.loan_rows) < len(loans):
            row = SelectableRow()
            row.bind(selected=self._update_buttons)
            self.loan_rows.append(row)
            self.list.add_widget(row)
        for extra in self.loan_rows[len(loans):]:
            self.list.remove_widget(extra)
        del self.loan_rows[len(loans):]
        for row, (item_id, title, detail, overdue) in zip(self.loan_rows, loans, strict=True):
            row.item_id, row.title, row.detail, row.overdue = item_id, title, detail, overdue
            row.selected = item_id in keep

    def clear(self) -> None:
        super().clear()
        self.heading.text = self.summary.text = ""
        self.messages.clear_widgets()
        self.list.clear_widgets()
        self.loan_rows = []


class ReceiptScreen(KioskScreen):
    screen_name = "receipt"

    def build(self) -> None:
        self.heading = self.label("huge")
        self.summary = self.label("body")
        self.note = self.label("body", tone="muted")
        for w in (self.heading, self.summary, self.note):
            self.body.add_widget(w)
        self.b_print = self.button("receipt-print", lambda: self.post(ReceiptChoice(True)),
                                   kind="primary")
        self.b_email = self.button("receipt-email", lambda: self.post(EmailReceipt()))
        self.b_none = self.button("receipt-none", lambda: self.post(ReceiptChoice(False)))

    def render(self, view: SessionView) -> None:
        super().render(view)
        ui = self.ui
        self.heading.text, self.summary.text, self.note.text = wording.receipt_texts(
            view, ui, auto_print=ui.settings.auto_print_on_timeout)
        texts = wording.receipt_choices(view, ui)
        self.b_print.text, self.b_email.text, self.b_none.text = texts
        by_choice = {"print": self.b_print, "email": self.b_email, "none": self.b_none}
        shown = [b for b, text in zip(by_choice.values(), texts, strict=True) if text]
        first = by_choice.get(view.receipt_first)
        if first in shown:  # an experiment puts another choice first (and focuses it)
            shown.remove(first)
            shown.insert(0, first)
        if list(reversed(self.buttons.children)) != shown:  # only the choices there are
            self.buttons.clear_widgets()
            for b in shown:
                self.buttons.add_widget(b)
        # the first choice there is comes first and is the main one
        for b in shown:
            b.kind = "primary" if b is shown[0] and (
                b is not self.b_none or first is self.b_none) else "secondary"

    def clear(self) -> None:
        super().clear()
        self.heading.text = self.summary.text = self.note.text = ""


class GoodbyeScreen(KioskScreen):
    screen_name = "goodbye"

    def build(self) -> None:
        self.heading = self.label("huge", halign="center")
        self.sub = self.label("title", halign="center", tone="muted")
        self.question = self.label("title", halign="center")
        for w in (self.heading, self.sub, self.question):
            self.body.add_widget(w)
        # "How did it go?": four faces, then after a low score four reasons (never free text)
        self.faces = []
        for score in range(1, 5):
            face = FaceButton(action_name=f"feedback-{score}", score=score, size_hint_y=None)
            face.bind(on_release=lambda _b, n=score: self.post(Feedback(n)))
            self.ui.theme.bind(target=lambda *_a, b=face: self._face_height(b))
            self._face_height(face)
            self.faces.append(face)
        self.reasons = [
            self.button(f"feedback-why-{code}", lambda c=code: self.post(FeedbackReason(c)))
            for code, _ in wording.feedback_reasons(self.ui)]

    def _face_height(self, face: FaceButton) -> None:
        face.height = self.ui.theme.target * 1.9  # room for the face above its word

    def render(self, view: SessionView) -> None:
        super().render(view)
        self.heading.text, self.sub.text = wording.goodbye_texts(self.ui)
        self.question.text = wording.feedback_question(view, self.ui)
        for face, text in zip(self.faces, wording.feedback_faces(self.ui), strict=True):
            face.text = text
        for button, (_, text) in zip(self.reasons, wording.feedback_reasons(self.ui),
                                     strict=True):
            button.text = text
        shown = {"ask": self.faces, "why": self.reasons}.get(view.feedback, [])
        if list(reversed(self.buttons.children)) != shown:
            self.buttons.clear_widgets()
            for b in shown:
                self.buttons.add_widget(b)


SCREENS: tuple[type[KioskScreen], ...] = (
    IdleScreen, PinScreen, HomeScreen, BorrowScreen, ReturnScreen, AccountScreen, ReceiptScreen,
    GoodbyeScreen,
)

