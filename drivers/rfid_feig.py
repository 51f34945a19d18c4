"""FEIG OBID i-scan / classic-pro HF readers (e.g. ID ISC.MR101, MR102, LR2500,
CPR30) speaking the FEIG "ISO host command" protocol over a serial or USB-serial
port. These readers inventory a stack of ISO 15693 tags with anticollision and
are common in library self-service kiosks and staff stations.

Where the protocol comes from: FEIG's public system manuals (e.g. "ID ISC.MR/PR/
PRH101 System-Manual H60301-3e-ID-B", "ID ISC.MR102 Manual H01113-4e-ID-B",
"ID CPR30.xx Manual H01114-0e-ID-B", chapters "Protocol frame", "CRC16
Calculation Algorithm", "[0xB0] Host commands for ISO15693 Mandatory and
Optional Commands", "[0xB1] ... Custom and Proprietary Commands"). We use the
*advanced* protocol frame, to which the reader then always answers in kind:

    host -> reader   STX(0x02) ALENGTH(2, MSB first) COM-ADR CMD DATA... CRC16
    reader -> host   STX(0x02) ALENGTH(2, MSB first) COM-ADR CMD STATUS DATA... CRC16

ALENGTH counts every byte of the frame including STX and the CRC. CRC16:
polynomial 0x8408 (x^16+x^12+x^5+1 reversed), preset 0xFFFF, over all bytes
before the CRC, no final XOR (the catalogue's CRC-16/MCRF4XX, check value 0x6F91
for "123456789"). The manuals list the CRC as the last two bytes without
spelling out their order in the excerpts we read; we send and expect the low
byte first, matching the right-shifting C example in the manual. If a real
reader disagrees, `_crc_bytes` is the one place to change.

Commands used (ISO host mode, addressed MODE=0x01 with an 8-byte UID sent MSB
first, as the reader prints it: E0 04 ...):

    0xB0 0x01 MODE                 Inventory; reply DATA-SETS, then per tag
                                   TR-TYPE DSFID UID(8). STATUS 0x94 = more
                                   records: repeat with MODE bit 7 (MORE) set.
    0xB0 0x23 MODE UID ADR N       Read Multiple Blocks; reply N, DB-SIZE, then
                                   per block SEC-STATUS DB. "Data is sent MSB
                                   first in ISO host mode": every block arrives
                                   byte-reversed relative to tag memory; we turn
                                   it back so callers see memory order.
    0xB0 0x24 MODE UID ADR N SIZE DB...  Write Multiple Blocks (same reversal).
    0xB0 0x27 MODE UID AFI         Write AFI.
    0xB0 0x2B MODE UID             Get System Information; reply DSFID UID AFI
                                   MEM-SIZE(2: block size-1, blocks-1) IC-REF.
    0xB1 MFR=0x04 0xA2|0xA3|0xA5 MODE UID   NXP ICODE SLI custom: set EAS,
                                   reset EAS, EAS alarm (STATUS 0x00 = EAS on,
                                   0x01 = no answer = EAS off).
    0x65                           Get Software Version: used as a ping.

STATUS: 0x00 OK, 0x01 no transponder, 0x02 data false, 0x03 write error,
0x04 address error, 0x05 wrong transponder type, 0x83 RF communication error,
0x84 RF warning, 0x94 more data, 0x95 ISO 15693 error (error code follows),
0x80-0x82 and 0x93 reader-side errors (unknown command, length, not available,
buffer overflow).

Reader configuration this driver expects (FEIG factory defaults): ISO host
command mode (Scan Mode, Buffered Read Mode and Notification Mode off, else
the 0xB0 commands are refused), and CFG5 "ONT" off, so that every inventory
reports every tag in the field: the pad treats a tag missing from an inventory
as lifted off the pad.

Errors: see drivers.rfid_errors. Serial and OS errors become ReaderUnavailable;
a malformed reply becomes ReaderProtocolError; tag-side statuses become
TagReadError / TagWriteError.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.device import Device, Probe, probe_device_path
from drivers.rfid import SystemInfo, TagInfo
from drivers.rfid_errors import (
    ReaderProtocolError,
    ReaderUnavailable,
    RfidError,
    TagReadError,
    TagWriteError,
)

try:  # pyserial on POSIX lets termios.error (not an OSError) escape on a vanished tty
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - not on Linux
    _TermiosError = OSError  # type: ignore[assignment, misc]

log = logging.getLogger(__name__)
_PORT_ERRORS = (OSError, ValueError, TypeError, _TermiosError)

STX = 0x02
BROADCAST = 0xFF
MIN_FRAME = 7  # request: STX len len adr cmd crc crc
MAX_FRAME = 4096

CMD_SOFTWARE_VERSION = 0x65
CMD_ISO = 0xB0
CMD_CUSTOM = 0xB1
ISO_INVENTORY = 0x01
ISO_READ_BLOCKS = 0x23
ISO_WRITE_BLOCKS = 0x24
ISO_WRITE_AFI = 0x27
ISO_SYSTEM_INFO = 0x2B
MFR_NXP = 0x04
NXP_SET_EAS = 0xA2
NXP_RESET_EAS = 0xA3
NXP_EAS_ALARM = 0xA5
MODE_ADDRESSED = 0x01
MODE_MORE = 0x80

ST_OK = 0x00
ST_NO_TRANSPONDER = 0x01
ST_DATA_FALSE = 0x02
ST_WRITE_ERROR = 0x03
ST_ADDRESS_ERROR = 0x04
ST_WRONG_TYPE = 0x05
ST_UNKNOWN_COMMAND = 0x80
ST_LENGTH_ERROR = 0x81
ST_NOT_AVAILABLE = 0x82
ST_RF_ERROR = 0x83
ST_RF_WARNING = 0x84
ST_BUFFER_OVERFLOW = 0x93
ST_MORE_DATA = 0x94
ST_ISO_ERROR = 0x95

_TAG_STATUSES = {ST_NO_TRANSPONDER, ST_DATA_FALSE, ST_WRITE_ERROR, ST_ADDRESS_ERROR,
                 ST_WRONG_TYPE, ST_RF_ERROR, ST_ISO_ERROR}
MAX_BLOCKS_PER_READ = 32


def crc16_feig(data: bytes | bytearray) -> int:
    """FEIG CRC16: reflected polynomial 0x8408, preset 0xFFFF, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def _crc_bytes(frame: bytes) -> bytes:
    crc = crc16_feig(frame)
    return bytes((crc & 0xFF, crc >> 8))


def build_frame(command: int, data: bytes = b"", *, address: int = BROADCAST,
                status: int | None = None) -> bytes:
    """An advanced-protocol frame; with `status` it is a reader reply (simulator)."""
    body = bytes([address, command]) + (b"" if status is None else bytes([status])) + data
    length = 3 + len(body) + 2
    if length > MAX_FRAME:
        raise ReaderProtocolError(f"frame of {length} bytes is too long")
    frame = bytes([STX, length >> 8, length & 0xFF]) + body
    return frame + _crc_bytes(frame)


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame. For replies `payload[0]` is the STATUS byte."""

    address: int
    command: int
    payload: bytes


def split_frame(buffer: bytes | bytearray) -> tuple[Frame | None, int]:
    """Find the first complete frame in `buffer`.

    Returns (frame, bytes consumed). (None, n) means: drop n leading bytes and
    wait for more. Raises ReaderProtocolError for a complete frame whose length
    or CRC is wrong (its bytes count as consumed by the caller's resync: one).
    """
    start = buffer.find(bytes([STX]))
    if start < 0:
        return None, len(buffer)
    if len(buffer) - start < 3:
        return None, start
    length = buffer[start + 1] << 8 | buffer[start + 2]
    if not MIN_FRAME <= length <= MAX_FRAME:
        raise ReaderProtocolError(f"impossible frame length {length}")
    if len(buffer) - start < length:
        return None, start
    frame = bytes(buffer[start : start + length])
    if frame[-2:] != _crc_bytes(frame[:-2]):
        raise ReaderProtocolError("frame CRC mismatch")
    return Frame(frame[3], frame[4], frame[5:-2]), start + length


def parse_reply(frame_bytes: bytes, *, expected_command: int | None = None) -> Frame:
    """Parse exactly one reply frame (status byte required)."""
    frame, used = split_frame(frame_bytes)
    if frame is None or used != len(frame_bytes):
        raise ReaderProtocolError("incomplete or trailing bytes in reply")
    if not frame.payload:
        raise ReaderProtocolError("reply without status byte")
    if expected_command is not None and frame.command != expected_command:
        raise ReaderProtocolError(
            f"reply to command 0x{frame.command:02X}, expected 0x{expected_command:02X}"
        )
    return frame


def uid_bytes(uid: str) -> bytes:
    try:
        raw = bytes.fromhex(uid)
    except ValueError as exc:
        raise TagReadError("UID is not hexadecimal") from exc
    if len(raw) != 8:
        raise TagReadError("an ISO 15693 UID has 8 bytes")
    return raw


def _status_error(status: int, detail: bytes, *, writing: bool) -> RfidError:
    text = f"reader status 0x{status:02X}"
    if status == ST_ISO_ERROR and detail:
        text += f", ISO 15693 error 0x{detail[0]:02X}"
    if status in _TAG_STATUSES:
        if status == ST_NO_TRANSPONDER:
            return TagReadError(f"tag did not answer ({text})")
        return (TagWriteError if writing else TagReadError)(text)
    return ReaderProtocolError(text)


def parse_inventory(data: bytes) -> list[TagInfo]:
    if not data:
        raise ReaderProtocolError("inventory reply without DATA-SETS")
    count = data[0]
    if len(data) != 1 + 10 * count:
        raise ReaderProtocolError(f"inventory reply of {len(data)} bytes for {count} tags")
    tags = []
    for i in range(count):
        record = data[1 + 10 * i : 11 + 10 * i]
        tags.append(TagInfo(uid=record[2:10].hex().upper(), dsfid=record[1]))
    return tags


def parse_blocks(data: bytes, count: int) -> bytes:
    """Blocks in tag memory order (FEIG sends each block MSB first = reversed)."""
    if len(data) < 2:
        raise ReaderProtocolError("read reply without DB-N/DB-SIZE")
    got, size = data[0], data[1]
    if got != count or size == 0 or len(data) != 2 + got * (1 + size):
        raise ReaderProtocolError("read reply length does not match DB-N x DB-SIZE")
    out = bytearray()
    for i in range(got):
        block = data[2 + i * (1 + size) + 1 : 2 + (i + 1) * (1 + size)]
        out += block[::-1]
    return bytes(out)


def parse_system_info(data: bytes) -> SystemInfo:
    if len(data) != 13:
        raise ReaderProtocolError(f"system information of {len(data)} bytes, expected 13")
    return SystemInfo(
        dsfid=data[0],
        uid=data[1:9].hex().upper(),
        afi=data[9],
        block_size=(data[10] & 0x1F) + 1,
        block_count=data[11] + 1,
        ic_reference=data[12],
    )


class SerialPort(Protocol):
    """What the reader needs of a serial line (pyserial's `serial.Serial` is one)."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


# opens `port` with pyserial's keyword options (baudrate, parity, timeout ...): the one way to
# put another line under the driver (tests use a pseudo-terminal and need none)
SerialFactory = Callable[..., SerialPort]


class FeigReader(Device):
    """An ItemReader for a FEIG ISO host-mode reader on a serial port.

    `port` is the device (e.g. /dev/ttyUSB0, or a pseudo-terminal in tests).
    FEIG's factory settings are 38400 baud, 8 data bits, even parity, 1 stop bit
    and bus address 255 (answers at any address).
    """

    label = "RFID reader"

    @classmethod
    def probe(cls, *, port: str = "", baudrate: int = 38400, parity: str = "E",
              bus_address: int = BROADCAST, **_options: Any) -> Probe:
        """The port can be opened and the reader answers an inventory."""
        reachable = probe_device_path(port, write=True)
        if not reachable.ok:
            return reachable
        try:
            with cls(port, baudrate=baudrate, parity=parity, bus_address=bus_address,
                     timeout=1.0) as reader:
                tags = reader.inventory()
        except RfidError as exc:
            return Probe(False, f"{port}: {exc}",
                         "check power, cable, baud rate and parity of the reader")
        return Probe(True, f"{port} answers; {len(tags)} tag(s) on the pad")

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 38400,
        parity: str = "E",
        bus_address: int = BROADCAST,
        timeout: float = 1.0,
        retries: int = 1,
        connect_later: bool = False,
        serial_factory: SerialFactory | None = None,
    ) -> None:
        self.port = port
        self.bus_address = bus_address
        self.timeout = timeout
        self.retries = retries
        self._lock = threading.Lock()
        self._buffer = bytearray()
        if serial_factory is None:
            import serial  # pyserial: part of our dependencies

            serial_factory = serial.Serial
        self._serial_factory = serial_factory
        self._serial_settings = {
            "baudrate": baudrate, "bytesize": 8, "parity": parity, "stopbits": 1,
            "timeout": min(0.05, timeout), "write_timeout": timeout,
        }
        self._serial: SerialPort | None = None
        self._closed = False
        try:
            self._open_port()
        except ReaderUnavailable:
            if not connect_later:
                raise
            log.warning("RFID reader port %s not there yet; will retry on use", port)

    # ------------------------------------------------------------- lifecycle
    def _open_port(self) -> SerialPort:
        """(Re)open the port: a USB adapter that was pulled and plugged back works again."""
        try:
            self._serial = self._serial_factory(self.port, **self._serial_settings)
        except _PORT_ERRORS as exc:  # SerialException is an OSError
            self._serial = None
            raise ReaderUnavailable(f"cannot open RFID reader port {self.port}: {exc}") from exc
        return self._serial

    def _drop_port(self) -> None:
        serial_port, self._serial = self._serial, None
        if serial_port is not None:
            try:
                serial_port.close()
            except _PORT_ERRORS:
                log.debug("closing RFID port failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_port()

    # ------------------------------------------------------------- transport
    def _bytes_wanted(self) -> int:
        """Ask the port for exactly the rest of the frame, so one read usually suffices."""
        buffer = self._buffer
        if buffer[:1] == bytes([STX]) and len(buffer) >= 3:
            return max(1, (buffer[1] << 8 | buffer[2]) - len(buffer))
        if buffer[:1] == bytes([STX]):
            return 3 - len(buffer)
        return 3

    def _read_reply(self, line: SerialPort, command: int) -> Frame:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                frame, used = split_frame(self._buffer)
            except ReaderProtocolError:
                del self._buffer[:1]  # resync after a corrupt frame
                raise
            del self._buffer[:used]
            if frame is not None:
                if not frame.payload:
                    raise ReaderProtocolError("reply without status byte")
                if frame.command != command:
                    log.debug("dropping stale reply to 0x%02X", frame.command)
                    continue
                return frame
            if time.monotonic() > deadline:
                raise ReaderUnavailable(f"RFID reader on {self.port} did not answer")
            chunk = line.read(self._bytes_wanted())
            if chunk:
                self._buffer += chunk

    def transact(self, command: int, data: bytes = b"") -> tuple[int, bytes]:
        """Send one command; return (status, response data). Thread-safe."""
        request = build_frame(command, data, address=self.bus_address)
        last_error: RfidError | None = None
        with self._lock:
            if self._closed:
                raise ReaderUnavailable("RFID reader is closed")
            line = self._serial if self._serial is not None else self._open_port()
            for _attempt in range(self.retries + 1):
                try:
                    self._buffer.clear()
                    line.reset_input_buffer()
                    line.write(request)
                    line.flush()
                    frame = self._read_reply(line, command)
                    return frame.payload[0], frame.payload[1:]
                except ReaderProtocolError as exc:
                    last_error = exc
                    log.warning("RFID reply corrupt (%s); retrying", exc)
                except ReaderUnavailable:
                    raise
                except _PORT_ERRORS as exc:
                    # SerialException/OSError/termios.error: unplugged;
                    # TypeError/ValueError: pyserial on a port that vanished under it.
                    self._drop_port()  # reopened on the next command
                    raise ReaderUnavailable(f"RFID reader on {self.port} failed: {exc}") from exc
        raise last_error if last_error else ReaderProtocolError("no reply")

    def _iso(self, data: bytes, *, writing: bool = False, command: int = CMD_ISO) -> bytes:
        status, payload = self.transact(command, data)
        if status not in (ST_OK, ST_RF_WARNING):
            raise _status_error(status, payload, writing=writing)
        return payload

    # ----------------------------------------------------------- ItemReader
    def ping(self) -> None:
        """Raise ReaderUnavailable unless the reader answers (software version)."""
        self.transact(CMD_SOFTWARE_VERSION)

    def inventory(self) -> list[TagInfo]:
        tags: dict[str, TagInfo] = {}
        mode = 0x00
        for _round in range(64):
            status, payload = self.transact(CMD_ISO, bytes([ISO_INVENTORY, mode]))
            if status == ST_NO_TRANSPONDER:
                break
            if status not in (ST_OK, ST_MORE_DATA, ST_RF_WARNING):
                raise _status_error(status, payload, writing=False)
            for tag in parse_inventory(payload):
                tags.setdefault(tag.uid, tag)
            if status != ST_MORE_DATA:
                break
            mode = MODE_MORE
        else:
            raise ReaderProtocolError("reader kept announcing more inventory data")
        return list(tags.values())

    def system_info(self, uid: str) -> SystemInfo:
        payload = self._iso(bytes([ISO_SYSTEM_INFO, MODE_ADDRESSED]) + uid_bytes(uid))
        return parse_system_info(payload)

    def read_blocks(self, uid: str, first: int, count: int) -> bytes:
        if not 0 <= first <= 255 or count < 1 or first + count > 256:
            raise TagReadError(f"block range {first}+{count} outside the tag")
        out = bytearray()
        while count:
            chunk = min(count, MAX_BLOCKS_PER_READ)
            payload = self._iso(
                bytes([ISO_READ_BLOCKS, MODE_ADDRESSED]) + uid_bytes(uid) + bytes([first, chunk])
            )
            out += parse_blocks(payload, chunk)
            first, count = first + chunk, count - chunk
        return bytes(out)

    def write_blocks(self, uid: str, first: int, data: bytes, *, block_size: int = 4) -> None:
        if not data or len(data) % block_size or first + len(data) // block_size > 256:
            raise TagWriteError("write must cover whole blocks inside the tag")
        count = len(data) // block_size
        blocks = b"".join(
            data[i * block_size : (i + 1) * block_size][::-1] for i in range(count)
        )
        self._iso(
            bytes([ISO_WRITE_BLOCKS, MODE_ADDRESSED]) + uid_bytes(uid)
            + bytes([first, count, block_size]) + blocks,
            writing=True,
        )

    def write_afi(self, uid: str, afi: int) -> None:
        self._iso(bytes([ISO_WRITE_AFI, MODE_ADDRESSED]) + uid_bytes(uid) + bytes([afi & 0xFF]),
                  writing=True)

    def has_eas(self, uid: str) -> bool:
        """NXP ICODE SLI/SLIX tags (UID E0 04 ...) carry an EAS bit we can set."""
        return uid_bytes(uid)[1] == MFR_NXP

    def read_eas(self, uid: str) -> bool | None:
        if not self.has_eas(uid):
            return None
        status, payload = self.transact(
            CMD_CUSTOM, bytes([MFR_NXP, NXP_EAS_ALARM, MODE_ADDRESSED]) + uid_bytes(uid)
        )
        if status == ST_OK:
            return True
        if status == ST_NO_TRANSPONDER:
            return False  # the tag stays silent when its EAS bit is off
        raise _status_error(status, payload, writing=False)

    def write_eas(self, uid: str, on: bool) -> None:
        if not self.has_eas(uid):
            raise TagWriteError("this tag type has no EAS bit")
        command = NXP_SET_EAS if on else NXP_RESET_EAS
        self._iso(bytes([MFR_NXP, command, MODE_ADDRESSED]) + uid_bytes(uid),
                  writing=True, command=CMD_CUSTOM)
