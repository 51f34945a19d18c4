"""drivers.sim gathers every simulated twin; ours work together end to end."""

from __future__ import annotations

import importlib
import importlib.util
from datetime import date, datetime

from drivers import sim
from drivers.printer import Receipt
from drivers.rfid import RfidPad


def test_every_existing_twin_is_exported() -> None:
    assert {"SimRfidReader", "SimTag", "SimPrinter"} <= set(sim.__all__)
    for name, modules in sim._OTHER_TWINS.items():
        defined = any(
            importlib.util.find_spec(m) is not None and hasattr(importlib.import_module(m), name)
            for m in modules
        )
        assert (name in sim.__all__) is defined, name
        if defined:
            assert getattr(sim, name).__name__ == name


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
