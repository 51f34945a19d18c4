"""Receipts on ESC/POS thermal printers (python-escpos), plus `SimPrinter`.

The target is one string, so the config file stays simple:

    "usb:0x04b8:0x0202"          USB vendor:product (needs pyusb + libusb)
    "serial:/dev/ttyUSB0[:9600]" serial port, optional baud rate
    "network:192.0.2.10[:9100]"  raw TCP (port 9100 by default)
    "file:/dev/usb/lp0"          a device file (usblp) or any file
    "sim"                        SimPrinter: keeps bytes and receipts in memory

A receipt never carries a patron identifier: `Receipt` has no field for one,
and a greeting that looks like a card number (4+ digits in a row) is dropped.
Every fixed text goes through the `gettext` callable given to `print_receipt`
(marked `_()` for extraction); dates are formatted with Babel in the receipt's
language. Text is sent in code page CP858 (Western European with €) unless
configured otherwise; characters the code page lacks are replaced, never fatal.

Error tree:

    PrinterError                 root
    ├── PrinterConfigError       unusable target string (also ValueError)
    ├── PrinterUnavailable       cannot connect / write (also ConnectionError)
    ├── PrinterOffline           the printer says it is offline (cover open, error)
    └── PaperOut                 the paper sensor says the roll is empty

escpos, OS, socket, serial and USB errors are translated into these here.
Paper/offline status is asked with DLE EOT (escpos `is_online()` and
`paper_status()`) on USB, serial and network targets; a printer that does not
answer in time is treated as online with paper, because many cheap printers
do not implement the query and refusing to print would be worse.
"""

from __future__ import annotations

import logging
import re
import socket
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from escpos import printer as escpos_printer

from domain.events import DeviceState, EventSink
from domain.locales import date_locale
from drivers.device import SIMULATED, Device, Probe, probe_device_path
from drivers.errors import DriverError

log = logging.getLogger(__name__)

Gettext = Callable[[str], str]


def _identity(text: str) -> str:
    return text


class PrinterError(DriverError):
    """Root of every receipt-printer failure."""


class PrinterConfigError(PrinterError, ValueError):
    """The printer target in the configuration cannot be understood."""


class PrinterUnavailable(PrinterError, ConnectionError):
    """The printer cannot be reached or written to."""


class PrinterOffline(PrinterError):
    """The printer answers but reports itself offline (cover open, error state)."""


class PaperOut(PrinterError):
    """The paper roll is empty."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What goes on paper. Deliberately without any patron identifier.

    `lines` are (title, due) pairs: `due` is a date (printed as "Due: <date>" in
    the receipt's language), an already translated status text ("Returned"), or
    None (title only).
    `kind` picks the heading: "loan", "return", "renew" or anything else for a
    neutral "Receipt".
    """

    library_name: str
    when: datetime
    language: str = "en"
    lines: tuple[tuple[str, date | str | None], ...] = ()
    offline: bool = False
    greeting: str = ""
    kind: str = "loan"



_TYPOGRAPHY = str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
                             "…": "...", "\u00a0": " ", "\u202f": " "})
_IDENTIFIER_LIKE = re.compile(r"\d{4,}")


def parse_target(target: str) -> tuple[str, tuple[Any, ...]]:
    """Split a target string into (kind, arguments); PrinterConfigError if unusable."""
    kind, _, rest = target.strip().partition(":")
    kind = kind.lower()
    try:
        if kind == "sim" and not rest:
            return "sim", ()
        if kind == "usb":
            vendor, product = rest.split(":")
            return "usb", (int(vendor, 16), int(product, 16))
        if kind == "serial" and rest:
            device, _, baud = rest.partition(":")
            return "serial", (device, int(baud) if baud else 9600)
        if kind == "network" and rest:
            host, port = rest.split(":") if rest.count(":") == 1 else (rest, "")
            if not host:
                raise ValueError("empty host")
            return "network", (host, int(port) if port else 9100)
        if kind == "file" and rest:
            return "file", (rest,)
    except ValueError as exc:
        raise PrinterConfigError(f"printer target {target!r} is malformed: {exc}") from exc
    raise PrinterConfigError(
        f"printer target {target!r}: use usb:VID:PID, serial:DEVICE[:BAUD], "
        "network:HOST[:PORT], file:PATH or sim"
    )


class _NetworkPrinter(escpos_printer.Network):  # type: ignore[misc]
    """escpos' Network, but a failed connect closes its socket instead of leaking it."""

    def open(self, raise_not_found: bool = True) -> None:
        self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)



def _heading(kind: str, _: Gettext) -> str:
    if kind == "loan":
        return _("Items borrowed")
    if kind == "return":
        return _("Items returned")
    if kind == "renew":
        return _("Items renewed")
    return _("Receipt")


@dataclass(frozen=True)
class ReceiptWords:
    """A receipt's sentences in its language, for paper and for e-mail alike."""

    heading: str
    stamp: str  # "3 December 2026 at 14:05"
    greeting: str
    items: tuple[tuple[str, str], ...]  # title, what happened ("Due: 24 December 2026")
    offline: str  # "" when everything was confirmed
    thanks: str


def receipt_words(receipt: Receipt, _: Gettext) -> ReceiptWords:
    """Dates in the receipt's language (English for one Babel does not know); a greeting
    that looks like an identifier is left out."""
    from babel.core import UnknownLocaleError
    from babel.dates import format_date, format_time

    language = date_locale(receipt.language)
    try:
        format_date(receipt.when.date(), "long", locale=language)
    except (UnknownLocaleError, ValueError, TypeError):
        log.warning("unknown receipt language %r; using English dates", language)
        language = date_locale("en")

    def long_date(value: date) -> str:
        return format_date(value, "long", locale=language)

    greeting = receipt.greeting.strip()
    if greeting and _IDENTIFIER_LIKE.search(greeting):
        log.warning("receipt greeting looks like an identifier; left out")
        greeting = ""
    items = tuple(
        (title, _("Due: {date}").format(date=long_date(due)) if isinstance(due, date)
         else str(due or "")) for title, due in receipt.lines)
    return ReceiptWords(
        heading=_heading(receipt.kind, _),
        stamp=_("{date} at {time}").format(
            date=long_date(receipt.when.date()),
            time=format_time(receipt.when, "short", locale=language)),
        greeting=greeting, items=items,
        offline=_("Offline — will be confirmed") if receipt.offline else "",
        thanks=_("Thank you!"))


class ReceiptPrinter(Device):
    """Prints `Receipt`s on the printer named by `target`.

    A connection is opened per receipt and closed afterwards, so a printer that
    was switched off and on again (or a network printer that dropped the TCP
    connection overnight) just works on the next receipt.
    """

    label = "printer"

    @classmethod
    def probe(cls, *, target: str = "sim", **_options: Any) -> Probe:
        """The target parses and is there: a device node, an address that accepts a
        connection (connecting is the test), or a USB device of the target's vendor."""
        try:
            kind, args = parse_target(target)
        except PrinterError as exc:
            return Probe(False, str(exc), "fix devices.printer.target")
        if kind == "sim":
            return SIMULATED
        if kind in ("file", "serial"):
            return probe_device_path(str(args[0]), write=True)
        if kind == "network":
            host, port = str(args[0]), int(args[1])
            try:
                socket.create_connection((host, port), timeout=2.0).close()
            except OSError as exc:
                return Probe(False, f"{host}:{port} does not accept a connection "
                             f"({exc.strerror or exc})", "switch the printer on; check its address")
            return Probe(True, f"{host}:{port} accepts connections")
        vendor = f"{int(args[0]):04x}"
        found = [p for p in Path("/sys/bus/usb/devices").glob("*/idVendor")
                 if p.read_text().strip().lower() == vendor]
        if not found:
            return Probe(False, f"no USB device from vendor {vendor} is plugged in",
                         "plug the printer in and switch it on (lsusb)")
        return Probe(True, f"USB printer {target} is plugged in")

    def __init__(
        self,
        target: str,
        *,
        codepage: str = "CP858",
        width: int = 42,
        timeout: float = 5.0,
        check_status: bool | None = None,
        cut: bool = True,
        profile: str | None = None,
        sink: EventSink | None = None,
    ) -> None:
        self.target = target
        self.kind, self._args = parse_target(target)
        if self.kind == "sim" and not isinstance(self, SimPrinter):
            raise PrinterConfigError("target 'sim' is SimPrinter: use make_printer('sim')")
        self.codepage = codepage
        self.width = width
        self.timeout = timeout
        self.check_status = (
            self.kind in ("usb", "serial", "network", "sim") if check_status is None
            else check_status
        )
        self.cut = cut
        self.profile = profile
        self.sink = sink
        self._ok = True
        try:  # fail at start-up, not on a patron's receipt
            probe = escpos_printer.Dummy(**({"profile": profile} if profile else {}))
            probe.charcode(codepage)
            probe.text("x")
        except Exception as exc:
            raise PrinterConfigError(
                f"printer profile {profile!r} / code page {codepage!r} unusable: {exc}"
            ) from exc

    # ---------------------------------------------------------- connections
    def _make_device(self) -> Any:
        kwargs: dict[str, Any] = {"profile": self.profile} if self.profile else {}
        if self.kind == "usb":
            if not escpos_printer.Usb.is_usable():
                # checked first: escpos' __del__ would raise about it during GC otherwise
                raise PrinterUnavailable("USB printing needs pyusb (pip) and libusb-1.0-0 (apt)")
            vendor, product = self._args
            return escpos_printer.Usb(vendor, product, timeout=int(self.timeout * 1000),
                                      **kwargs)
        if self.kind == "serial":
            device, baud = self._args
            return escpos_printer.Serial(devfile=device, baudrate=baud, timeout=self.timeout,
                                         **kwargs)
        if self.kind == "network":
            host, port = self._args
            return _NetworkPrinter(host, port=port, timeout=self.timeout, **kwargs)
        if self.kind == "file":
            return escpos_printer.File(devfile=self._args[0], **kwargs)
        raise PrinterConfigError(f"no device for target kind {self.kind!r}")

    def _open(self) -> Any:
        device = self._make_device()
        try:
            device.open()
        except Exception as exc:  # escpos raises its own errors, OSError, RuntimeError
            raise PrinterUnavailable(f"cannot open printer {self.target}: {exc}") from exc
        return device

    @staticmethod
    def _close(device: Any) -> None:
        try:
            device.close()
        except Exception:  # closing a broken connection must not hide the real error
            log.debug("closing printer failed", exc_info=True)

    # ---------------------------------------------------------- status
    def _check(self, device: Any) -> None:
        try:
            online = device.is_online()
            paper = device.paper_status()
        except TimeoutError:
            log.info("printer %s does not answer status queries; printing anyway", self.kind)
            return
        except Exception as exc:
            raise PrinterUnavailable(f"printer status query failed: {exc}") from exc
        if not online:
            raise PrinterOffline("printer reports offline (cover open or error)")
        if paper == 0:
            raise PaperOut("printer is out of paper")
        if paper == 1:
            log.warning("printer paper is running low")

    # ---------------------------------------------------------- rendering
    def _text(self, device: Any, text: str) -> None:
        device.text(text.translate(_TYPOGRAPHY) + "\n")

    def _render(self, device: Any, receipt: Receipt, _: Gettext) -> None:
        words = receipt_words(receipt, _)
        device.hw("INIT")
        device.charcode(self.codepage)
        device.set(align="center", bold=True, double_height=True, double_width=True)
        for row in textwrap.wrap(receipt.library_name, max(8, self.width // 2)) or [""]:
            self._text(device, row)
        device.set_with_default(align="center")
        for line in (words.heading, words.stamp, words.greeting):
            if line:
                self._text(device, line)
        device.set_with_default(align="left")
        self._text(device, "-" * self.width)
        for title, detail in words.items:
            device.set(bold=True)
            for row in textwrap.wrap(title, self.width) or [""]:
                self._text(device, row)
            device.set(bold=False)
            if detail:
                self._text(device, "  " + detail)
        self._text(device, "-" * self.width)
        if words.offline:
            device.set(bold=True)
            self._text(device, words.offline)
            device.set(bold=False)
        device.set_with_default(align="center")
        self._text(device, words.thanks)
        if self.cut:
            device.cut()
        else:
            device.ln(4)

    # ---------------------------------------------------------- public
    def print_receipt(self, receipt: Receipt, gettext: Gettext = _identity) -> None:
        """Print one receipt; raise a PrinterError subclass if it cannot be printed."""
        device = None
        try:
            device = self._open()
            if self.check_status:
                self._check(device)
            try:
                self._render(device, receipt, gettext)
            except PrinterError:
                raise
            except Exception as exc:  # socket/serial/USB errors surface as many types
                raise PrinterUnavailable(f"printing failed: {exc}") from exc
        except PrinterError as exc:
            self._report(False, str(exc))
            raise
        finally:
            if device is not None:
                self._close(device)
        self._report(True, "")
        self._printed(device, receipt)

    def _printed(self, device: Any, receipt: Receipt) -> None:
        """Hook for SimPrinter; real printers keep nothing."""

    def _report(self, ok: bool, detail: str) -> None:
        if ok == self._ok:
            return
        self._ok = ok
        if self.sink is not None:
            self.sink.put(DeviceState(device="printer", ok=ok, detail=detail))

    def close(self) -> None:
        """Nothing stays open between receipts; kept for a uniform device lifetime."""


class _StatusDummy(escpos_printer.Dummy):  # type: ignore[misc]
    """An escpos Dummy that answers DLE EOT status queries from SimPrinter's state."""

    def __init__(self, owner: SimPrinter) -> None:
        super().__init__()
        self._owner = owner

    def _read(self) -> bytes:
        last = self._output_list[-1] if self._output_list else b""
        if last.endswith(b"\x10\x04\x01"):
            return bytes([0x12 | (0x08 if self._owner.offline else 0)])
        if last.endswith(b"\x10\x04\x04"):
            return bytes([{0: 0x72, 1: 0x1E}.get(self._owner.paper, 0x12)])
        return b""


@dataclass
class _SimState:
    output: bytearray = field(default_factory=bytearray)
    receipts: list[Receipt] = field(default_factory=list)


class SimPrinter(ReceiptPrinter):
    """A printer in memory: `.output` holds every ESC/POS byte, `.receipts` each Receipt.

    Test controls: `paper_out()`, `paper_low()`, `reload_paper()`,
    `set_offline(bool)`. The status checks run through the same escpos
    `is_online()` / `paper_status()` calls as a real printer.
    """

    @classmethod
    def probe(cls, **_options: Any) -> Probe:
        return SIMULATED

    def __init__(self, *, sink: EventSink | None = None, **kwargs: Any) -> None:
        # `sink` named here, not left in **kwargs: devices.build hands a sink to the factories
        # whose signature asks for one
        super().__init__("sim", sink=sink, **kwargs)
        self._state = _SimState()
        self.paper = 2
        self.offline = False

    @property
    def output(self) -> bytes:
        return bytes(self._state.output)

    @property
    def receipts(self) -> list[Receipt]:
        return list(self._state.receipts)

    def paper_out(self) -> None:
        self.paper = 0

    def paper_low(self) -> None:
        self.paper = 1

    def reload_paper(self) -> None:
        self.paper = 2

    def set_offline(self, offline: bool = True) -> None:
        self.offline = offline

    def _make_device(self) -> Any:
        return _StatusDummy(self)

    def _printed(self, device: Any, receipt: Receipt) -> None:
        data = b"".join(
            chunk for chunk in device._output_list if not chunk.startswith(b"\x10\x04")
        )
        self._state.output += data
        self._state.receipts.append(receipt)


def make_printer(target: str, **kwargs: Any) -> ReceiptPrinter:
    """The printer for a configured target: SimPrinter for "sim", else ReceiptPrinter."""
    if parse_target(target)[0] == "sim":
        return SimPrinter(**kwargs)
    return ReceiptPrinter(target, **kwargs)
