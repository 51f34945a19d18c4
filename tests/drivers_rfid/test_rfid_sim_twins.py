"""drivers.sim gathers every simulated twin; ours work together end to end."""

from __future__ import annotations

from datetime import date, datetime

from drivers import sim
from drivers.device import SIMULATED
from drivers.printer import Receipt
from drivers.rfid import RfidPad


def test_every_twin_the_config_can_name_is_exported_and_says_it_is_simulated() -> None:
    from kiosk.devices import DRIVERS

    twins = [kinds["sim"] for kinds in DRIVERS.values() if kinds.get("sim") is not None]
    assert len(twins) == 6  # card reader, scanner, lights, sensor, keypad, printer (pad: below)
    for twin in twins:
        assert getattr(sim, twin.__name__) is twin
        assert twin.probe() == SIMULATED  # the doctor asks twins too: they never fail
    assert {"SimRfidReader", "SimTag"} <= set(sim.__all__)


def test_return_two_items_and_print_the_receipt() -> None:
    with sim.SimRfidReader() as reader_device, RfidPad(reader_device.open_reader(),
                                                       library_isils=["NL-AmRBL"]) as pad:
        reader_device.place_items(["3900001", "3900002"], secured=False)  # back from loan
        tags = pad.poll_once()
        assert [t.secured for t in tags] == [False, False]
        assert all(pad.set_secured(t.uid, True) for t in tags)
        printer = sim.SimPrinter()
        printer.print_receipt(Receipt(
            library_name="Bibliotheek", when=datetime(2026, 3, 1, 10, 0), language="nl",
            lines=tuple((t.item_id, "Ingeleverd") for t in tags), kind="return"))
    assert [t.afi for t in reader_device.tags] == [0x07, 0x07]
    assert b"Ingeleverd" in printer.output and len(printer.receipts) == 1
    assert date(2026, 3, 1) == printer.receipts[0].when.date()
