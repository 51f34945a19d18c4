"""What each screen says, in the patron's language, without Kivy: one source for the screen and
for speech.

Why a module of its own: a blind patron must hear exactly what a sighted one reads, so the
screens draw these sentences and `kiosk.speech` speaks them; neither keeps a second copy. Each
function takes the session's view and a `Words` (the translations and the locale's formats);
the Kivy app is one, `Words` below is the plain one speech uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from domain.model import Hold, Loan, ReasonCode
from kiosk import i18n
from kiosk.i18n.reasons import DEVICE_NAMES, reason_sentence
from kiosk.session_io import ItemLine, Screen, SessionView

Row = tuple[str, str, str, list[str]]  # item id, status, title, detail sentences


class Wording(Protocol):
    lang: str

    def tr(self, message: str) -> str: ...

    def ntr(self, singular: str, plural: str, n: int) -> str: ...

    def day(self, value: date | None) -> str: ...

    def money(self, cents: int) -> str: ...

    def today(self) -> date: ...


class LocaleWords:
    """The words and formats of the language in `self.lang`: for `Words` and the Kivy app."""

    lang: str

    def tr(self, message: str) -> str:
        return i18n.gettext(self.lang, message)

    def ntr(self, singular: str, plural: str, n: int) -> str:
        return i18n.ngettext(self.lang, singular, plural, n)

    def day(self, value: date | None) -> str:
        return i18n.format_day(value, self.lang) if value else ""

    def money(self, cents: int) -> str:
        return i18n.format_money(cents, self.lang)

    def today(self) -> date:
        return date.today()


@dataclass(frozen=True)
class Words(LocaleWords):
    """The patron's language and its formats, as the screens use them (speech, tests)."""

    lang: str


# the screens on which a device's fault changes what the patron can do; a device not listed
# here is told everywhere
AFFECTS = {
    "card_reader": {Screen.IDLE, Screen.PIN},
    "rfid": {Screen.IDLE, Screen.BORROW, Screen.RETURN},
    "scanner": {Screen.IDLE, Screen.BORROW, Screen.RETURN},
    "printer": {Screen.RECEIPT},
}


def fault_banner(view: SessionView, w: Wording) -> str:
    """"Not working right now: ..." for the devices whose fault matters on this screen only:
    a jammed printer says nothing while returns work."""
    down = [d for d in view.devices_down if view.screen in AFFECTS.get(d, set(Screen))]
    if not down:
        return ""
    names = ", ".join(w.tr(DEVICE_NAMES.get(d, d)) for d in down)
    return w.tr("Not working right now: {devices}. Please ask at the desk.").format(
        devices=names)


def banners(view: SessionView, w: Wording) -> list[str]:
    """The strips under the header: working offline, and devices that do not work."""
    out = [w.tr("Working offline — your loans are saved and will be sent later.")] \
        if view.offline else []
    fault = fault_banner(view, w)
    return [*out, fault] if fault else out


def message_rows(view: SessionView, w: Wording) -> list[Row]:
    """The session's message (why something did not happen) as a row, or nothing."""
    if view.message is None:
        return []
    return [("", "attention", reason_sentence(view.message, w.lang), [])]


def after_colon(lead: str, sentence: str, lang: str) -> str:
    """"Niet geleend: dit exemplaar ...": French and Dutch go on in lower case after a colon,
    German and English keep the sentence's capital."""
    if lang in ("fr", "nl") and sentence[:1].isupper() and sentence[1:2].islower():
        sentence = sentence[0].lower() + sentence[1:]
    return f"{lead} {sentence}"


# ---- idle, PIN, home, receipt, goodbye, timeout -----------------------------------------------

def idle_texts(w: Wording) -> tuple[str, str, str]:
    return (w.tr("Place your library card on the reader or scan it."),
            w.tr("Returning items? Just place them on the pad."), w.tr("Return items"))


ARROWS = {"left": "\u2190", "above": "\u2191", "right": "\u2192", "below": "\u2193"}
_WHERE = {"left": i18n.N_("to the left of the screen"),
          "right": i18n.N_("to the right of the screen"),
          "below": i18n.N_("below the screen"), "above": i18n.N_("above the screen")}


def idle_places(w: Wording, card_at: str, pad_at: str) -> list[tuple[str, str, str]]:
    """Where the card and the books go at this kiosk: (icon, arrow, sentence) each."""
    return [
        ("card", ARROWS.get(card_at, ""), w.tr("Your card: on the reader {where}.").format(
            where=w.tr(_WHERE.get(card_at, _WHERE["right"])))),
        ("books", ARROWS.get(pad_at, ""), w.tr("Your books: on the pad {where}.").format(
            where=w.tr(_WHERE.get(pad_at, _WHERE["below"])))),
    ]


def pin_texts(w: Wording) -> tuple[str, str]:
    return (w.tr("Please type your PIN."),
            w.tr("Nobody can see your digits: they show as dots."))


def home_greeting(view: SessionView, w: Wording) -> str:
    return (w.tr("Hello, {name}!").format(name=view.patron_name) if view.patron_name
            else w.tr("Hello!"))


def home_rows(view: SessionView, w: Wording) -> list[Row]:
    """Under the greeting: why something cannot be done, and holds waiting to be picked up."""
    rows = message_rows(view, w)
    # the library's messages for this patron's category ("the reading hour is on Wednesday")
    rows += [("", "info", text, []) for _, text in view.patron_messages]
    if view.holds_ready:
        rows.append(("", "ok", w.ntr("{n} hold is ready for you to pick up.",
                                     "{n} holds are ready for you to pick up.",
                                     view.holds_ready).format(n=view.holds_ready),
                     [w.tr("My account says where and until when.")]))
    return rows


def home_choices(w: Wording) -> tuple[str, str, str, str]:
    return w.tr("Borrow"), w.tr("Return"), w.tr("My account"), w.tr("Done")


def receipt_texts(view: SessionView, w: Wording, *, auto_print: bool) -> tuple[str, str, str]:
    n = sum(1 for i in view.items if i.ok) + sum(1 for r in view.renewals if r.ok)
    return (w.tr("Would you like a receipt?"),
            w.ntr("It lists {n} item with its due date.",
                  "It lists {n} items with their due dates.", n).format(n=n),
            w.tr("If you walk away, the receipt is printed for you.") if auto_print else "")


def receipt_choices(view: SessionView, w: Wording) -> tuple[str, str, str]:
    """Print, e-mail, none: an empty text is a choice this kiosk or patron does not have."""
    return (w.tr("Print receipt") if view.receipt_available else "",
            w.tr("E-mail to {address}").format(address=view.email_hint)
            if view.email_hint else "",
            w.tr("No receipt"))


def goodbye_texts(w: Wording) -> tuple[str, str]:
    return w.tr("Thank you, goodbye!"), w.tr("Do not forget your card and your items.")


def feedback_question(view: SessionView, w: Wording) -> str:
    """The goodbye screen's question (or its thanks), "" when it asks nothing."""
    return {"ask": w.tr("How did it go?"), "why": w.tr("What went wrong?"),
            "thanks": w.tr("Thank you for telling us.")}.get(view.feedback, "")


def feedback_faces(w: Wording) -> tuple[str, str, str, str]:
    """The four faces' words, from bad (score 1) to very good (4)."""
    return w.tr("Bad"), w.tr("Not so good"), w.tr("Good"), w.tr("Very good")


def feedback_reasons(w: Wording) -> tuple[tuple[str, str], ...]:
    """After a low score: (reason code, words), in domain.visits.FEEDBACK_REASONS order."""
    return (("too_slow", w.tr("Too slow")), ("could_not_find", w.tr("I could not find how")),
            ("machine_error", w.tr("The machine made an error")),
            ("other", w.tr("Something else")))


def feedback_texts(view: SessionView, w: Wording) -> list[str]:
    """The question and its choices, as the screen shows them and speech says them."""
    choices: tuple[str, ...] = ()
    if view.feedback == "ask":
        choices = feedback_faces(w)
    elif view.feedback == "why":
        choices = tuple(words for _, words in feedback_reasons(w))
    question = feedback_question(view, w)
    return [question, *choices] if question else []


def timeout_texts(seconds_left: int, w: Wording, *,
                  more_time: bool = False) -> tuple[str, str, str, str]:
    """Heading, countdown, "still here" and "more time" (empty once the patron has more)."""
    return (w.tr("Are you still there?"),
            w.ntr("Your session ends in {n} second.", "Your session ends in {n} seconds.",
                  seconds_left).format(n=seconds_left),
            w.tr("I'm still here"),
            "" if more_time else w.tr("I need more time"))


def key_help(w: Wording) -> list[str]:
    """What the keys do (the help key): the same words for a keypad and for GPIO buttons."""
    return [w.tr("Keys: up and down move the frame, the middle key or Enter chooses, "
                 "0 goes back."),
            w.tr("The star key reads the screen aloud; minus speaks slower, plus louder.")]


# ---- borrow and return ------------------------------------------------------------------------

def items_texts(view: SessionView, w: Wording) -> tuple[str, str, str]:
    """Heading, hint and summary of the borrow or return screen."""
    n = sum(1 for i in view.items if i.ok)
    if view.screen == Screen.RETURN:
        summary = w.ntr("You have returned {n} item.", "You have returned {n} items.",
                        n).format(n=n) if n else ""
        return (w.tr("Return"), w.tr("Place the items you are returning on the pad."), summary)
    summary = w.ntr("You have borrowed {n} item.", "You have borrowed {n} items.",
                    n).format(n=n) if n else ""
    return (w.tr("Borrow"), w.tr("Place your items on the pad or scan their barcodes."), summary)


def item_row(screen: Screen, line: ItemLine, w: Wording) -> Row:
    status, details = (_returned(line, w) if screen == Screen.RETURN else _borrowed(line, w))
    return line.item_id, status, item_title(line, w), details + _common(line, w)


def item_title(line: ItemLine, w: Wording) -> str:
    """The title the library gave (now, or when the kiosk last saw the item online); else its
    number, in plain words."""
    return line.title or w.tr("Book number {code}").format(code=line.item_id)


def _waiting(line: ItemLine, w: Wording) -> tuple[str, list[str]] | None:
    """A line not settled yet: part of a pile being checked, or a set still incomplete."""
    if line.working:
        return "wait", [w.tr("Checking…")]
    if line.pending:
        return "wait", [reason_sentence(ReasonCode.INCOMPLETE_SET, w.lang)]
    return None


def _borrowed(line: ItemLine, w: Wording) -> tuple[str, list[str]]:
    if (waiting := _waiting(line, w)) is not None:
        return waiting
    if line.ok and line.renewed:
        due = (w.tr("You had this already: renewed — due back on {date}.").format(
            date=w.day(line.due)) if line.due else w.tr("You had this already."))
        return ("attention" if line.security_failed else "ok"), [due]
    if line.ok:
        due = (w.tr("Borrowed — due back on {date}.").format(date=w.day(line.due))
               if line.due else w.tr("Borrowed."))
        return ("attention" if line.security_failed else "ok"), [due]
    return "error", [after_colon(w.tr("Not borrowed:"), reason_sentence(line.reason, w.lang),
                                 w.lang)]


def _returned(line: ItemLine, w: Wording) -> tuple[str, list[str]]:
    if (waiting := _waiting(line, w)) is not None:
        return waiting
    if not line.ok:
        return "error", [after_colon(w.tr("Not returned:"),
                                     reason_sentence(line.reason, w.lang), w.lang)]
    details = [w.tr("Returned.")]
    status = "ok"
    if line.hold_shelf:  # one place for one book: the hold shelf wins over the sorting bin
        status = "attention"
        details.append(w.tr("Someone has reserved it: please put it on the hold shelf."))
    elif line.sort_bin:
        details.append(w.tr("Please put it in bin {bin}.").format(bin=line.sort_bin))
    if line.security_failed:
        status = "attention"
    return status, details


def _common(line: ItemLine, w: Wording) -> list[str]:
    out = []
    if line.offline and line.ok:
        out.append(w.tr("Saved offline: it will be sent to the library later."))
    if line.put_back:
        out.append(w.tr("Please put this item back on the pad for a moment."))
    elif line.security_failed:
        out.append(reason_sentence(ReasonCode.SECURITY_FAILED, w.lang))
    if line.screen_message and line.reason == ReasonCode.REFUSED:
        # the library system's own words (its language, not the patron's): only when our
        # generic sentence would say less
        out.append(line.screen_message)
    return out


# ---- account ----------------------------------------------------------------------------------

LoanRow = tuple[str, str, str, bool]  # item id, title, detail, overdue


def account_parts(view: SessionView, w: Wording) -> tuple[str, list[Row], list[LoanRow]]:
    """The account screen's summary, its message rows (fines, holds ready) and its loans."""
    specs = message_rows(view, w)
    account = view.account
    if account is None:
        return "", specs, []
    n = len(account.loans)
    summary = w.ntr("You have {n} item on loan.", "You have {n} items on loan.", n).format(n=n)
    if account.fines_cents > 0:
        specs.append(("", "attention", w.tr("Fines: {amount}").format(
            amount=w.money(account.fines_cents)), [w.tr("You can pay at the desk.")]))
    for hold in account.holds:
        if hold.ready:
            specs.append((hold.item_id, "ok", hold.title, [_pick_up(hold, w)]))
    return summary, specs, [_loan(loan, view, w) for loan in account.loans]


def _pick_up(hold: Hold, w: Wording) -> str:
    """When and where, the place in the library's own words (it is not translated)."""
    day = w.day(hold.pickup_until)
    when = (w.tr("Ready for you to pick up until {date}.").format(date=day) if day
            else w.tr("Ready for you to pick up."))
    if hold.pickup_place:
        return when + " " + w.tr("Where: {place}.").format(place=hold.pickup_place)
    return when


def _loan(loan: Loan, view: SessionView, w: Wording) -> LoanRow:
    overdue = loan.overdue(w.today())
    detail = (w.tr("Overdue — it was due back on {date}.") if overdue
              else w.tr("Due back on {date}.")).format(date=w.day(loan.due))
    result = next((r for r in view.renewals if r.item_id == loan.item_id), None)
    if result is not None:
        detail = (w.tr("Renewed — due back on {date}.").format(date=w.day(loan.due))
                  if result.ok else
                  after_colon(w.tr("Not renewed:"), reason_sentence(result.reason, w.lang),
                              w.lang) + " " + detail)
    return loan.item_id, ("\u26a0 " if overdue else "") + loan.title, detail, overdue


def account_choices(w: Wording) -> tuple[str, str, str, str]:
    return w.tr("Renew selected"), w.tr("Renew all"), w.tr("Back"), w.tr("Done")


# ---- everything a screen says, in reading order (for speech) ----------------------------------

def rows_said(rows: list[Row]) -> list[str]:
    return [" ".join(part for part in (title, *details) if part) for _, _, title, details in rows]


def screen_sentences(view: SessionView, w: Wording, *, auto_print: bool = False,
                     places: tuple[str, str] = ("right", "below")) -> list[str]:
    """What the screen for `view` shows, as sentences to speak, in reading order: headings,
    messages, each item with its outcome, then the choices the patron has."""
    said: list[str] = banners(view, w)
    match view.screen:
        case Screen.IDLE:
            said += [*idle_texts(w)[:2], view.idle_message,
                     *(text for _, text in view.idle_messages),
                     *(text for _, _, text in idle_places(w, *places)),
                     *rows_said(message_rows(view, w))]
        case Screen.PIN:
            said += [*pin_texts(w), *rows_said(message_rows(view, w))]
        case Screen.HOME:
            said += [home_greeting(view, w), *rows_said(home_rows(view, w)), *home_choices(w)]
        case Screen.BORROW | Screen.RETURN:
            said += [*items_texts(view, w), *rows_said(message_rows(view, w))]
            said += rows_said([item_row(view.screen, line, w) for line in view.items])
            said += [w.tr("Back"), w.tr("Done")]
        case Screen.ACCOUNT:
            summary, specs, loans = account_parts(view, w)
            said += [w.tr("My account"), summary, *rows_said(specs)]
            said += [f"{title}. {detail}" for _, title, detail, _ in loans]
            said += list(account_choices(w))
        case Screen.RECEIPT:
            said += [*receipt_texts(view, w, auto_print=auto_print),
                     *receipt_choices(view, w)]
        case Screen.GOODBYE:
            said += [*goodbye_texts(w), *feedback_texts(view, w)]
    if view.warning_seconds_left is not None:
        said += list(timeout_texts(view.warning_seconds_left, w, more_time=view.more_time))
    return [s for s in said if s]
