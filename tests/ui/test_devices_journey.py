"""A borrow with the real drivers and their simulated twins: the card reader twin, and the
FEIG RFID driver talking its byte protocol over a pseudo-terminal to the simulated pad. The
item's security (AFI) is switched off by the driver before the screen says "borrowed"."""

from __future__ import annotations

from collections.abc import Callable

from ui_harness import TITLES, Ui, first_name, patron

from domain.demo_library import AVAILABLE_ITEMS
from kiosk.app import Kiosk
from kiosk.ui import probe
from kiosk.ui.widgets import StatusRow

AFI_UNSECURED = 0xC2


def test_card_then_books_on_the_rfid_pad(ui: Ui, make_kiosk: Callable[..., Kiosk]) -> None:
    kiosk = make_kiosk(devices={"card_reader": {"type": "sim"},
                                "rfid": {"type": "sim", "poll_interval": 0.05},
                                "printer": {"type": "sim"}})
    devices = kiosk.devices
    jan = patron("P0001")  # his card's UID is in the demo library
    assert devices.card_reader.present_uid("04A1B2C3D4E5F6")
    assert probe.pump_until(lambda: ui.screen == "home", 5)
    assert f"Hallo {first_name(jan)}!" in ui.text()
    ui.tap("mode-borrow")

    books = AVAILABLE_ITEMS[30:32]
    tags = devices.rfid_sim.place_items(books)
    assert probe.pump_until(
        lambda: sum(isinstance(w, StatusRow) and w.status == "ok"
                    for w in probe.on_screen(ui.app)) == 2, 10)
    text = ui.text()
    for book in books:
        assert TITLES[book] in text
    assert text.count("Geleend — terugbrengen op") == 2
    assert [devices.rfid_sim.tag(t.uid).afi for t in tags] == [AFI_UNSECURED] * 2

    devices.rfid_sim.place_items(())  # the books leave the pad
    ui.tap("done")
    ui.tap("receipt-print")
    assert probe.pump_until(lambda: ui.screen == "idle", 5)
    assert {loan.item_id for loan in kiosk.backend.account(jan.patron_id).loans} >= set(books)
