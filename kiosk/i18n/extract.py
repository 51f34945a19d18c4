"""Refresh the catalogs: extract every marked string, merge into each ``.po``, compile ``.mo``.

    python -m kiosk.i18n.extract            # after changing any text a patron or technician reads

Marked strings: ``N_("...")`` (translated later), ``tr("...")`` / ``ntr("one", "many", n)``
on the UI, and ``gettext(language, "...")`` / ``ngettext(language, "one", "many", n)``
anywhere in ``kiosk/`` and ``drivers/``. New messages arrive untranslated; `tests/ui`
fails until every language has a translation for every message.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from kiosk.i18n import LANGUAGES
from kiosk.i18n.catalog import CATALOG_DIR, DOMAIN, compile_all, po_path

ROOT = CATALOG_DIR.parent.parent
KEYWORDS = {"N_": None, "_": None, "tr": None, "ntr": (1, 2), "gettext": (2,), "ngettext": (2, 3)}
SOURCES = ("kiosk", "drivers")


def extract() -> Catalog:
    template = Catalog(domain=DOMAIN, project="library-kiosk", charset="utf-8",
                       creation_date=datetime(2026, 1, 1, tzinfo=UTC))
    for source in SOURCES:
        directory = ROOT / source
        if not directory.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            str(directory), method_map=[("**.py", "python")], keywords=KEYWORDS,
        ):
            if not message or (isinstance(message, tuple) and not all(message)):
                continue
            where = f"{source}/{filename}"
            template.add(message, locations=[(where, lineno)], auto_comments=comments,
                         context=context)
    return template


def merge(template: Catalog, language: str) -> Catalog:
    path = po_path(language)
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language, domain=DOMAIN)
    else:
        catalog = Catalog(locale=language, domain=DOMAIN, project="library-kiosk")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    catalog.fuzzy = False  # a fuzzy header would be dropped from the .mo, and its plural rule
    catalog.version = "0.1.0"
    catalog.last_translator = "library-kiosk team"
    catalog.language_team = f"{language} <kiosk@example.org>"
    return catalog


def write(catalog: Catalog, path: Path) -> None:
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=False,
                 include_previous=False)


def main() -> int:
    template = extract()
    write(template, CATALOG_DIR / f"{DOMAIN}.pot")
    for language in LANGUAGES:
        write(merge(template, language), po_path(language))
    for path in compile_all(LANGUAGES):
        print(f"compiled {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
