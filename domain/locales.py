"""Which Babel locale writes a patron language's dates and times.

Why here: the screens (kiosk.i18n) and the receipts (drivers.printer, on paper and by
e-mail) must write the same date the same way; English is a European library's English.
"""

from __future__ import annotations


def date_locale(language: str) -> str:
    """ "Tuesday 12 March" and 14:05, not the US "Tuesday, March 12" and 2:05 PM."""
    return "en_GB" if language == "en" else language
