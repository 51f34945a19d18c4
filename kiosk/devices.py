"""Devices from config: each `[devices.NAME]` table names a `type` and the driver's own options.

Why one place: the drivers stay ignorant of the config file and of each other, and the rest of
the kiosk only sees the `Devices` bundle: events arrive on the queue, and the session gets two
callables (security flip, receipt printing). `check(settings)` validates the device tables
against the drivers' constructor signatures without opening any hardware, so
`kiosk config check` catches a misspelt option before a technician leaves the branch.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.events import EventSink
from drivers.cards import PcscCardReader
from drivers.cards_sim import SimCardReader
from drivers.device import SIMULATED, Device, Probe
from drivers.gpio import GpioKeypad, GpioLights, Sensor, SimKeypad, SimLights, SimSensor
from drivers.printer import Receipt, ReceiptPrinter, SimPrinter
from drivers.rfid import RfidPad, SecurityPolicy
from drivers.rfid_feig import FeigReader
from drivers.rfid_sim import SimRfidReader
from drivers.scanner import EvdevScanner, SerialScanner, SimScanner
from kiosk import config
from kiosk.config import Problem, Settings
from kiosk.session_io import Receipt as SessionReceipt
from kiosk.session_io import Security

log = logging.getLogger(__name__)


class DeviceConfigError(ValueError):
    """A device table names an unknown type or options its driver does not take."""


# every driver the config may name, by device and type: the simulated twins beside the real
# ones. The RFID pad's "sim" type (None here) is the real pad driver over a simulated reader,
# which takes no reader options (`_build_rfid`).
DRIVERS: dict[str, dict[str, type[Device] | None]] = {
    "card_reader": {"pcsc": PcscCardReader, "sim": SimCardReader},
    "scanner": {"evdev": EvdevScanner, "serial": SerialScanner, "sim": SimScanner},
    "lights": {"gpio": GpioLights, "sim": SimLights},
    "sensor": {"gpio": Sensor, "sim": SimSensor},
    "keypad": {"gpio": GpioKeypad, "sim": SimKeypad},  # the patron's keys (KeyPressed)
    "printer": {"escpos": ReceiptPrinter, "sim": SimPrinter},
    "rfid": {"feig": FeigReader, "sim": None},
}
# options the factory itself consumes for the RFID pad (the rest go to the reader)
_PAD_OPTIONS = {"afi_secured", "afi_unsecured", "use_eas", "attempts", "poll_interval",
                "memory_bytes"}
# what the kiosk hands a driver itself: never an option of the config file
_INJECTED = {"sink", "self", "source", "pin_factory", "serial_factory", "opener"}


def load_checked(path: str | Path, *, environ: Mapping[str, str] | None = None,
                 overlay: Mapping[str, Any] | None = None) -> Settings:
    """`kiosk config check` as a function: the file (with a central profile laid over it),
    then its device tables; ConfigError lists every problem of both in one go."""
    try:
        settings = config.load(path, environ=environ, overlay=overlay)
    except config.ConfigError as exc:  # every section in one pass: [devices.*] too
        raise config.ConfigError(exc.problems + (check(exc.settings) if exc.settings else []),
                                 settings=exc.settings) from None
    problems = check(settings)
    if problems:
        raise config.ConfigError(problems, settings=settings)
    return settings


def check(settings: Settings) -> list[Problem]:
    """Every problem in the device tables, without touching hardware."""
    problems: list[Problem] = []
    for name, table in settings.devices.items():
        key = f"devices.{name}"
        if name not in DRIVERS:
            problems.append(Problem(settings.source, key, f"unknown device; expected one of "
                                                          f"{', '.join(sorted(DRIVERS))}"))
            continue
        kind = str(table.get("type", "none"))
        if kind == "none":
            continue
        if kind not in DRIVERS[name]:
            problems.append(Problem(settings.source, f"{key}.type",
                                    f"unknown type {kind!r} for {name}"))
            continue
        options = {k for k in table if k != "type"}
        if name == "rfid":
            options -= _PAD_OPTIONS
        factory = DRIVERS[name][kind]
        if factory is None:  # the simulated pad takes no reader options
            accepted: set[str] = set()
            required: set[str] = set()
        else:
            params = inspect.signature(factory).parameters
            accepted = set(params) - _INJECTED
            required = {n for n, p in params.items() if p.default is p.empty
                        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - _INJECTED
        for option in sorted(required - options):
            problems.append(Problem(settings.source, f"{key}.{option}",
                                    f"missing: the {kind} {name} needs {option}"))
        for option in sorted(options - accepted):
            problems.append(Problem(settings.source, f"{key}.{option}",
                                    f"not an option of the {kind} {name}; expected one of: "
                                    f"{', '.join(sorted(accepted)) or '(none)'}"))
    return problems


def probe(name: str, table: dict[str, Any]) -> Probe:
    """Ask the driver a device table names whether it would work here (for `kiosk doctor`);
    a table `check` accepted. Nothing is opened for the session."""
    kind = str(table.get("type", "none"))
    driver = DRIVERS[name][kind]
    options = _options(table, _PAD_OPTIONS if name == "rfid" else None)
    return SIMULATED if driver is None else driver.probe(**options)


def paper_receipt(receipt: SessionReceipt, *, library_name: str,
                  kind: str = "receipt") -> Receipt:
    """What the patron did (the session's receipt) as what goes on paper: titles and due
    dates, never a patron identifier; an item without a known title is printed by its item
    number."""
    return Receipt(
        library_name=library_name, when=receipt.when, language=receipt.language,
        lines=tuple((line.title or line.item_id, line.due) for line in receipt.lines),
        offline=receipt.offline, kind=kind,
    )


@dataclass
class Devices:
    """The kiosk's hardware (or its twins). The composition root wires it to the session and
    the technician port; the UI never calls a device."""

    card_reader: PcscCardReader | SimCardReader | None = None
    rfid: RfidPad | None = None
    rfid_sim: SimRfidReader | None = None  # the simulated reader under a "sim" pad
    scanner: EvdevScanner | SerialScanner | SimScanner | None = None
    printer: ReceiptPrinter | None = None  # SimPrinter is one
    lights: GpioLights | SimLights | None = None
    sensor: Sensor | SimSensor | None = None  # book-drop chute or service door
    keypad: GpioKeypad | SimKeypad | None = None  # the patron's keys beside the screen
    library_name: str = ""
    _started: list[Any] = field(default_factory=list)
    # headless kiosks beep from the session's views; with a screen the UI calls `cue`, so the
    # patron's "sound off" switch silences the buzzer too
    beep_on_views: bool = True
    _heard: set[tuple[object, ...]] = field(default_factory=set)
    _light: str = ""

    def cue(self, kind: str) -> None:
        """The UI's audio cue ("success" | "attention") on the buzzer."""
        if self.lights is None:
            return
        from drivers.gpio import BeepPattern

        try:
            self.lights.beep(BeepPattern(kind))
        except Exception:  # an unknown cue or a dead buzzer must never stop a loan
            log.exception("buzzer cue %r failed", kind)

    def on_view(self, view: Any) -> None:
        """Lights and beeps follow the session: a view listener (runs on the event thread)."""
        if self.lights is None:
            return
        from drivers.gpio import BeepPattern, LightState

        if view.devices_down:
            state = LightState.FAULT
        elif view.busy:
            state = LightState.BUSY
        elif view.offline:
            state = LightState.OFFLINE
        else:
            state = LightState.READY
        try:
            if state != self._light:
                self.lights.show(state)
                self._light = state
            # one beep per line as it settles (a pile's lines settle one by one; a line still
            # being checked says nothing yet)
            settled = {(line.item_id, line.ok, line.reason): line.ok
                       for line in (*view.items, *view.renewals) if not line.working}
            if self.beep_on_views:
                for key, ok in settled.items():
                    if key not in self._heard:
                        self.lights.beep(BeepPattern.SUCCESS if ok else BeepPattern.ATTENTION)
            self._heard = set(settled)
        except Exception:  # a dead buzzer must never stop a loan
            log.exception("lights/buzzer failed")

    def security(self, uid: str, secured: bool) -> Security:
        """The session's security flip: written and read back (with the pad's retries), or
        why not: the tag left the pad (the patron can put it back) or it would not stick."""
        if self.rfid is None:
            return Security.SET
        if self.rfid.set_secured(uid, secured):
            return Security.SET
        return Security.FAILED if self.rfid.on_pad(uid) else Security.PUT_BACK

    def print_receipt(self, receipt: SessionReceipt) -> None:
        """The session's `print_receipt`: the patron's receipt on paper, in their language."""
        if self.printer is None:
            return
        from kiosk.i18n import translations

        paper = paper_receipt(receipt, library_name=self.library_name)
        self.printer.print_receipt(paper, gettext=translations(receipt.language).gettext)

    # ---- the technician's tests (kiosk.technician.port), through the drivers' interfaces

    def print_test_receipt(self, receipt: Receipt, gettext: Callable[[str], str]) -> bool:
        """Print `receipt`; False when there is no printer.
        Raises the driver's error (out of paper, offline) for the technician to read."""
        if self.printer is None:
            return False
        self.printer.print_receipt(receipt, gettext=gettext)
        return True

    def test_lights(self, step_s: float) -> bool:
        """Every light state in turn and one beep, back to ready; False without lights."""
        if self.lights is None:
            return False
        from drivers.gpio import BeepPattern, LightState

        for state in (LightState.READY, LightState.BUSY, LightState.OFFLINE, LightState.FAULT):
            self.lights.show(state)
            time.sleep(step_s)
        self.lights.beep(BeepPattern.SUCCESS)
        self.lights.show(LightState.READY)
        self._light = LightState.READY
        return True

    def start(self) -> None:
        for device in (self.card_reader, self.scanner, self.rfid):
            if device is not None and hasattr(device, "start"):
                device.start()
                self._started.append(device)

    def close(self) -> None:
        for device in (self.card_reader, self.scanner, self.rfid, self.printer, self.lights,
                       self.sensor, self.keypad, self.rfid_sim):
            if device is None:
                continue
            try:
                device.close()
            except Exception:  # closing one device must not keep the others open
                log.exception("closing %s failed", type(device).__name__)


def _options(table: dict[str, Any], drop: set[str] | None = None) -> dict[str, Any]:
    return {k: v for k, v in table.items() if k != "type" and k not in (drop or set())}


def build(settings: Settings, sink: EventSink) -> Devices:
    """Open the configured devices. Raises DeviceConfigError for a bad table."""
    problems = check(settings)
    if problems:
        raise DeviceConfigError("; ".join(str(p) for p in problems))
    devices = Devices(library_name=settings.library.name)
    tables = settings.devices
    try:
        for name in ("card_reader", "scanner", "lights", "printer", "sensor", "keypad"):
            table = tables.get(name, {})
            kind = str(table.get("type", "none"))
            if kind == "none":
                continue
            factory = DRIVERS[name][kind]
            if factory is None:
                continue
            params = inspect.signature(factory).parameters
            kwargs = _options(table)
            if "sink" in params:
                kwargs["sink"] = sink
            setattr(devices, name, factory(**kwargs))
        devices.rfid, devices.rfid_sim = _build_rfid(settings, sink)
    except Exception:
        devices.close()
        raise
    return devices


def _build_rfid(settings: Settings, sink: EventSink) -> tuple[Any, Any]:
    table = settings.devices.get("rfid", {})
    kind = str(table.get("type", "none"))
    if kind == "none":
        return None, None
    pad_kwargs = {k: table[k] for k in ("poll_interval", "memory_bytes") if k in table}
    security = SecurityPolicy(**{k: table[k] for k in ("afi_secured", "afi_unsecured", "use_eas",
                                                       "attempts") if k in table})
    simulator = None
    if kind == "sim":
        simulator = SimRfidReader()
        reader = simulator.open_reader()
    else:
        options = _options(table, _PAD_OPTIONS)
        options.setdefault("connect_later", True)  # the kiosk starts even if the reader is late
        reader = FeigReader(**options)
    pad = RfidPad(reader, sink=sink, library_isils=settings.library.isils, security=security,
                  **pad_kwargs)
    return pad, simulator
