"""Every `ReasonCode` as a sentence a member of the public understands, in their language.

Why here and not in the UI: the touchscreen, the printed receipt and the technician's log
viewer must all say the same thing, so the sentences live next to the catalogs and any
consumer asks `reason_sentence(code, language)`.

The English below are gettext message ids; the Dutch, French and German come from the
catalogs. A test checks that every member of `ReasonCode` has a sentence and that every
sentence is translated in every language.
"""

from __future__ import annotations

from domain.model import ReasonCode
from kiosk.i18n import N_, gettext

REASON_SENTENCES: dict[ReasonCode, str] = {
    ReasonCode.OK: N_("Done."),
    ReasonCode.UNKNOWN_PATRON: N_(
        "We do not recognise this card. Please ask at the desk."),
    ReasonCode.PIN_REQUIRED: N_("Please type your PIN."),
    ReasonCode.WRONG_PIN: N_("That PIN is not right. Please try again."),
    ReasonCode.BLOCKED: N_(
        "Your card cannot be used to borrow right now. Please ask at the desk."),
    ReasonCode.CARD_EXPIRED: N_(
        "Your card has expired. Please renew it at the desk."),
    ReasonCode.FINES_TOO_HIGH: N_(
        "You have fines to pay before you can borrow. Please go to the desk."),
    ReasonCode.TOO_MANY_ITEMS: N_(
        "You have reached the maximum number of loans."),
    ReasonCode.UNKNOWN_ITEM: N_(
        "We do not recognise this item. Please take it to the desk."),
    ReasonCode.NOT_FOR_LOAN: N_(
        "This item cannot be borrowed. It stays in the library."),
    ReasonCode.ON_HOLD_FOR_OTHER: N_(
        "Reserved for another reader — please take it to the desk."),
    ReasonCode.ALREADY_ON_LOAN: N_(
        "This item is already on loan. Please take it to the desk."),
    ReasonCode.NOT_ON_LOAN: N_("This item was not on loan; nothing to return."),
    ReasonCode.RENEW_LIMIT: N_(
        "This item cannot be renewed again. Please bring it back by the due date."),
    ReasonCode.INCOMPLETE_SET: N_(
        "Part of this set is missing. Please place all parts on the pad together."),
    ReasonCode.FOREIGN_ITEM: N_(
        "This item belongs to another library. Please take it to the desk."),
    ReasonCode.OFFLINE_NOT_ALLOWED: N_(
        "This cannot be done while we are working offline. Please ask at the desk."),
    ReasonCode.OFFLINE_LIMIT: N_(
        "You cannot borrow more items while we are working offline."),
    ReasonCode.PATRON_NOT_VERIFIED: N_(
        "We could not check your card right now. Please ask at the desk."),
    ReasonCode.INVALID_CARD: N_(
        "Your card could not be read. Please place it again."),
    ReasonCode.JOURNAL_FULL: N_(
        "The kiosk cannot save more loans right now. Please ask at the desk."),
    ReasonCode.SECURITY_FAILED: N_(
        "The security tag could not be set. Please show this item at the desk."),
    ReasonCode.REFUSED: N_("That did not work. Please ask at the desk."),
}


class MissingReason(KeyError):
    """A reason code has no sentence (a new ReasonCode member was added without one)."""


def reason_sentence(code: ReasonCode | str, language: str) -> str:
    """The patron-facing sentence for `code` in `language`."""
    try:
        msgid = REASON_SENTENCES[ReasonCode(code)]
    except (KeyError, ValueError) as exc:
        raise MissingReason(f"no sentence for reason code {code!r}") from exc
    return gettext(language, msgid)


__all__ = ["REASON_SENTENCES", "MissingReason", "reason_sentence"]


# what patrons and technicians call each device of `[devices.*]` (in their language, not the
# config's key: "lecteur de cartes", not "card_reader")
DEVICE_NAMES = {
    "card_reader": N_("card reader"),
    "rfid": N_("item pad"),
    "scanner": N_("barcode scanner"),
    "printer": N_("receipt printer"),
    "lights": N_("status light"),
    "sensor": N_("sensor"),
    "keypad": N_("keypad"),
}
DEVICE_KINDS = {"sim": N_("simulated")}  # other types ("pcsc", "feig") are product names
