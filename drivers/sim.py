"""Every simulated device twin in one place, for demo mode and tests.

    SimRfidReader, SimTag   RFID pad (FEIG protocol over a pseudo-terminal)
    SimPrinter              receipt printer (bytes and receipts in memory)
    SimCardReader           patron cards (drivers.cards_sim)
    SimScanner              barcode scanner (drivers.scanner)
    SimLights, SimSensor    lights, buzzer and book-drop sensor (drivers.gpio)

Each twin lives beside the driver it stands in for and speaks its interface; `kiosk.devices`
names them in its table of drivers under the type "sim".
"""

from __future__ import annotations

from drivers.cards_sim import SimCardReader
from drivers.gpio import SimKeypad, SimLights, SimSensor
from drivers.printer import SimPrinter
from drivers.rfid_sim import SimRfidReader, SimTag
from drivers.scanner import SimScanner

__all__ = ["SimCardReader", "SimKeypad", "SimLights", "SimPrinter", "SimRfidReader", "SimScanner",
           "SimSensor", "SimTag"]
