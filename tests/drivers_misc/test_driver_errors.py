"""One error root for every driver: the kiosk and the technician console catch `DriverError`
for any device, and a closed device says so with one `DeviceClosed`, whatever its kind."""

from __future__ import annotations

import queue

import pytest

from drivers import card_errors, gpio, printer, rfid_errors, scanner
from drivers.cards_sim import SimCardReader
from drivers.errors import DeviceClosed, DriverError


@pytest.mark.parametrize("root", [card_errors.CardError, rfid_errors.RfidError,
                                  scanner.ScannerError, gpio.GpioError, printer.PrinterError])
def test_every_driver_tree_hangs_under_the_one_root(root: type[Exception]) -> None:
    assert issubclass(root, DriverError)


def test_a_closed_device_of_any_kind_raises_the_same_error() -> None:
    events: queue.Queue[object] = queue.Queue()
    devices = [SimCardReader(events), scanner.SimScanner(events)]
    for device in devices:
        device.close()
        with pytest.raises(DeviceClosed) as raised:
            device.start()
        assert isinstance(raised.value, DriverError)
    lights = gpio.SimLights()
    lights.close()
    with pytest.raises(DriverError):
        lights.show(gpio.LightState.READY)
