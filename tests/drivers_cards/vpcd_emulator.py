"""A card emulator speaking vpcd's socket protocol, so pcscd sees a "real" card.

vpcd (vsmartcard-vpcd) is a PC/SC reader driver that waits for an emulator on
TCP 35963 (reader "Virtual PCD 00 00") and 35964 ("... 00 01"). Frames are a
2-byte big-endian length plus payload. A 1-byte payload from the reader is a
control code (0 power off, 1 power on, 2 reset, 4 send your ATR); anything
longer is a command APDU to answer. The card is "present" while we are
connected, so disconnecting is pulling the card out.

The cards here are written from the public formats (PC/SC part 3 GET DATA,
ISO 7816-4 SELECT / READ BINARY, the Belgian eID identity file), not copied
from any other emulator.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from smartcard import scard

VPCD_PORT = 35963

SW_OK = b"\x90\x00"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_END_OF_FILE = b"\x62\x82"

# ATRs as the readers report them: a contactless storage card through a PC/SC
# reader (part 3 pseudo-ATR) and a Belgian eID (contact).
ATR_CONTACTLESS = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
ATR_BELGIAN_EID = bytes.fromhex("3B9813400AA503010101AD1311")


class Card:
    """Something that answers APDUs. Subclasses decide what it says."""

    atr: bytes = ATR_CONTACTLESS

    def apdu(self, command: bytes) -> bytes | None:
        """Return the response APDU, or None to be pulled out instead of answering."""
        return SW_INS_NOT_SUPPORTED


@dataclass
class UidCard(Card):
    """A MIFARE-style card: the reader answers GET DATA (FF CA 00 00 00) with the UID."""

    uid: bytes = bytes.fromhex("04A1B2C3")
    atr: bytes = ATR_CONTACTLESS

    def apdu(self, command: bytes) -> bytes | None:
        if command[:4] == b"\xff\xca\x00\x00":
            return self.uid + SW_OK
        return SW_CLA_NOT_SUPPORTED if command[0] == 0xFF else SW_INS_NOT_SUPPORTED


def encode_eid_length(length: int) -> bytes:
    """Belgian eID TLV length: 0xFF bytes each add 255, the last byte (< 0xFF) ends it."""
    return b"\xff" * (length // 255) + bytes([length % 255])


def build_identity_file(fields: list[tuple[int, bytes]]) -> bytes:
    return b"".join(bytes([tag]) + encode_eid_length(len(v)) + v for tag, v in fields)


def sample_identity(
    *,
    card_number: str = "591234567890",
    national_number: str = "85073003328",
    surname: str = "Peeters",
    first_names: str = "Anaïs Marie",
) -> bytes:
    """An identity file laid out as the public eID file format describes it."""
    return build_identity_file(
        [
            (0x00, b"\x01"),  # file structure version
            (0x01, card_number.encode()),
            (0x02, bytes.fromhex("534c494e33660013930d2a0e4a5a")),  # chip number (binary)
            (0x03, b"01.02.2020"),
            (0x04, b"01.02.2030"),
            (0x05, b"Leuven"),
            (0x06, national_number.encode()),
            (0x07, surname.encode()),
            (0x08, first_names.encode()),
            (0x09, b"J"),
            (0x0A, b"Belg"),
            (0x0B, b"Gent"),
            (0x0C, b"30 JUL 1985"),
            (0x0D, b"V"),
            (0x0E, b""),
            (0x0F, b"1"),
            (0x10, b"0"),
            (0x11, bytes(range(20))),  # photo hash
        ]
    )


@dataclass
class EidCard(Card):
    """A Belgian-eID-like card: SELECT by path 3F00/DF01/4031, READ BINARY in chunks.

    `wrong_le_answers_6c` mimics a card that answers 6Cxx when asked for more
    than it has (else it answers 6282 with what is left); `needs_id_files_aid`
    a newer applet that finds the path only after its "IdFiles" AID is selected;
    `pull_after_reads` simulates a patron pulling the card out mid-read.
    """

    identity: bytes = field(default_factory=sample_identity)
    atr: bytes = ATR_BELGIAN_EID
    pull_after_reads: int | None = None
    wrong_le_answers_6c: bool = True
    needs_id_files_aid: bool = False
    reads: int = 0
    selected: bytes = b""
    id_files_selected: bool = False

    IDENTITY_PATH = bytes.fromhex("3F00DF014031")
    ID_FILES_AID = bytes.fromhex("A000000177496446696C6573")

    def apdu(self, command: bytes) -> bytes | None:
        cla, ins, p1, p2 = command[:4]
        if cla == 0xFF:
            return SW_CLA_NOT_SUPPORTED
        if ins == 0xA4:
            lc = command[4]
            path = command[5 : 5 + lc]
            if p1 == 0x04 and path == self.ID_FILES_AID:
                self.id_files_selected = True
                return SW_OK
            if self.needs_id_files_aid and not self.id_files_selected:
                return SW_FILE_NOT_FOUND
            if p1 == 0x08 and path == self.IDENTITY_PATH:
                self.selected = path
                return SW_OK
            return SW_FILE_NOT_FOUND
        if ins == 0xB0:
            if self.selected != self.IDENTITY_PATH:
                return b"\x69\x86"
            self.reads += 1
            if self.pull_after_reads is not None and self.reads > self.pull_after_reads:
                return None
            offset = (p1 << 8) | p2
            le = command[4] if len(command) > 4 else 0
            le = le or 256
            if offset > len(self.identity):
                return SW_WRONG_P1P2
            remaining = len(self.identity) - offset
            if le > remaining:
                if self.wrong_le_answers_6c and remaining > 0:
                    return bytes([0x6C, remaining])
                return self.identity[offset:] + SW_END_OF_FILE
            return self.identity[offset : offset + le] + SW_OK
        return SW_INS_NOT_SUPPORTED


@dataclass
class ScriptedCard(Card):
    """Answers with whatever a test function says (for odd status words)."""

    handler: Callable[[bytes], bytes | None] = lambda command: SW_OK
    atr: bytes = ATR_CONTACTLESS

    def apdu(self, command: bytes) -> bytes | None:
        return self.handler(command)


class VpcdEmulator:
    """Connects one card to vpcd; `insert()` presents it, `pull()` removes it."""

    def __init__(
        self, port: int = VPCD_PORT, host: str = "127.0.0.1", reader: str = "Virtual PCD 00 00"
    ) -> None:
        self._addr = (host, port)
        self.reader = reader
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.card: Card | None = None
        self.apdus: list[bytes] = []

    def insert(self, card: Card, timeout: float = 5.0) -> None:
        self.pull()
        self.card = card
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection(self._addr, timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        self._thread.start()

    def pull(self, wait: bool = True) -> None:
        """Take the card away; by default wait until pcscd has noticed.

        vpcd only sees a closed connection at its next presence poll (pcscd polls
        every 400 ms); a card inserted before that would meet a half-torn-down
        link, which no real reader produces.
        """
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            if wait:
                wait_until_empty(self.reader)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    close = pull

    def __enter__(self) -> VpcdEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pull()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                header = _recv_exact(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                payload = _recv_exact(sock, length)
                if payload is None:
                    return
                card = self.card
                if card is None:
                    return
                if length == 1:
                    if payload[0] == 4:
                        _send(sock, card.atr)
                    continue  # power off / on / reset need no answer
                self.apdus.append(payload)
                answer = card.apdu(payload)
                if answer is None:  # the patron pulls the card mid-read
                    threading.Thread(target=self.pull, args=(False,), daemon=True).start()
                    return
                _send(sock, answer)
        except OSError:
            return


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
        # vpcd writes length and payload separately; acknowledging at once spares
        # each exchange a 40 ms delayed-ACK/Nagle stall that no real reader has
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    return data


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def wait_until_empty(reader: str, timeout: float = 10.0) -> None:
    """Block until pcscd reports no card in `reader` (or pcscd is gone)."""
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return
    try:
        deadline = time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while time.monotonic() < deadline:
            hresult, states = scard.SCardGetStatusChange(ctx, 100, [(reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                return
            state = states[0][1] & ~scard.SCARD_STATE_CHANGED
            if not state & scard.SCARD_STATE_PRESENT:
                return
        # say so here, rather than let the next test read this card as its own
        raise TimeoutError(f"pcscd still sees a card in {reader!r} after {timeout} s")
    finally:
        scard.SCardReleaseContext(ctx)
