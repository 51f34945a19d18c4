"""Turn what a SIP2 server says into a `ReasonCode` the kiosk UI can translate.

SIP2 has no refusal codes: a refused checkout is ``ok=0`` plus free text in
AF, worded differently by every ILS and language. We match the wordings we
expect (English keywords, as Koha, Evergreen and FOLIO send by default) and
fall back to `ReasonCode.REFUSED` with the server's own text, which the UI
shows verbatim, so an unknown wording is still understandable to a patron.
"""

from __future__ import annotations

import re

from domain.model import ReasonCode

# First match wins: more specific phrases come before general ones.
_RULES: tuple[tuple[re.Pattern[str], ReasonCode], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"(hold|reserv|request)\w*.*(another|other|someone)|"
         r"(another|other) (patron|borrower|user)'?s? (hold|reserv)", ReasonCode.ON_HOLD_FOR_OTHER),
        (r"renew\w*.*(limit|maximum|too many|no more|exceed|not allowed)|"
         r"(limit|maximum|too many).*renew", ReasonCode.RENEW_LIMIT),
        (r"not (for loan|loanable|circulat)|non[- ]?circulat|reference only|"
         r"cannot be (checked out|borrowed|loaned)", ReasonCode.NOT_FOR_LOAN),
        (r"(invalid|unknown|no such|not found|incorrect).*(password|pin)|"
         r"(password|pin).*(invalid|incorrect|wrong|mismatch)", ReasonCode.WRONG_PIN),
        (r"(invalid|unknown|no such).*(patron|borrower|user|card)|"
         r"(patron|borrower|user|card).*not found", ReasonCode.UNKNOWN_PATRON),
        (r"(invalid|unknown|no such).*(item|barcode|copy)|(item|copy).*not found|"
         r"barcode not found", ReasonCode.UNKNOWN_ITEM),
        (r"expired", ReasonCode.CARD_EXPIRED),
        (r"(too many|maximum|limit).*(item|checkout|loan|issue)|"
         r"(checkout|loan|issue)s?.*(limit|maximum)", ReasonCode.TOO_MANY_ITEMS),
        (r"fine|fee|debt|owe|charges? (due|outstanding)|balance", ReasonCode.FINES_TOO_HIGH),
        (r"already (checked out|charged|on loan|issued)|"
         r"checked out to (another|other|someone)", ReasonCode.ALREADY_ON_LOAN),
        (r"not (checked out|charged|on loan|issued)", ReasonCode.NOT_ON_LOAN),
        (r"block|barred|debarred|restrict|suspend|lost card|card.*lost", ReasonCode.BLOCKED),
        (r"foreign|other library|not owned|wrong (library|branch)", ReasonCode.FOREIGN_ITEM),
    )
)


def reason_from_text(text: str) -> ReasonCode:
    """The ReasonCode matching a server's screen message, or REFUSED."""
    for pattern, code in _RULES:
        if pattern.search(text):
            return code
    return ReasonCode.REFUSED


# Patron status (fixed field of 24/64): position -> what a "Y" there means for the kiosk.
PATRON_STATUS_BLOCKS: tuple[tuple[int, ReasonCode], ...] = (
    (4, ReasonCode.BLOCKED),  # card reported lost
    (10, ReasonCode.FINES_TOO_HIGH),  # excessive outstanding fines
    (11, ReasonCode.FINES_TOO_HIGH),  # excessive outstanding fees
    (5, ReasonCode.TOO_MANY_ITEMS),  # too many items charged
    (6, ReasonCode.BLOCKED),  # too many items overdue
    (0, ReasonCode.BLOCKED),  # charge privileges denied
)


def block_from_status(patron_status: str, screen_message: str) -> ReasonCode | None:
    """Why this patron may not borrow, or None; charge privileges denied (pos 0) decides."""
    flags = patron_status.ljust(14)
    if flags[0] != "Y" and flags[4] != "Y":
        return None
    from_text = reason_from_text(screen_message) if screen_message else ReasonCode.REFUSED
    if from_text in (ReasonCode.CARD_EXPIRED, ReasonCode.FINES_TOO_HIGH, ReasonCode.BLOCKED,
                     ReasonCode.TOO_MANY_ITEMS):
        return from_text
    for position, code in PATRON_STATUS_BLOCKS:
        if flags[position] == "Y":
            return code
    return ReasonCode.BLOCKED  # pragma: no cover - position 0 or 4 is set here
