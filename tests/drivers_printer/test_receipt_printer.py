"""Receipts: decode the ESC/POS bytes back to text and check what the patron reads."""

from __future__ import annotations

import os
import queue
import select
import socket
import threading
import tty
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import DeviceState
from drivers.printer import (
    PaperOut,
    PrinterConfigError,
    PrinterOffline,
    PrinterUnavailable,
    Receipt,
    ReceiptPrinter,
    SimPrinter,
    make_printer,
    parse_target,
)

# ---------------------------------------------------------------- ESC/POS decoder

_CODEPAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 19: "cp858"}
_ESC_ONE_ARG = set(b"!EaMd-{GJt")
_GS_ONE_ARG = set(b"!bB")


def _command(data: bytes, i: int, codepage: str) -> tuple[int, str]:
    """The ESC or GS sequence at `i`: how many bytes it takes, and the code page after it."""
    command = data[i + 1]
    if data[i] == 0x1B:
        if command == ord("@"):
            return 2, "cp437"
        if command not in _ESC_ONE_ARG:
            raise AssertionError(f"unknown ESC {command:#x} at {i}")
        return 3, _CODEPAGES[data[i + 2]] if command == ord("t") else codepage
    if command == ord("V"):
        return (3 if data[i + 2] in (0, 1, 48, 49) else 4), codepage
    if command in _GS_ONE_ARG:
        return 3, codepage
    raise AssertionError(f"unknown GS {command:#x} at {i}")


def escpos_text(data: bytes) -> str:
    """Strip ESC/GS/DLE command sequences and decode the text in its code page."""
    out: list[str] = []
    codepage = "cp437"
    i = 0
    while i < len(data):
        byte = data[i]
        if byte in (0x1B, 0x1D):
            taken, codepage = _command(data, i, codepage)
            i += taken
        elif byte == 0x10 and data[i + 1 : i + 2] == b"\x04":
            i += 3  # DLE EOT n: a status query
        elif byte == 0x0A:
            out.append("\n")
            i += 1
        elif byte < 0x20:
            raise AssertionError(f"unexpected control byte {byte:#x} at {i}")
        else:
            end = i
            while end < len(data) and data[end] >= 0x20:
                end += 1
            out.append(data[i:end].decode(codepage))
            i = end
    return "".join(out)


def lines_of(data: bytes) -> list[str]:
    return [line.strip() for line in escpos_text(data).splitlines() if line.strip()]


def test_decoder_reads_known_bytes() -> None:
    raw = b"\x1b@\x1bt\x13\x1bE\x01Caf\x82\n\x1bE\x00x\n\x1bd\x06\x1dV\x00"
    assert escpos_text(raw) == "Café\nx\n"


# ---------------------------------------------------------------- receipts

WHEN = datetime(2026, 3, 1, 14, 30)
DUE = date(2026, 3, 22)


def receipt(language: str = "en", **changes: object) -> Receipt:
    fields: dict[str, object] = {
        "library_name": "Bibliotheek Oost",
        "when": WHEN,
        "language": language,
        "lines": (("De ontdekking van de hemel", DUE), ("Kuifje: De zwarte rotsen", DUE)),
    }
    fields.update(changes)
    return Receipt(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "due_text"),
    [("en", "22 March 2026"), ("nl", "22 maart 2026"), ("fr", "22 mars 2026"),
     ("de", "22. März 2026")],
)
def test_due_dates_in_the_receipts_language(language: str, due_text: str) -> None:
    printer = SimPrinter()
    printer.print_receipt(receipt(language))
    lines = lines_of(printer.output)
    assert lines[0] == "Bibliotheek Oost"
    assert "De ontdekking van de hemel" in lines
    assert lines.count(f"Due: {due_text}") == 2
    assert printer.receipts == [receipt(language)]


def test_every_fixed_text_goes_through_gettext() -> None:
    seen: list[str] = []

    def gettext(message: str) -> str:
        seen.append(message)
        return "«" + message + "»"

    printer = SimPrinter()
    printer.print_receipt(receipt("nl", offline=True), gettext=gettext)
    assert {"Items borrowed", "Due: {date}", "Offline — will be confirmed", "Thank you!",
            "{date} at {time}"} <= set(seen)
    for line in lines_of(printer.output):
        if line in ("Bibliotheek Oost",) or set(line) == {"-"} or line.startswith("De ") \
                or line.startswith("Kuifje"):
            continue
        assert line.startswith("«") and line.endswith("»"), line


def test_translated_receipt_reads_naturally() -> None:
    catalog = {
        "Items borrowed": "Geleend",
        "Due: {date}": "Terugbrengen op {date}",
        "Offline — will be confirmed": "Offline — wordt later bevestigd",
        "Thank you!": "Bedankt!",
        "{date} at {time}": "{date} om {time}",
    }
    printer = SimPrinter()
    printer.print_receipt(receipt("nl", offline=True), gettext=lambda m: catalog.get(m, m))
    lines = lines_of(printer.output)
    assert "Geleend" in lines
    assert "1 maart 2026 om 14:30" in lines
    assert "Terugbrengen op 22 maart 2026" in lines
    assert "Offline - wordt later bevestigd" in lines  # dash the code page can print
    assert lines[-1] == "Bedankt!"


def test_offline_line_only_when_offline() -> None:
    online, offline = SimPrinter(), SimPrinter()
    online.print_receipt(receipt())
    offline.print_receipt(receipt(offline=True))
    assert "Offline - will be confirmed" not in lines_of(online.output)
    assert "Offline - will be confirmed" in lines_of(offline.output)


def test_status_text_instead_of_due_date_and_headings() -> None:
    printer = SimPrinter()
    printer.print_receipt(receipt(kind="return", lines=(("Le Petit Prince", "Rendu"),)))
    lines = lines_of(printer.output)
    assert "Items returned" in lines and "Rendu" in lines and "Le Petit Prince" in lines


def test_long_titles_wrap_to_the_paper_width() -> None:
    printer = SimPrinter(width=32)
    title = "Een heel erg lange titel die nooit op een enkele regel past"
    printer.print_receipt(receipt(lines=((title, DUE),)))
    text = escpos_text(printer.output)
    assert all(len(line) <= 32 for line in text.splitlines())
    assert " ".join(text.split()).count(title) == 1


def test_greeting_is_printed_but_never_an_identifier() -> None:
    printer = SimPrinter()
    printer.print_receipt(receipt(greeting="Tot ziens, Anna"))
    printer.print_receipt(receipt(greeting="Card 2900012345"))
    text = escpos_text(printer.output)
    assert "Tot ziens, Anna" in text
    assert "2900012345" not in text


def test_unknown_language_falls_back_to_english_dates() -> None:
    printer = SimPrinter()
    printer.print_receipt(receipt("xx-nowhere"))
    assert "Due: 22 March 2026" in lines_of(printer.output)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF,
                                      blacklist_categories=("Cc", "Zs")),
               min_size=1, max_size=30))
def test_any_printable_title_comes_out_as_written(title: str) -> None:
    printer = SimPrinter()
    printer.print_receipt(receipt(lines=((title, DUE),)))
    expected = title.encode("cp858", errors="replace").decode("cp858")
    assert expected in lines_of(printer.output)


# ---------------------------------------------------------------- status


def test_paper_out_refuses_and_reports() -> None:
    events: queue.Queue = queue.Queue()
    printer = SimPrinter(sink=events)
    printer.paper_out()
    with pytest.raises(PaperOut):
        printer.print_receipt(receipt())
    assert printer.receipts == [] and printer.output == b""
    assert events.get_nowait() == DeviceState(device="printer", ok=False,
                                              detail="printer is out of paper")
    printer.reload_paper()
    printer.print_receipt(receipt())
    assert events.get_nowait() == DeviceState(device="printer", ok=True, detail="")
    assert len(printer.receipts) == 1


def test_paper_low_still_prints(caplog: pytest.LogCaptureFixture) -> None:
    printer = SimPrinter()
    printer.paper_low()
    printer.print_receipt(receipt())
    assert len(printer.receipts) == 1
    assert "paper is running low" in caplog.text


def test_offline_printer_is_named() -> None:
    printer = SimPrinter()
    printer.set_offline()
    with pytest.raises(PrinterOffline):
        printer.print_receipt(receipt())


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize(
    ("target", "parsed"),
    [("usb:0x04b8:0x0202", ("usb", (0x04B8, 0x0202))),
     ("serial:/dev/ttyUSB0", ("serial", ("/dev/ttyUSB0", 9600))),
     ("serial:/dev/ttyS1:19200", ("serial", ("/dev/ttyS1", 19200))),
     ("network:192.0.2.10:9100", ("network", ("192.0.2.10", 9100))),
     ("network:printer.local", ("network", ("printer.local", 9100))),
     ("file:/dev/usb/lp0", ("file", ("/dev/usb/lp0",))),
     ("sim", ("sim", ()))],
)
def test_targets_parse(target: str, parsed: tuple) -> None:
    assert parse_target(target) == parsed


@pytest.mark.parametrize("target", ["", "usb:04b8", "usb:xyz:1", "network:", "network:h:port",
                                    "bluetooth:aa", "serial:", "sim:1"])
def test_bad_targets_are_config_errors(target: str) -> None:
    with pytest.raises(PrinterConfigError):
        ReceiptPrinter(target)


class StatusAnsweringPrinter:
    """A raw TCP 'printer' on 127.0.0.1 that records bytes and answers DLE EOT."""

    def __init__(self, *, paper: int = 0x12, answer_status: bool = True) -> None:
        self.paper = paper
        self.answer_status = answer_status
        self.received = bytearray()
        self.done = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self._server.accept()
        except OSError:  # closed before anyone connected
            self.done.set()
            return
        with connection:
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                self.received += chunk
                if self.answer_status and chunk.endswith(b"\x10\x04\x01"):
                    connection.sendall(b"\x12")
                elif self.answer_status and chunk.endswith(b"\x10\x04\x04"):
                    connection.sendall(bytes([self.paper]))
        self.done.set()

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def tcp_printer() -> Iterator[StatusAnsweringPrinter]:
    server = StatusAnsweringPrinter()
    yield server
    server.close()


def test_network_target_against_a_real_socket(tcp_printer: StatusAnsweringPrinter) -> None:
    printer = ReceiptPrinter(f"network:127.0.0.1:{tcp_printer.port}", timeout=2)
    printer.print_receipt(receipt("fr", offline=True))
    assert tcp_printer.done.wait(5)
    lines = lines_of(bytes(tcp_printer.received))
    assert "De ontdekking van de hemel" in lines
    assert "Due: 22 mars 2026" in lines
    assert "Offline - will be confirmed" in lines


def test_network_printer_out_of_paper() -> None:
    server = StatusAnsweringPrinter(paper=0x72)
    try:
        with pytest.raises(PaperOut):
            ReceiptPrinter(f"network:127.0.0.1:{server.port}", timeout=2).print_receipt(
                receipt())
    finally:
        server.close()


def test_network_printer_without_status_support_still_prints() -> None:
    server = StatusAnsweringPrinter(answer_status=False)
    try:
        ReceiptPrinter(f"network:127.0.0.1:{server.port}", timeout=0.3).print_receipt(receipt())
        assert server.done.wait(5)
        assert "Thank you!" in lines_of(bytes(server.received))
    finally:
        server.close()


def test_nothing_listening_is_printer_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(PrinterUnavailable):
        ReceiptPrinter(f"network:127.0.0.1:{port}", timeout=1).print_receipt(receipt())


def test_file_target(tmp_path) -> None:
    device = tmp_path / "lp0"
    ReceiptPrinter(f"file:{device}").print_receipt(receipt("de"))
    assert "Due: 22. März 2026" in lines_of(device.read_bytes())


def test_file_target_in_a_missing_directory_is_unavailable(tmp_path) -> None:
    with pytest.raises(PrinterUnavailable):
        ReceiptPrinter(f"file:{tmp_path}/missing/lp0").print_receipt(receipt())


def test_serial_target_over_a_pseudo_terminal() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    received = bytearray()
    try:
        printer = ReceiptPrinter(f"serial:{os.ttyname(slave)}", check_status=False)
        printer.print_receipt(receipt("nl"))
        while select.select([master], [], [], 0.5)[0]:
            received += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert "Due: 22 maart 2026" in lines_of(bytes(received))


def test_usb_target_without_device_is_unavailable() -> None:
    with pytest.raises(PrinterUnavailable):
        ReceiptPrinter("usb:0x04b8:0x0202").print_receipt(receipt())


def test_unreachable_printer_is_reported_as_a_device_state() -> None:
    events: queue.Queue = queue.Queue()
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    printer = ReceiptPrinter(f"network:127.0.0.1:{port}", timeout=1, sink=events)
    with pytest.raises(PrinterUnavailable):
        printer.print_receipt(receipt())
    state = events.get_nowait()
    assert (state.device, state.ok) == ("printer", False)


def test_receipt_from_the_sessions_receipt() -> None:
    from kiosk.devices import paper_receipt
    from kiosk.session import ItemLine
    from kiosk.session import Receipt as SessionReceipt

    session_receipt = SessionReceipt(
        language="de", when=WHEN, offline=True,
        lines=(ItemLine(item_id="3900001", title="Momo", ok=True, due=DUE),
               ItemLine(item_id="3900002", title="", ok=True, due=None)),
    )
    printer = SimPrinter()
    printer.print_receipt(paper_receipt(session_receipt, library_name="Stadtbibliothek"))
    lines = lines_of(printer.output)
    assert lines[0] == "Stadtbibliothek"
    assert "Momo" in lines and "Due: 22. März 2026" in lines
    assert "3900002" in lines  # unknown title: the item number, nothing about the patron
    assert "Offline - will be confirmed" in lines


def test_make_printer_picks_the_twin_or_the_real_one() -> None:
    assert isinstance(make_printer("sim", width=32), SimPrinter)
    real = make_printer("network:127.0.0.1:9100", timeout=2)  # nothing is sent yet
    assert type(real) is ReceiptPrinter
    with pytest.raises(PrinterConfigError):
        ReceiptPrinter("sim")


@pytest.mark.parametrize("kwargs", [{"codepage": "NOPE-42"}, {"profile": "no-such-printer"}])
def test_unusable_code_page_or_profile_fails_at_start(kwargs: dict) -> None:
    with pytest.raises(PrinterConfigError):
        ReceiptPrinter("file:/dev/null", **kwargs)
