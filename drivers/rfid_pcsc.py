"""Single-tag ISO 15693 item reading through PC/SC (pyscard), for desk-style
readers (HID OMNIKEY 5x22, ACS ACR1281 and similar) that see one tag at a time.

Use it for a reader dedicated to items; a reader shared with patron cards
belongs to drivers.cards. pyscard is imported lazily inside `PcscTagReader`.

APDUs (PC/SC 2.02 part 3, "storage card" pseudo-APDUs, class 0xFF):

    FF CA 00 00 00            GET DATA: the tag's UID. Readers return an ISO
                              15693 UID as sent over the air, LSB first; we turn
                              it round when it ends in E0 so it reads E0 04 ...
    FF B0 00 bb 04            READ BINARY of block bb (4 bytes)
    FF D6 00 bb 04 d0..d3     UPDATE BINARY of block bb
    FF C2 00 00 02 81 00      transparent session: start
    FF C2 00 01 Lc 95 L f.. 00  transparent exchange: send raw ISO 15693 frame
                              f.. (the reader adds SOF/CRC/EOF); the reply TLV
                              C0 03 s1 s2 s3 carries status, 97 L r.. the tag's answer
    FF C2 00 00 02 82 00      transparent session: end

The raw ISO 15693 frames are flags 0x22 (addressed, high data rate), the
command, the UID LSB first, then arguments: 0x27 Write AFI, 0x2B Get System
Information, NXP custom 0xA2/0xA3/0xA5 (set/reset EAS, EAS alarm) with the
manufacturer code 0x04 after the command.

Not every reader supports the transparent exchange; such a reader answers
6A 81 and we raise ReaderProtocolError("not supported"): use a FEIG reader there.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from drivers.rfid import SystemInfo, TagInfo
from drivers.rfid_errors import (
    ReaderProtocolError,
    ReaderUnavailable,
    RfidError,
    TagReadError,
    TagWriteError,
)

log = logging.getLogger(__name__)

FLAGS_ADDRESSED = 0x22
MFR_NXP = 0x04


# ---------------------------------------------------------------- APDU building


def apdu_get_uid() -> list[int]:
    return [0xFF, 0xCA, 0x00, 0x00, 0x00]


def apdu_read_block(block: int, size: int = 4) -> list[int]:
    if not 0 <= block <= 255 or not 1 <= size <= 32:
        raise TagReadError(f"block {block} / size {size} out of range")
    return [0xFF, 0xB0, 0x00, block, size]


def apdu_update_block(block: int, data: bytes) -> list[int]:
    if not 0 <= block <= 255 or not 1 <= len(data) <= 32:
        raise TagWriteError(f"block {block} / {len(data)} bytes out of range")
    return [0xFF, 0xD6, 0x00, block, len(data), *data]


def apdu_start_transparent() -> list[int]:
    return [0xFF, 0xC2, 0x00, 0x00, 0x02, 0x81, 0x00]


def apdu_end_transparent() -> list[int]:
    return [0xFF, 0xC2, 0x00, 0x00, 0x02, 0x82, 0x00]


def apdu_transceive(frame: bytes) -> list[int]:
    if not 1 <= len(frame) <= 250:
        raise ReaderProtocolError("ISO 15693 frame length out of range")
    body = [0x95, len(frame), *frame]
    return [0xFF, 0xC2, 0x00, 0x01, len(body), *body, 0x00]


def _uid_on_air(uid: str) -> bytes:
    try:
        raw = bytes.fromhex(uid)
    except ValueError as exc:
        raise TagReadError("UID is not hexadecimal") from exc
    if len(raw) != 8:
        raise TagReadError("an ISO 15693 UID has 8 bytes")
    return raw[::-1]


def frame_write_afi(uid: str, afi: int) -> bytes:
    return bytes([FLAGS_ADDRESSED, 0x27]) + _uid_on_air(uid) + bytes([afi & 0xFF])


def frame_system_info(uid: str) -> bytes:
    return bytes([FLAGS_ADDRESSED, 0x2B]) + _uid_on_air(uid)


def frame_nxp(uid: str, command: int) -> bytes:
    return bytes([FLAGS_ADDRESSED, command, MFR_NXP]) + _uid_on_air(uid)


# ---------------------------------------------------------------- reply parsing


def check_sw(data: list[int] | bytes, sw1: int, sw2: int, *, writing: bool = False) -> bytes:
    """Return the response data for 90 00; raise our error for anything else."""
    if (sw1, sw2) == (0x90, 0x00):
        return bytes(data)
    text = f"status word {sw1:02X} {sw2:02X}"
    if (sw1, sw2) in ((0x6A, 0x81), (0x6D, 0x00), (0x6E, 0x00)):
        raise ReaderProtocolError(f"reader does not support this command ({text})")
    if sw1 in (0x62, 0x63, 0x64, 0x65, 0x6B) or (sw1, sw2) == (0x6A, 0x82):
        raise (TagWriteError if writing else TagReadError)(text)
    raise ReaderProtocolError(text)


def parse_uid(data: bytes) -> str:
    if len(data) != 8:
        raise ReaderProtocolError(f"UID of {len(data)} bytes is not an ISO 15693 UID")
    if data[-1] == 0xE0 and data[0] != 0xE0:
        data = data[::-1]
    if data[0] != 0xE0:
        raise ReaderProtocolError("UID does not start with E0: not an ISO 15693 tag")
    return data.hex().upper()


def parse_transparent(data: bytes, *, writing: bool = False) -> bytes:
    """The tag's raw ISO 15693 answer from a transparent-exchange reply."""
    pos, answer, status = 0, None, None
    while pos < len(data):
        if pos + 2 > len(data):
            raise ReaderProtocolError("truncated TLV in transparent reply")
        tag, length = data[pos], data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        if len(value) != length:
            raise ReaderProtocolError("truncated TLV in transparent reply")
        if tag == 0xC0:
            status = value
        elif tag == 0x97:
            answer = value
        pos += 2 + length
    if status is not None and status and status[0] != 0x00:
        raise (TagWriteError if writing else TagReadError)(
            f"tag did not answer (reader status {status.hex()})"
        )
    if not answer:
        raise (TagWriteError if writing else TagReadError)("tag did not answer")
    if answer[0] & 0x01:
        code = answer[1] if len(answer) > 1 else 0
        raise (TagWriteError if writing else TagReadError)(f"ISO 15693 error 0x{code:02X}")
    return answer[1:]


def parse_system_info_answer(answer: bytes) -> SystemInfo:
    """Get System Information answer without its flags byte (ISO 15693-3)."""
    if len(answer) < 9:
        raise ReaderProtocolError("system information too short")
    info_flags, uid = answer[0], answer[1:9][::-1].hex().upper()
    pos, dsfid, afi, block_size, block_count, ic_ref = 9, 0, 0, 4, 28, 0
    try:
        if info_flags & 0x01:
            dsfid, pos = answer[pos], pos + 1
        if info_flags & 0x02:
            afi, pos = answer[pos], pos + 1
        if info_flags & 0x04:
            block_count, block_size = answer[pos] + 1, (answer[pos + 1] & 0x1F) + 1
            pos += 2
        if info_flags & 0x08:
            ic_ref = answer[pos]
    except IndexError as exc:
        raise ReaderProtocolError("system information shorter than its flags say") from exc
    return SystemInfo(dsfid=dsfid, uid=uid, afi=afi, block_size=block_size,
                      block_count=block_count, ic_reference=ic_ref)


# ---------------------------------------------------------------- the reader


class PcscTagReader:
    """An ItemReader for one tag on a PC/SC reader (`reader` = name or substring)."""

    def __init__(self, reader: str | None = None, *, block_size: int = 4) -> None:
        self.reader_name = reader
        self.block_size = block_size
        self._lock = threading.Lock()
        self._connection: Any = None
        self._uid: str | None = None

    def _modules(self) -> tuple[Any, tuple[type[Exception], ...]]:
        """pyscard's System module and every exception class it can raise."""
        try:
            from smartcard import Exceptions, System
            from smartcard.pcsc import PCSCExceptions
        except ImportError as exc:
            raise ReaderUnavailable("pyscard is not installed (pip install pyscard)") from exc
        return System, (Exceptions.SmartcardException, PCSCExceptions.BaseSCardException)

    def _translate(self, exc: Exception) -> RfidError:
        name = type(exc).__name__
        if name in ("NoCardException", "CardConnectionException"):
            return TagReadError(f"no tag on the reader ({name})")
        return ReaderUnavailable(f"PC/SC reader unavailable ({name}: {exc})")

    def _transmit(self, apdu: list[int], *, writing: bool = False) -> bytes:
        _system, exceptions = self._modules()
        if self._connection is None:
            raise TagReadError("no tag on the reader")
        try:
            data, sw1, sw2 = self._connection.transmit(apdu)
        except exceptions as exc:
            self._drop()
            raise self._translate(exc) from exc
        return check_sw(data, sw1, sw2, writing=writing)

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.disconnect()
            except Exception:  # already gone; nothing left to release
                log.debug("disconnect failed", exc_info=True)
        self._connection, self._uid = None, None

    def _connect(self) -> None:
        system, exceptions = self._modules()
        try:
            readers = [r for r in system.readers()
                       if self.reader_name is None or self.reader_name in str(r)]
        except exceptions as exc:
            raise self._translate(exc) from exc
        if not readers:
            raise ReaderUnavailable("no matching PC/SC reader")
        connection = readers[0].createConnection()
        try:
            connection.connect()
        except exceptions as exc:
            if type(exc).__name__ in ("NoCardException", "CardConnectionException"):
                return  # reader present, no tag
            raise self._translate(exc) from exc
        self._connection = connection

    def _transparent(self, frame: bytes, *, writing: bool) -> bytes:
        self._transmit(apdu_start_transparent())
        try:
            reply = self._transmit(apdu_transceive(frame), writing=writing)
        finally:
            if self._connection is not None:
                try:
                    self._transmit(apdu_end_transparent())
                except RfidError:
                    log.debug("ending transparent session failed", exc_info=True)
        return parse_transparent(reply, writing=writing)

    def _require(self, uid: str) -> None:
        if self._uid != uid:
            raise TagReadError("that tag is no longer on the reader")

    # ---------------------------------------------------------- ItemReader
    def inventory(self) -> list[TagInfo]:
        with self._lock:
            self._drop()
            self._connect()
            if self._connection is None:
                return []
            try:
                self._uid = parse_uid(self._transmit(apdu_get_uid()))
            except TagReadError:
                return []
            return [TagInfo(uid=self._uid)]

    def system_info(self, uid: str) -> SystemInfo:
        with self._lock:
            self._require(uid)
            return parse_system_info_answer(self._transparent(frame_system_info(uid),
                                                              writing=False))

    def read_blocks(self, uid: str, first: int, count: int) -> bytes:
        with self._lock:
            self._require(uid)
            return b"".join(
                self._transmit(apdu_read_block(block, self.block_size))
                for block in range(first, first + count)
            )

    def write_afi(self, uid: str, afi: int) -> None:
        with self._lock:
            self._require(uid)
            self._transparent(frame_write_afi(uid, afi), writing=True)

    def has_eas(self, uid: str) -> bool:
        return bytes.fromhex(uid)[1] == MFR_NXP

    def read_eas(self, uid: str) -> bool | None:
        if not self.has_eas(uid):
            return None
        with self._lock:
            self._require(uid)
            try:
                self._transparent(frame_nxp(uid, 0xA5), writing=False)
            except TagReadError:
                return False  # silent tag: EAS off
            return True

    def write_eas(self, uid: str, on: bool) -> None:
        if not self.has_eas(uid):
            raise TagWriteError("this tag type has no EAS bit")
        with self._lock:
            self._require(uid)
            self._transparent(frame_nxp(uid, 0xA2 if on else 0xA3), writing=True)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> PcscTagReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
