"""A simulated FEIG ISO-host RFID reader on a pseudo-terminal.

The simulator owns the master side of a pty and answers the same byte protocol
as a real FEIG reader (see drivers.rfid_feig); the real `FeigReader` opens the
slave side (`sim.port`) with pyserial. Demo mode and tests therefore run the
real driver code, frame parsing, CRCs and all; only the radio is imaginary.

Test controls: `place(*tags)`, `place_items(ids)` (pad holds exactly these items,
for the demo panel), `remove(uid)`, `clear()`, `fail_next_writes(n)`
(security writes answer "write error", or with `silent=True` answer OK but do
not stick, so read-back verification is exercised), `set_silent(True)` (the
reader stops answering, as if unplugged), `inject(raw_bytes)` (line noise).
Tags hold ISO 28560 data: `SimTag.library_item(...)` builds one.

Open the driver with `sim.open_reader()` (or `FeigReader(sim.port, parity="N")`):
a Linux pty accepts even parity the first time but refuses to have it applied
again once the port was closed and reopened (tcsetattr EINVAL), so the
simulator is used without parity; everything above the line settings is the same.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import threading
import tty
from collections.abc import Iterable
from dataclasses import dataclass, field

from drivers.iso28560 import Usage, encode_danish, encode_part2
from drivers.rfid_errors import ReaderProtocolError, ReaderUnavailable
from drivers.rfid_feig import (
    CMD_CUSTOM,
    CMD_ISO,
    CMD_SOFTWARE_VERSION,
    ISO_INVENTORY,
    ISO_READ_BLOCKS,
    ISO_SYSTEM_INFO,
    ISO_WRITE_AFI,
    ISO_WRITE_BLOCKS,
    MFR_NXP,
    MODE_MORE,
    NXP_EAS_ALARM,
    NXP_RESET_EAS,
    NXP_SET_EAS,
    ST_ADDRESS_ERROR,
    ST_LENGTH_ERROR,
    ST_MORE_DATA,
    ST_NO_TRANSPONDER,
    ST_OK,
    ST_UNKNOWN_COMMAND,
    ST_WRITE_ERROR,
    FeigReader,
    build_frame,
    split_frame,
)

log = logging.getLogger(__name__)

_uid_counter = itertools.count(0x100000)


def _next_uid(manufacturer: int) -> str:
    return f"E0{manufacturer:02X}{next(_uid_counter):012X}"


@dataclass
class SimTag:
    """One ISO 15693 tag: UID, DSFID, AFI, EAS and 4-byte blocks of memory."""

    uid: str
    memory: bytearray
    dsfid: int = 0x00
    afi: int = 0x07
    eas: bool = True
    block_size: int = 4
    ic_reference: int = 0x01

    @property
    def has_eas(self) -> bool:
        return bytes.fromhex(self.uid)[1] == MFR_NXP

    @classmethod
    def library_item(
        cls,
        item_id: str,
        owner_isil: str = "NL-AmRBL",
        *,
        usage: Usage = Usage.LOANABLE,
        part: int = 1,
        parts: int = 1,
        secured: bool = True,
        model: str = "28560-3",
        reversed_blocks: bool = False,
        uid: str | None = None,
        manufacturer: int = MFR_NXP,
        blocks: int = 28,
        afi_secured: int = 0x07,
        afi_unsecured: int = 0xC2,
    ) -> SimTag:
        """A tag as a library's encoder would have written it."""
        if model == "28560-2":
            data, dsfid = encode_part2(item_id, owner_isil, usage=usage), 0x06
        else:
            data = encode_danish(item_id, owner_isil, usage=usage, part=part, parts=parts,
                                 reversed_blocks=reversed_blocks)
            dsfid = 0x00
        memory = bytearray(blocks * 4)
        memory[: len(data)] = data[: len(memory)]
        return cls(
            uid=uid or _next_uid(manufacturer),
            memory=memory,
            dsfid=dsfid,
            afi=afi_secured if secured else afi_unsecured,
            eas=secured,
        )

    @classmethod
    def blank(cls, *, uid: str | None = None, blocks: int = 28) -> SimTag:
        return cls(uid=uid or _next_uid(MFR_NXP), memory=bytearray(blocks * 4))


@dataclass
class _Faults:
    failing_writes: int = 0
    silent_failure: bool = False
    silent: bool = False
    pending_inventory: list[SimTag] = field(default_factory=list)


class SimRfidReader:
    """The device side of a simulated FEIG reader. Use `port` with FeigReader."""

    def __init__(self, *, max_tags_per_reply: int = 8, bus_address: int = 0xFF) -> None:
        self.max_tags_per_reply = max_tags_per_reply
        self.bus_address = bus_address
        self._tags: dict[str, SimTag] = {}
        self._faults = _Faults()
        self._by_item: dict[str, SimTag] = {}  # tags made by place_items, kept when lifted
        self._lock = threading.RLock()  # place_items -> tags_for
        self.requests = 0
        try:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            self.port = os.ttyname(self._slave)
            self._wake_r, self._wake_w = os.pipe()
        except OSError as exc:
            raise ReaderUnavailable(f"cannot create a pseudo-terminal: {exc}") from exc
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="sim-rfid", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------- test controls
    def place(self, *tags: SimTag) -> None:
        with self._lock:
            for tag in tags:
                self._tags[tag.uid] = tag

    def place_items(self, item_ids: Iterable[str], *, owner_isil: str = "NL-AmRBL",
                    secured: bool = True) -> list[SimTag]:
        """Make the pad hold exactly these items (the demo panel's view of the pad).

        An item placed before gets its old tag back (same UID, same AFI), as when
        a patron lifts a book and puts it down again; a new item gets a new tag,
        secured unless `secured=False` (an item coming back from loan).
        """
        with self._lock:
            tags = self.tags_for(item_ids, owner_isil=owner_isil, secured=secured)
            self._tags = {tag.uid: tag for tag in tags}
            return tags

    def tags_for(self, item_ids: Iterable[str], *, owner_isil: str = "NL-AmRBL",
                 secured: bool = True) -> list[SimTag]:
        """The tags of these items (made as `place_items` would), not placed on the pad."""
        with self._lock:
            tags = []
            for item_id in dict.fromkeys(item_ids):
                tag = self._by_item.get(item_id)
                if tag is None:
                    model = "28560-3" if len(item_id) <= 16 else "28560-2"
                    tag = SimTag.library_item(item_id, owner_isil, secured=secured, model=model)
                    self._by_item[item_id] = tag
                tags.append(tag)
            return tags

    def remove(self, uid: str) -> None:
        with self._lock:
            self._tags.pop(uid, None)

    def clear(self) -> None:
        with self._lock:
            self._tags.clear()

    def tag(self, uid: str) -> SimTag:
        with self._lock:
            return self._tags[uid]

    @property
    def tags(self) -> list[SimTag]:
        with self._lock:
            return list(self._tags.values())

    def fail_next_writes(self, count: int, *, silent: bool = False) -> None:
        """The next `count` AFI/EAS writes fail: with status 0x03, or (silent) falsely OK."""
        with self._lock:
            self._faults.failing_writes = count
            self._faults.silent_failure = silent

    def set_silent(self, silent: bool) -> None:
        """Stop (or resume) answering, as a reader whose cable was pulled."""
        with self._lock:
            self._faults.silent = silent

    def inject(self, raw: bytes) -> None:
        """Write raw bytes towards the host (line noise, a stray frame)."""
        os.write(self._master, raw)

    def open_reader(self, *, timeout: float = 1.0, retries: int = 1) -> FeigReader:
        """The real driver on this simulator's port (no parity: see module docstring)."""
        return FeigReader(self.port, parity="N", timeout=timeout, retries=retries)

    # ---------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> SimRfidReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------- device side
    def _serve(self) -> None:
        buffer = bytearray()
        while not self._closed:
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [], 1.0)
            except (OSError, ValueError):
                return
            if self._wake_r in ready or self._closed:
                return
            if self._master not in ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            buffer += chunk
            while True:
                try:
                    frame, used = split_frame(buffer)
                except ReaderProtocolError:
                    del buffer[:1]  # a real reader ignores a corrupt request
                    continue
                del buffer[:used]
                if frame is None:
                    break
                reply = self._handle(frame.command, frame.payload)
                if reply is not None:
                    try:
                        os.write(self._master, reply)
                    except OSError:
                        return

    def _reply(self, command: int, status: int, data: bytes = b"") -> bytes:
        return build_frame(command, data, address=self.bus_address, status=status)

    def _handle(self, command: int, data: bytes) -> bytes | None:
        with self._lock:
            self.requests += 1
            if self._faults.silent:
                return None
            if command == CMD_SOFTWARE_VERSION:
                version = bytes([0x03, 0x10, 0x00, 0x71, 0x80, 0x00, 0x08])
                return self._reply(command, ST_OK, version)
            if command == CMD_ISO and data:
                return self._iso(data[0], data[1:])
            if command == CMD_CUSTOM and len(data) >= 3 and data[0] == MFR_NXP:
                return self._nxp(data[1], data[2:])
            return self._reply(command, ST_UNKNOWN_COMMAND)

    def _addressed(self, body: bytes) -> tuple[SimTag | None, bytes] | None:
        if len(body) < 9:
            return None
        return self._tags.get(body[1:9].hex().upper()), body[9:]

    def _write_fails(self) -> str:
        """'' when the write works, 'error' or 'silent' when it should fail."""
        if self._faults.failing_writes <= 0:
            return ""
        self._faults.failing_writes -= 1
        return "silent" if self._faults.silent_failure else "error"

    def _iso(self, sub: int, body: bytes) -> bytes:
        if sub == ISO_INVENTORY:
            return self._inventory(body)
        addressed = self._addressed(body)
        if addressed is None:
            return self._reply(CMD_ISO, ST_LENGTH_ERROR)
        tag, args = addressed
        if tag is None:
            return self._reply(CMD_ISO, ST_NO_TRANSPONDER)
        size = tag.block_size
        blocks = len(tag.memory) // size
        if sub == ISO_SYSTEM_INFO:
            info = bytes([tag.dsfid]) + bytes.fromhex(tag.uid) + bytes(
                [tag.afi, size - 1, blocks - 1, tag.ic_reference]
            )
            return self._reply(CMD_ISO, ST_OK, info)
        if sub == ISO_READ_BLOCKS and len(args) == 2:
            return self._read_blocks(tag, *args)
        if sub == ISO_WRITE_BLOCKS and len(args) >= 3:
            return self._write_blocks(tag, args)
        if sub == ISO_WRITE_AFI and len(args) == 1:
            failure = self._write_fails()
            if failure == "error":
                return self._reply(CMD_ISO, ST_WRITE_ERROR)
            if not failure:
                tag.afi = args[0]
            return self._reply(CMD_ISO, ST_OK)
        return self._reply(CMD_ISO, ST_UNKNOWN_COMMAND)

    def _inventory(self, body: bytes) -> bytes:
        if not body:
            return self._reply(CMD_ISO, ST_LENGTH_ERROR)
        if not body[0] & MODE_MORE:
            self._faults.pending_inventory = list(self._tags.values())
        batch = self._faults.pending_inventory[: self.max_tags_per_reply]
        rest = self._faults.pending_inventory[self.max_tags_per_reply :]
        self._faults.pending_inventory = rest
        if not batch:
            return self._reply(CMD_ISO, ST_NO_TRANSPONDER)
        records = b"".join(bytes([0x03, tag.dsfid]) + bytes.fromhex(tag.uid) for tag in batch)
        status = ST_MORE_DATA if rest else ST_OK
        return self._reply(CMD_ISO, status, bytes([len(batch)]) + records)

    def _read_blocks(self, tag: SimTag, first: int, count: int) -> bytes:
        size = tag.block_size
        if count == 0 or first + count > len(tag.memory) // size:
            return self._reply(CMD_ISO, ST_ADDRESS_ERROR)
        out = bytearray([count, size])
        for n in range(first, first + count):
            out += b"\x00" + bytes(tag.memory[n * size : (n + 1) * size][::-1])
        return self._reply(CMD_ISO, ST_OK, bytes(out))

    def _write_blocks(self, tag: SimTag, args: bytes) -> bytes:
        size = tag.block_size
        first, count, db_size = args[:3]
        payload = args[3:]
        if db_size != size or len(payload) != count * size or first + count > len(
                tag.memory) // size:
            return self._reply(CMD_ISO, ST_ADDRESS_ERROR)
        for i in range(count):
            block = payload[i * size : (i + 1) * size][::-1]
            tag.memory[(first + i) * size : (first + i + 1) * size] = block
        return self._reply(CMD_ISO, ST_OK)

    def _nxp(self, sub: int, body: bytes) -> bytes:
        addressed = self._addressed(body)
        if addressed is None:
            return self._reply(CMD_CUSTOM, ST_LENGTH_ERROR)
        tag, _args = addressed
        if tag is None or not tag.has_eas:
            return self._reply(CMD_CUSTOM, ST_NO_TRANSPONDER)
        if sub == NXP_EAS_ALARM:
            return self._reply(CMD_CUSTOM, ST_OK if tag.eas else ST_NO_TRANSPONDER)
        if sub in (NXP_SET_EAS, NXP_RESET_EAS):
            failure = self._write_fails()
            if failure == "error":
                return self._reply(CMD_CUSTOM, ST_WRITE_ERROR)
            if not failure:
                tag.eas = sub == NXP_SET_EAS
            return self._reply(CMD_CUSTOM, ST_OK)
        return self._reply(CMD_CUSTOM, ST_UNKNOWN_COMMAND)
