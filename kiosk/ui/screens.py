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

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from domain.model import ReasonCode
from kiosk.i18n.reasons import reason_sentence
from kiosk.session import (
    Back,
    CancelPin,
    ChooseMode,
    Done,
    EnterPin,
    ItemLine,
    Mode,
    ReceiptChoice,
    RenewItems,
    SessionView,
)
from kiosk.ui.theme import STATUS_GLYPHS
from kiosk.ui.widgets import (
    ButtonRow,
    FitLabel,
    KioskButton,
    PinPad,
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

    def tr(self, message: str) -> str: ...

    def ntr(self, singular: str, plural: str, n: int) -> str: ...

    def day(self, value: date | None) -> str: ...

    def money(self, cents: int) -> str: ...

    def weekday_names(self) -> list[str]: ...

    def today(self) -> date: ...

    def post(self, action: object) -> None: ...

    def toggle_large_text(self) -> None: ...

    def toggle_high_contrast(self) -> None: ...

    def toggle_sound(self) -> None: ...


class KioskScreen(Screen):
    """Base: a padded column with a scrolling body and a bottom row of buttons."""

    screen_name = ""

    def __init__(self, ui: ScreenHost, **kwargs: Any) -> None:
        super().__init__(name=self.screen_name, **kwargs)
        self.ui = ui
        self.view: SessionView | None = None
        outer = BoxLayout(orientation="vertical", padding=dp(12), spacing=dp(10))
        self.scroll = ScrollView(do_scroll_x=False, bar_width=dp(10),
                                 scroll_type=["bars", "content"])
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
        if view.message is None:
            return []
        return [("", "attention", reason_sentence(view.message, self.ui.lang), [])]

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


class IdleScreen(KioskScreen):
    """Attract screen: library, how to start, opening hours, accessibility switches."""

    screen_name = "idle"

    def build(self) -> None:
        self.columns = grid2(dp(16))
        self.col_a = vbox(dp(12))
        self.col_b = vbox(dp(4))
        self.columns.add_widget(self.col_a)
        self.columns.add_widget(self.col_b)
        self.body.add_widget(self.columns)
        self.bind(size=lambda *_: self._reflow())
        self.btn_large = self.button("toggle-large-text", self.ui.toggle_large_text)
        self.btn_contrast = self.button("toggle-high-contrast", self.ui.toggle_high_contrast)
        self.btn_sound = self.button("toggle-sound", self.ui.toggle_sound)
        for b in (self.btn_large, self.btn_contrast, self.btn_sound):
            self.buttons.add_widget(b)

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
        self.col_a.add_widget(self.label(
            "huge", text=tr("Place your library card on the reader or scan it.")))
        self.col_a.add_widget(self.label(text=tr("Returning items? Just place them on the pad.")))
        btn = self.button("mode-return", lambda: self.post(ChooseMode(Mode.RETURN)))
        btn.text = tr("Return items")
        self.col_a.add_widget(btn)
        if view.message is not None:
            messages = vbox()
            self.show_rows(messages, self.message_spec(view))
            self.col_a.add_widget(messages)
        self.col_b.clear_widgets()
        hours = ui.settings.opening_hours
        if hours:
            self.col_b.add_widget(self.label("title", text=tr("Opening hours")))
            for line in self.hour_lines(hours):
                self.col_b.add_widget(self.label("body", text=line))
        on, off = tr("on"), tr("off")
        self.btn_large.text = tr("Large text: {state}").format(
            state=on if ui.theme.large_text else off)
        self.btn_contrast.text = tr("High contrast: {state}").format(
            state=on if ui.theme.high_contrast else off)
        self.btn_sound.text = tr("Sound: {state}").format(state=on if ui.sound_on else off)
        self._reflow()

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
        self.col_a.add_widget(self.label("title", text=tr("Please type your PIN.")))
        self.col_a.add_widget(self.label(text=tr("Nobody can see your digits: they show as dots.")))
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
        tr = self.ui.tr
        self.greeting.text = (tr("Hello, {name}!").format(name=view.patron_name)
                              if view.patron_name else tr("Hello!"))
        self.show_rows(self.messages, self.message_spec(view))
        self.b_borrow.text = tr("Borrow")
        self.b_return.text = tr("Return")
        self.b_account.text = tr("My account")
        self.b_done.text = tr("Done")
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
    def texts(self, view: SessionView) -> tuple[str, str, str]:
        raise NotImplementedError(f"{type(self).__name__} must define texts()")

    def describe(self, line: ItemLine) -> tuple[str, list[str]]:
        raise NotImplementedError(f"{type(self).__name__} must define describe()")

    def title_of(self, line: ItemLine) -> str:
        return line.title or self.ui.tr("Item {code}").format(code=line.item_id)

    def common_details(self, line: ItemLine) -> list[str]:
        tr, out = self.ui.tr, []
        if line.offline and line.ok:
            out.append(tr("Saved offline: it will be sent to the library later."))
        if line.put_back:
            out.append(tr("Please put this item back on the pad for a moment."))
        elif line.security_failed:
            out.append(reason_sentence(ReasonCode.SECURITY_FAILED, self.ui.lang))
        if line.screen_message and line.reason == ReasonCode.REFUSED:
            # the library system's own words (its language, not the patron's): only when our
            # generic sentence would say less
            out.append(line.screen_message)
        return out

    def render(self, view: SessionView) -> None:
        super().render(view)
        heading, hint, summary = self.texts(view)
        self.heading.text, self.hint.text, self.summary.text = heading, hint, summary
        self.show_rows(self.messages, self.message_spec(view))
        specs = []
        for line in reversed(view.items):
            status, details = self.describe(line)
            specs.append((line.item_id, status, self.title_of(line),
                          details + self.common_details(line)))
        self.show_rows(self.list, specs)
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

    def texts(self, view: SessionView) -> tuple[str, str, str]:
        tr = self.ui.tr
        n = sum(1 for i in view.items if i.ok)
        summary = self.ui.ntr("You have borrowed {n} item.", "You have borrowed {n} items.",
                              n).format(n=n) if n else ""
        return (tr("Borrow"), tr("Place your items on the pad or scan their barcodes."), summary)

    def describe(self, line: ItemLine) -> tuple[str, list[str]]:
        tr = self.ui.tr
        if line.working:
            return "wait", [tr("Checking…")]
        if line.pending:
            return "wait", [reason_sentence(ReasonCode.INCOMPLETE_SET, self.ui.lang)]
        if line.ok and line.renewed:
            due = (tr("You had this already: renewed — due back on {date}.").format(
                date=self.ui.day(line.due)) if line.due else tr("You had this already."))
            return ("attention" if line.security_failed else "ok"), [due]
        if line.ok:
            due = (tr("Borrowed — due back on {date}.").format(date=self.ui.day(line.due))
                   if line.due else tr("Borrowed."))
            return ("attention" if line.security_failed else "ok"), [due]
        return "error", [tr("Not borrowed:") + " " + reason_sentence(line.reason, self.ui.lang)]


class ReturnScreen(ItemsScreen):
    screen_name = "return"

    def texts(self, view: SessionView) -> tuple[str, str, str]:
        tr = self.ui.tr
        n = sum(1 for i in view.items if i.ok)
        summary = self.ui.ntr("You have returned {n} item.", "You have returned {n} items.",
                              n).format(n=n) if n else ""
        return (tr("Return"), tr("Place the items you are returning on the pad."), summary)

    def describe(self, line: ItemLine) -> tuple[str, list[str]]:
        tr = self.ui.tr
        if line.working:
            return "wait", [tr("Checking…")]
        if line.pending:
            return "wait", [reason_sentence(ReasonCode.INCOMPLETE_SET, self.ui.lang)]
        if not line.ok:
            return "error", [tr("Not returned:") + " " + reason_sentence(line.reason, self.ui.lang)]
        details = [tr("Returned.")]
        status = "ok"
        if line.hold_shelf:
            status = "attention"
            details.append(tr("Someone has reserved it: please put it on the hold shelf."))
        if line.sort_bin:
            details.append(tr("Please put it in bin {bin}.").format(bin=line.sort_bin))
        if line.security_failed:
            status = "attention"
        return status, details


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
        ui, tr = self.ui, self.ui.tr
        keep = set(self._selected())
        self.heading.text = tr("My account")
        specs = self.message_spec(view)
        loans: list[tuple[str, str, str, bool]] = []
        account = view.account
        today = ui.today()
        renewed = {r.item_id: r for r in view.renewals}
        if account is None:
            self.summary.text = ""
        else:
            n = len(account.loans)
            self.summary.text = ui.ntr("You have {n} item on loan.", "You have {n} items on loan.",
                                       n).format(n=n)
            if account.fines_cents > 0:
                specs.append(("", "attention", tr("Fines: {amount}").format(
                    amount=ui.money(account.fines_cents)), [tr("You can pay at the desk.")]))
            for hold in account.holds:
                if not hold.ready:
                    continue
                details = [tr("Ready for you to pick up.")]
                if hold.pickup_until:
                    details = [tr("Ready for you to pick up until {date}.").format(
                        date=ui.day(hold.pickup_until))]
                specs.append((hold.item_id, "ok", hold.title, details))
            for loan in account.loans:
                overdue = loan.overdue(today)
                detail = (tr("Overdue — it was due back on {date}.") if overdue
                          else tr("Due back on {date}.")).format(date=ui.day(loan.due))
                result = renewed.get(loan.item_id)
                if result is not None:
                    detail = (tr("Renewed — due back on {date}.").format(date=ui.day(loan.due))
                              if result.ok else
                              tr("Not renewed:") + " " + reason_sentence(result.reason, ui.lang)
                              + " " + detail)
                title = ("\u26a0 " if overdue else "") + loan.title
                loans.append((loan.item_id, title, detail, overdue))
        self.show_rows(self.messages, specs)
        self._show_loans(loans, keep)
        self.b_all.text = tr("Renew all")
        self.b_back.text = tr("Back")
        self.b_done.text = tr("Done")
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
        self.b_none = self.button("receipt-none", lambda: self.post(ReceiptChoice(False)))
        self.buttons.add_widget(self.b_print)
        self.buttons.add_widget(self.b_none)

    def render(self, view: SessionView) -> None:
        super().render(view)
        ui, tr = self.ui, self.ui.tr
        self.heading.text = tr("Would you like a receipt?")
        n = sum(1 for i in view.items if i.ok) + sum(1 for r in view.renewals if r.ok)
        self.summary.text = ui.ntr("It lists {n} item with its due date.",
                                   "It lists {n} items with their due dates.", n).format(n=n)
        self.note.text = (tr("If you walk away, the receipt is printed for you.")
                          if ui.settings.auto_print_on_timeout else "")
        self.b_print.text = tr("Print receipt")
        self.b_none.text = tr("No receipt")

    def clear(self) -> None:
        super().clear()
        self.heading.text = self.summary.text = self.note.text = ""


class GoodbyeScreen(KioskScreen):
    screen_name = "goodbye"

    def build(self) -> None:
        self.heading = self.label("huge", halign="center")
        self.sub = self.label("title", halign="center", tone="muted")
        self.body.add_widget(self.heading)
        self.body.add_widget(self.sub)

    def render(self, view: SessionView) -> None:
        super().render(view)
        tr = self.ui.tr
        self.heading.text = tr("Thank you, goodbye!")
        self.sub.text = tr("Do not forget your card and your items.")


SCREENS: tuple[type[KioskScreen], ...] = (
    IdleScreen, PinScreen, HomeScreen, BorrowScreen, ReturnScreen, AccountScreen, ReceiptScreen,
    GoodbyeScreen,
)

