"""What the screens say (kiosk/ui/wording.py), as a new patron reads it: one instruction per
book, faults only where they change something, and each language's own punctuation."""

from __future__ import annotations

from datetime import date

from domain.model import ReasonCode
from kiosk.session import ItemLine, Screen, SessionView
from kiosk.ui.wording import Words, banners, item_row, screen_sentences


def test_a_printer_fault_is_told_where_a_receipt_is_asked_for_not_on_the_return_screen() -> None:
    w = Words("nl")
    returning = SessionView(screen=Screen.RETURN, devices_down=("printer",))
    assert banners(returning, w) == []
    receipt = SessionView(screen=Screen.RECEIPT, devices_down=("printer",))
    assert banners(receipt, w) == [
        "Werkt nu niet: ticketprinter. Vraag het aan de balie."]
    pad_down = SessionView(screen=Screen.RETURN, devices_down=("rfid", "printer"), offline=True)
    said = banners(pad_down, w)
    assert len(said) == 2 and "ticketprinter" not in said[1] and said[1].startswith("Werkt")


def test_a_reserved_book_gets_one_place_to_go() -> None:
    line = ItemLine("370", "De verloren rivier", True, hold_shelf=True, sort_bin="R")
    _, status, _, details = item_row(Screen.RETURN, line, Words("nl"))
    assert status == "attention"
    assert len(details) == 2 and "bak" not in " ".join(details).lower()  # returned + shelf


def test_after_a_colon_french_and_dutch_go_on_in_lower_case_german_keeps_its_capital() -> None:
    line = ItemLine("370", "", False, reason=ReasonCode.ON_HOLD_FOR_OTHER)
    for lang in ("fr", "nl"):
        said = item_row(Screen.BORROW, line, Words(lang))[3][0]
        rest = said.partition(": ")[2]
        assert rest and rest[0].islower(), said
    german = item_row(Screen.BORROW, line, Words("de"))[3][0]
    assert german.partition(": ")[2][0].isupper()


def test_due_dates_read_as_each_language_writes_them() -> None:
    line = ItemLine("370", "Titel", True, due=date(2026, 12, 4))
    said = {lang: item_row(Screen.BORROW, line, Words(lang))[3][0] for lang in ("de", "nl")}
    assert "Freitag, 4. Dezember" in said["de"]
    assert "vrijdag 4 december" in said["nl"]


def test_the_idle_screen_points_where_this_kiosk_has_its_reader_and_pad() -> None:
    from kiosk.ui.wording import idle_places

    assert idle_places(Words("nl"), "left", "below") == [
        ("card", "\u2190", "Uw kaart: op de lezer links van het scherm."),
        ("books", "\u2193", "Uw boeken: op de plaat onder het scherm.")]
    said = " ".join(screen_sentences(SessionView(), Words("fr"), places=("above", "right")))
    assert "sur le lecteur au-dessus de l'écran" in said and "à droite de l'écran" in said


def test_config_check_refuses_a_place_that_is_not_one(tmp_path) -> None:
    from kiosk import config

    path = tmp_path / "kiosk.toml"
    path.write_text('[ui]\ncard_reader_at = "behind"\n'
                    '[backend]\nurl = "https://catalog.example/"\ntoken = "t"\n')
    (problem,) = config.check(path, environ={})
    assert problem.key == "ui.card_reader_at" and "left, right, below, above" in problem.message
