"""The staff pages' words in Dutch, French, German and English.

The pages are drawn by JavaScript from JSON, so their words travel the same way: the page asks
`GET /staff/api/strings` once and puts them in (`central/static/staff-i18n.js`). The catalogs
are gettext `.po` files (central/i18n/<language>.po, read with Babel as the kiosk's are), so a
translator uses the same tools for the kiosk and the staff pages. Marked words: `data-t="..."`
in central/templates and `t("...")` in central/static; `python -m central.staff_i18n` extracts
them into the catalogs, and tests/staff fails while any of them has no translation.

The staff member's choice is a cookie (`kiosk_staff_lang`, a year, path /staff) that the page
sets; without one the browser's Accept-Language decides, then English.
"""

from __future__ import annotations

import functools
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
CATALOGS = HERE / "i18n"
LANGUAGES = ("nl", "fr", "de", "en")
NAMES = {"nl": "Nederlands", "fr": "Français", "de": "Deutsch", "en": "English"}
COOKIE = "kiosk_staff_lang"
SOURCES = {"templates": re.compile(r'data-(?:t|t-label|title)="([^"]+)"'),
           "static": re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)+)"')}
VENDORED = ("chart.umd.min.js", "chartjs-chart-matrix.min.js")


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language to show: the staff member's choice, else their browser's, else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"


@functools.cache
def strings(language: str) -> dict[str, str]:
    """msgid -> translation for `language` (untranslated and fuzzy entries left out)."""
    with (CATALOGS / f"{language}.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {str(m.id): str(m.string) for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def extract() -> list[tuple[str, str, int]]:
    """(msgid, file, line) of every marked word of the staff pages, in order of appearance."""
    found: list[tuple[str, str, int]] = []
    for folder, pattern in SOURCES.items():
        for path in sorted((HERE / folder).iterdir()):
            if path.name in VENDORED or path.suffix not in (".html", ".js"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found += [(m.replace('\\"', '"'), f"central/{folder}/{path.name}", number)
                          for m in pattern.findall(line)]
    return found


def main() -> int:
    """`python -m central.staff_i18n`: merge the marked words into each catalog."""
    template = Catalog(project="library-kiosk staff pages", charset="utf-8",
                       creation_date=datetime(2026, 1, 1, tzinfo=UTC))
    for words, where, line in extract():
        template.add(words, locations=[(where, line)])
    for language in LANGUAGES:
        path = CATALOGS / f"{language}.po"
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=language)
        else:
            catalog = Catalog(locale=language, project="library-kiosk staff pages")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == "en":  # the words are English already
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, sort_output=False, include_previous=False)
        untranslated = [m.id for m in catalog if m.id and not m.string]
        print(f"{path.relative_to(HERE.parent)}: {len(untranslated)} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
