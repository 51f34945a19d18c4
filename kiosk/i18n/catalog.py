"""Loading a language's catalog: the committed ``.mo`` if present, else the ``.po`` compiled
in memory with Babel.

Why both: the ``.mo`` files are committed so a plain checkout needs no build step, but a
translator who edits a ``.po`` and forgets to recompile still sees their change (a test
checks that the committed ``.mo`` matches its ``.po``).
"""

from __future__ import annotations

import gettext
import io
import logging
import struct
from pathlib import Path

log = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).resolve().parent
DOMAIN = "kiosk"


class CatalogError(Exception):
    """A catalog file is missing or cannot be parsed."""


def po_path(language: str) -> Path:
    return CATALOG_DIR / f"{language}.po"


def mo_path(language: str) -> Path:
    return CATALOG_DIR / f"{language}.mo"


def compile_po(language: str) -> bytes:
    """The ``.mo`` bytes for `language`'s ``.po`` (fuzzy entries are left out, as msgfmt does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    try:
        with po_path(language).open("rb") as fh:
            catalog = read_po(fh, locale=language, domain=DOMAIN)
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read {po_path(language).name}: {exc}") from exc
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def load_translations(language: str) -> gettext.GNUTranslations:
    mo = mo_path(language)
    try:
        data = mo.read_bytes() if mo.exists() else compile_po(language)
        return gettext.GNUTranslations(io.BytesIO(data))
    except (OSError, struct.error, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read catalog for {language}: {exc}") from exc


def compile_all(languages: tuple[str, ...]) -> list[Path]:
    """Write every ``<lang>.mo`` from its ``.po`` (used by ``python -m kiosk.i18n.extract``)."""
    written = []
    for language in languages:
        mo_path(language).write_bytes(compile_po(language))
        written.append(mo_path(language))
    return written
