"""RFID item tags: the ItemReader seam, the pad that turns inventories into
`ItemsOnPad` events, and the security flip (AFI, plus EAS where the tag has it).

Readers (one module each, all speaking `ItemReader`):
    drivers.rfid_feig.FeigReader     FEIG ISO host protocol, a stack of tags (serial/USB)
    drivers.rfid_pcsc.PcscTagReader  one tag at a time through PC/SC (pyscard)
    drivers.rfid_sim.SimRfidReader   simulated FEIG reader on a pseudo-terminal

Error tree (defined in drivers.rfid_errors, re-exported here):

    RfidError
    ├── ReaderUnavailable       port missing/unplugged/silent (also ConnectionError)
    ├── ReaderProtocolError     garbage from the reader (also ValueError)
    ├── TagReadError            tag did not answer / ISO error
    ├── TagWriteError           tag refused a write
    │   └── SecurityWriteFailed AFI/EAS wrong after every retry
    └── TagDataError            memory is not ISO 28560 (also ValueError)

Security contract. `RfidPad.set_secured(uid, secured)` writes the AFI (and the
EAS bit on tags that have one), reads both back, retries, and returns False when
the tag still is not in the wanted state. The caller (circulation) must call it
only AFTER the journal holds the transaction durably: a crash between the two
then leaves a journalled loan with a still-secured item (the gate alarms, staff
fix it), never an unsecured item without a loan. On False the caller keeps the
loan and tells the patron to show the item at the desk.

Foreign and unreadable tags are never dropped: a tag whose owner ISIL is not in
`library_isils` is published with its owner and usage (see `RfidPad.is_foreign`)
and a tag whose memory cannot be decoded is published with an empty item id and
usage "unknown", so the session can refuse both instead of silently ignoring an
item that would then leave the library.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from domain.events import DeviceState, EventSink, ItemsOnPad, TagRead
from domain.privacy import log_tag
from drivers.iso28560 import (
    DSFID_ISO28560_2,
    TagContent,
    Usage,
    decode_tag,
    is_own_item,
)
from drivers.rfid_errors import (
    ReaderProtocolError,
    ReaderUnavailable,
    RfidError,
    SecurityWriteFailed,
    TagDataError,
    TagReadError,
    TagWriteError,
)

__all__ = [
    "LEGACY_SECURITY",
    "ItemReader",
    "ReaderProtocolError",
    "ReaderUnavailable",
    "RfidError",
    "RfidPad",
    "SecurityPolicy",
    "SecurityWriteFailed",
    "SystemInfo",
    "TagDataError",
    "TagInfo",
    "TagReadError",
    "TagWriteError",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One tag seen by an inventory. `uid` is 16 hex digits, MSB first (E0...)."""

    uid: str
    dsfid: int = 0


@dataclass(frozen=True, slots=True)
class SystemInfo:
    dsfid: int
    uid: str
    afi: int
    block_size: int = 4
    block_count: int = 28
    ic_reference: int = 0


class ItemReader(Protocol):
    """What a pad needs from an ISO 15693 reader. All methods raise RfidError only."""

    def inventory(self) -> list[TagInfo]: ...

    def system_info(self, uid: str) -> SystemInfo: ...

    def read_blocks(self, uid: str, first: int, count: int) -> bytes: ...

    def write_afi(self, uid: str, afi: int) -> None: ...

    def has_eas(self, uid: str) -> bool: ...

    def read_eas(self, uid: str) -> bool | None: ...

    def write_eas(self, uid: str, on: bool) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """AFI values and retry count for the security flip.

    ISO 28560-1 recommends AFI 0x07 for an item in the library (secured, the
    gate alarms) and 0xC2 for an item on loan. Some older installations use
    0xDA / 0xD7 instead: see LEGACY_SECURITY, and check which value your gates
    treat as "alarm" before switching.
    """

    afi_secured: int = 0x07
    afi_unsecured: int = 0xC2
    use_eas: bool = True
    attempts: int = 3

    def __post_init__(self) -> None:
        for value in (self.afi_secured, self.afi_unsecured):
            if not 0 <= value <= 0xFF:
                raise ValueError(f"AFI must be a byte, got {value!r}")
        if self.afi_secured == self.afi_unsecured:
            raise ValueError("secured and unsecured AFI must differ")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")


LEGACY_SECURITY = SecurityPolicy(afi_secured=0xDA, afi_unsecured=0xD7)


@dataclass(slots=True)
class _KnownTag:
    info: SystemInfo | None
    content: TagContent | None
    eas: bool | None


class RfidPad:
    """Polls an ItemReader and publishes the set of tags on the pad.

    A tag's memory is read once when it arrives and cached while it stays; a
    poll is then one inventory. `ItemsOnPad` is published only when the set
    (or a tag's secured state) changes; `DeviceState("rfid", ...)` when the
    reader goes away or comes back.
    """

    def __init__(
        self,
        reader: ItemReader,
        *,
        sink: EventSink | None = None,
        library_isils: Iterable[str] = (),
        security: SecurityPolicy | None = None,
        poll_interval: float = 0.25,
        memory_bytes: int = 32,
        source: str = "rfid",
    ) -> None:
        self.reader = reader
        self.sink = sink
        self.library_isils = tuple(library_isils)
        self.security = security or SecurityPolicy()
        self.poll_interval = poll_interval
        self.memory_bytes = memory_bytes
        self.source = source
        self._known: dict[str, _KnownTag] = {}
        self._published: tuple[TagRead, ...] | None = None
        self._reader_ok = True
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ reading
    def _read_tag(self, tag: TagInfo) -> _KnownTag:
        info = self.reader.system_info(tag.uid)
        # ISO 28560-2 has variable-length data sets: read up to 128 bytes (one
        # FEIG command on a 4-byte-block tag) so later data sets are not cut off.
        wanted = max(self.memory_bytes, 128) if info.dsfid == DSFID_ISO28560_2 else (
            self.memory_bytes)
        blocks = min(info.block_count, -(-wanted // info.block_size))
        memory = self.reader.read_blocks(tag.uid, 0, blocks)
        try:
            content: TagContent | None = decode_tag(memory, info.dsfid)
        except TagDataError as exc:
            log.warning("tag %s holds no readable library data: %s", log_tag(tag.uid), exc)
            content = None
        eas = self.reader.read_eas(tag.uid) if self.security.use_eas else None
        return _KnownTag(info=info, content=content, eas=eas)

    def _tag_read(self, uid: str, known: _KnownTag) -> TagRead:
        secured = known.info is not None and known.info.afi == self.security.afi_secured
        content = known.content
        if content is None:
            return TagRead(item_id="", uid=uid, usage=Usage.UNKNOWN.value, secured=secured)
        usage = Usage.UNKNOWN if content.usage is Usage.ACQUISITION else content.usage
        return TagRead(
            item_id=content.item_id,
            uid=uid,
            owner_isil=content.owner_isil,
            part=content.part,
            parts=content.parts,
            usage=usage.value,
            secured=secured,
        )

    def poll_once(self) -> tuple[TagRead, ...]:
        """Inventory once, read new tags, publish on change. Raises RfidError."""
        with self._lock:
            try:
                seen = self.reader.inventory()
            except ReaderUnavailable as exc:
                self._set_reader_ok(False, str(exc))
                raise
            self._set_reader_ok(True, "")
            present = {tag.uid: tag for tag in seen}
            for uid in list(self._known):
                if uid not in present:
                    del self._known[uid]
            for uid, tag in present.items():
                if uid in self._known:
                    continue
                try:
                    self._known[uid] = known = self._read_tag(tag)
                except ReaderUnavailable as exc:
                    self._set_reader_ok(False, str(exc))
                    raise
                except (TagReadError, ReaderProtocolError) as exc:
                    # Moved away mid-read, or a garbled answer: try again next poll.
                    log.info("tag %s not read this time: %s", log_tag(uid), exc)
                    continue
                arrived = self._tag_read(uid, known)
                if arrived.item_id and self.is_foreign(arrived):
                    log.info("foreign tag %s owned by %s", log_tag(arrived.item_id),
                             arrived.owner_isil or "nobody")
            tags = tuple(
                self._tag_read(uid, self._known[uid]) for uid in sorted(self._known)
            )
            if tags != self._published:
                self._published = tags
                self._publish(ItemsOnPad(tags=tags, source=self.source))
            return tags

    def is_foreign(self, tag: TagRead) -> bool:
        """True when the tag belongs to another library (or says nothing usable)."""
        return not is_own_item(tag.owner_isil, self.library_isils)

    @property
    def tags(self) -> tuple[TagRead, ...]:
        with self._lock:
            return self._published or ()

    # ------------------------------------------------------------ security
    def _secure_once(self, uid: str, secured: bool) -> None:
        afi = self.security.afi_secured if secured else self.security.afi_unsecured
        self.reader.write_afi(uid, afi)
        use_eas = self.security.use_eas and self.reader.has_eas(uid)
        if use_eas:
            self.reader.write_eas(uid, secured)
        info = self.reader.system_info(uid)
        if info.afi != afi:
            raise SecurityWriteFailed(f"AFI reads back 0x{info.afi:02X}, wanted 0x{afi:02X}")
        eas = self.reader.read_eas(uid) if use_eas else None
        if use_eas and eas is not secured:
            raise SecurityWriteFailed("EAS bit did not change")
        known = self._known.get(uid)
        if known is not None:
            known.info = info
            known.eas = eas

    def set_secured(self, uid: str, secured: bool) -> bool:
        """Flip the tag's security state and verify it; False if it would not stick.

        Call only once the journal holds the transaction (see module docstring).
        """
        last: RfidError | None = None
        with self._lock:
            for attempt in range(1, self.security.attempts + 1):
                try:
                    self._secure_once(uid, secured)
                    return True
                except RfidError as exc:
                    last = exc
                    log.info("security write %d/%d on %s failed: %s", attempt,
                             self.security.attempts, log_tag(uid), exc)
        log.warning("tag %s could not be %s: %s", log_tag(uid),
                    "secured" if secured else "unsecured", last)
        return False

    def on_pad(self, uid: str) -> bool:
        """Is this tag on the pad right now (a fresh inventory)? False when the reader cannot
        tell: the patron is then asked to put the item back, which is harmless if it is there."""
        with self._lock:
            try:
                return any(tag.uid == uid for tag in self.reader.inventory())
            except RfidError as exc:
                log.info("inventory to find %s failed: %s", log_tag(uid), exc)
                return False

    # ------------------------------------------------------------ events
    def _publish(self, event: ItemsOnPad | DeviceState) -> None:
        if self.sink is not None:
            self.sink.put(event)

    def _set_reader_ok(self, ok: bool, detail: str) -> None:
        if ok == self._reader_ok:
            return
        self._reader_ok = ok
        if ok:
            log.info("RFID reader is back")
        else:
            log.error("RFID reader unavailable: %s", detail)
            self._known.clear()
            self._published = None
        self._publish(DeviceState(device="rfid", ok=ok, detail=detail))

    # ------------------------------------------------------------ thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except RfidError as exc:
                log.debug("poll failed: %s", exc)
            except Exception:  # a bug must not silently stop the pad for the whole day
                log.exception("unexpected error while polling the RFID pad")
            self._stop.wait(self.poll_interval)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rfid-pad", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.reader.close()

    def __enter__(self) -> RfidPad:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
