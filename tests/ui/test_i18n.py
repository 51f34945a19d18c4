"""The catalogs: every patron-visible message translated in nl/fr/de/en, placeholders kept,
the committed .mo files equal to their .po sources, every ReasonCode a sentence."""

from __future__ import annotations

import gettext as stdlib_gettext
import io
import re
import string
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from domain.model import ReasonCode
from kiosk import i18n
from kiosk.i18n import catalog
from kiosk.i18n.extract import extract
from kiosk.i18n.reasons import REASON_SENTENCES, MissingReason, reason_sentence
from kiosk.ui.theme import OTHER_GLYPHS, STATUS_GLYPHS, font_path


def po(language: str):
    with catalog.po_path(language).open("rb") as fh:
        return read_po(fh, locale=language, domain=catalog.DOMAIN)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_reason_code_has_a_sentence_in_every_language() -> None:
    assert set(REASON_SENTENCES) == set(ReasonCode)
    for language in i18n.LANGUAGES:
        sentences = [reason_sentence(code, language) for code in ReasonCode]
        assert all(s.strip() for s in sentences)
        assert len(set(sentences)) == len(sentences), language  # no two reasons say the same
        if language != "en":
            same = [c for c in ReasonCode if reason_sentence(c, language) == REASON_SENTENCES[c]]
            assert same == [], f"{language}: untranslated {same}"


def test_reason_sentences_say_what_to_do() -> None:
    assert reason_sentence(ReasonCode.ON_HOLD_FOR_OTHER, "en") == (
        "Reserved for another reader — please take it to the desk.")
    assert reason_sentence("on_hold_for_other", "nl") == (
        "Gereserveerd voor een andere lezer — breng het naar de balie.")
    assert "accueil" in reason_sentence(ReasonCode.ON_HOLD_FOR_OTHER, "fr")
    assert "Theke" in reason_sentence(ReasonCode.ON_HOLD_FOR_OTHER, "de")
    with pytest.raises(MissingReason):
        reason_sentence("no_such_reason", "nl")


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_extracted_message_is_translated(language: str) -> None:
    template = extract()
    translated = po(language)
    for message in template:
        if not message.id:
            continue
        entry = translated.get(message.id)
        assert entry is not None, f"{language}.po lacks {message.id!r}: run kiosk.i18n.extract"
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings), f"{language}: {message.id!r} is not translated"
        assert not entry.fuzzy, f"{language}: {message.id!r} is fuzzy"
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for s in strings:
            assert fields(s) == fields(ids[-1]), f"{language}: placeholders differ in {s!r}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_committed_mo_matches_its_po(language: str) -> None:
    committed = stdlib_gettext.GNUTranslations(io.BytesIO(catalog.mo_path(language).read_bytes()))
    fresh = stdlib_gettext.GNUTranslations(io.BytesIO(catalog.compile_po(language)))
    assert committed._catalog == fresh._catalog  # type: ignore[attr-defined]


def test_catalog_compiled_from_po_when_mo_is_missing(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("fr.po",):
        (tmp_path / name).write_bytes((catalog.CATALOG_DIR / name).read_bytes())
    monkeypatch.setattr(catalog, "CATALOG_DIR", tmp_path)
    t = catalog.load_translations("fr")
    assert t.gettext("Borrow") == "Emprunter"


def test_a_broken_catalog_is_a_named_error_and_the_ui_falls_back_to_english(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "de.mo").write_bytes(b"not a catalog")
    monkeypatch.setattr(catalog, "CATALOG_DIR", tmp_path)
    with pytest.raises(catalog.CatalogError):
        catalog.load_translations("de")
    i18n.translations.cache_clear()
    try:
        assert i18n.gettext("de", "Borrow") == "Borrow"
    finally:
        monkeypatch.undo()
        i18n.translations.cache_clear()
    assert i18n.gettext("de", "Borrow") == "Ausleihen"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(i18n.UnknownLanguage):
        i18n.gettext("xx", "Borrow")


def test_plurals_and_dates_follow_each_language() -> None:
    one, many = "You have borrowed {n} item.", "You have borrowed {n} items."
    assert i18n.ngettext("nl", one, many, 1) == "U hebt {n} exemplaar geleend."
    assert i18n.ngettext("nl", one, many, 0) == "U hebt {n} exemplaren geleend."
    assert i18n.ngettext("fr", one, many, 0) == "Vous avez emprunté {n} document."  # 0 is singular
    assert i18n.ngettext("de", one, many, 2) == "Sie haben {n} Medien ausgeliehen."
    d = date(2026, 3, 12)
    assert i18n.format_day(d, "nl") == "donderdag 12 maart"
    assert i18n.format_day(d, "fr") == "jeudi 12 mars"
    assert i18n.format_day(d, "de") == "Donnerstag, 12. März"  # comma and dot, as German has
    assert i18n.format_day(d, "en") == "Thursday, 12 March"
    assert i18n.format_money(1250, "nl").replace("\xa0", " ") == "€ 12,50"
    assert [i18n.language_name(x) for x in i18n.LANGUAGES] == [
        "Nederlands", "Français", "Deutsch", "English"]


def test_every_glyph_the_ui_draws_exists_in_the_bundled_font() -> None:
    from PIL import ImageFont

    font = ImageFont.truetype(font_path(), 40)

    def bitmap(ch: str) -> tuple[tuple[int, int], bytes]:
        mask = font.getmask(ch)
        return mask.size, bytes(mask)

    missing = bitmap("\ue000")  # a private-use code point: the font's "missing" box
    for glyph in (*STATUS_GLYPHS.values(), *OTHER_GLYPHS):
        assert bitmap(glyph) != missing, f"U+{ord(glyph):04X} is not in DejaVu Sans"


def test_no_patron_text_is_hard_coded_in_the_kv_file() -> None:
    kv = (Path(catalog.CATALOG_DIR).parent / "ui" / "kiosk.kv").read_text(encoding="utf-8")
    literal_texts = re.findall(r"^\s*text:\s*'([^'\\]*[A-Za-z]{2,}[^']*)'", kv, re.M)
    assert literal_texts == []


def test_durations_follow_each_language() -> None:
    """How long the catalog took to answer, how old the oldest queued loan is (technician
    console): the unit a person picks, written the way each language writes it."""
    assert [i18n.format_duration(s, "nl") for s in (0.012, 4.25, 45, 700, 5400)] == [
        "12 ms", "4,2 sec", "45 sec", "12 min", "1,5 uur"]
    assert i18n.format_duration(700, "fr") == "12\xa0min"
    assert i18n.format_duration(5400, "fr") == "1,5\u202fh"
    assert i18n.format_duration(45, "de") == "45 Sek."
    assert i18n.format_duration(1.5, "en") == "1.5 sec"
