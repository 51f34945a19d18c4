"""Translations for everything a patron or a technician can read: screens, reason sentences,
receipts, the technician console.

Why gettext catalogs (one ``<lang>.po`` per language beside this file, compiled to ``<lang>.mo``):
translators work with standard tools, and the receipt printer and the touchscreen share the
same sentences. Message ids are English; Dutch is the default language of the kiosk.

Dates and plurals go through Babel so "3 items" / "1 item" and "12 maart 2026" follow each
language's own rules.
"""

from __future__ import annotations

import gettext as _gettext
import logging
import re
from datetime import date
from functools import cache

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.numbers import format_currency
from babel.units import format_unit

from domain.locales import date_locale
from kiosk.i18n.catalog import CatalogError, load_translations

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "nl"
LANGUAGES: tuple[str, ...] = ("nl", "fr", "de", "en")


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (it is translated when shown)."""
    return message


class UnknownLanguage(ValueError):
    """A language was asked for that has no catalog."""


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalog for `language`; English message ids are shown when a message is missing."""
    if language not in LANGUAGES:
        raise UnknownLanguage(f"no catalog for language {language!r}; have {', '.join(LANGUAGES)}")
    try:
        return load_translations(language)
    except CatalogError:
        log.exception("catalog for %s could not be loaded; showing English", language)
        return _gettext.NullTranslations()


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


def format_date(value: date, language: str, fmt: str = "long") -> str:
    """A due date the way a reader of `language` writes it (e.g. "12 maart 2026")."""
    return _babel_format_date(value, format=fmt, locale=language)


def format_day(value: date, language: str) -> str:
    """Weekday and date as the language writes them, e.g. "dinsdag 12 maart", "Dienstag,
    12. März", "Tuesday 12 March": the locale's own full date pattern without the year."""
    return _babel_format_date(value, format=_day_pattern(language), locale=_date_locale(language))


def _date_locale(language: str) -> str:
    return date_locale(language)


@cache
def _day_pattern(language: str) -> str:
    full = Locale.parse(_date_locale(language)).date_formats["full"].pattern
    without_year = re.sub(r"[\s,]*\by+\b\.?", "", full).strip(" ,")
    return without_year or "EEEE d MMMM"


def format_money(cents: int, language: str, currency: str = "EUR") -> str:
    return format_currency(cents / 100, currency, locale=language)


def format_duration(seconds: float, language: str) -> str:
    """A span of time in the unit a person picks ("250 ms", "4,2 s", "12 min", "1,5 uur").

    Why Babel's units: the number, the unit's short name and the space between them (a narrow
    no-break space in French) differ per language, and a technician reads them in their own.
    """
    if seconds < 1:
        return format_unit(round(seconds * 1000), "duration-millisecond", length="short",
                           locale=language)
    if seconds < 10:
        return format_unit(seconds, "duration-second", length="short", format="#,##0.#",
                           locale=language)
    if seconds < 90:
        return format_unit(round(seconds), "duration-second", length="short", locale=language)
    if seconds < 5400:
        return format_unit(round(seconds / 60), "duration-minute", length="short",
                           locale=language)
    return format_unit(seconds / 3600, "duration-hour", length="short", format="#,##0.0",
                       locale=language)


def language_name(language: str) -> str:
    """The language's own name ("Nederlands", "Français"): a patron looks for their own."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def weekday_names(language: str) -> list[str]:
    """Monday first, in `language`."""
    days = Locale.parse(language).days["format"]["wide"]
    return [str(days[i]) for i in range(7)]


__all__ = [
    "DEFAULT_LANGUAGE", "LANGUAGES", "N_", "UnknownLanguage", "format_date", "format_day",
    "format_duration", "format_money", "gettext", "language_name", "ngettext", "translations",
    "weekday_names",
]
