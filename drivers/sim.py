"""Every simulated device twin in one place, for demo mode and tests.

    SimRfidReader, SimTag   RFID pad (FEIG protocol over a pseudo-terminal)
    SimPrinter              receipt printer (bytes and receipts in memory)
    SimCardReader           patron cards (drivers.cards_sim / drivers.cards)
    SimScanner              barcode scanner (drivers.scanner)
    SimLights               lights and buzzer (drivers.gpio)

The last three belong to other drivers. They are imported from whichever module
holds them; a twin whose module does not exist yet is simply absent here, while
any other import error (a bug in that module) is raised, not hidden.
"""

from __future__ import annotations

import importlib
from typing import Any

from drivers.printer import SimPrinter
from drivers.rfid_sim import SimRfidReader, SimTag

__all__ = ["SimPrinter", "SimRfidReader", "SimTag"]

_OTHER_TWINS = {
    "SimCardReader": ("drivers.cards_sim", "drivers.cards"),
    "SimScanner": ("drivers.scanner_sim", "drivers.scanner"),
    "SimLights": ("drivers.gpio_sim", "drivers.gpio"),
}


def _find(name: str, modules: tuple[str, ...]) -> Any | None:
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that module is not written yet
            raise
        if hasattr(module, name):
            return getattr(module, name)
    return None


for _name, _modules in _OTHER_TWINS.items():
    _twin = _find(_name, _modules)
    if _twin is not None:
        globals()[_name] = _twin
        __all__.append(_name)
