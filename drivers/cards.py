"""Patron cards through PC/SC (pyscard + pcscd): RFID/NFC card UIDs and Belgian eIDs.

Why our own monitor loop: pyscard's ReaderMonitor/CardMonitor are process-wide
singletons whose thread prints a traceback and stops for good when pcscd goes
away. A kiosk must ride out a daemon restart or a reader being unplugged, so
`PcscCardReader` runs one thread on pyscard's low-level `scard` API
(SCardGetStatusChange with a short timeout), retries with backoff, and turns
everything it sees into events on the application's queue:

    reader found / lost        DeviceState("card_reader", ok=True / False)
    UID card or eID read       CardPresented(Credential(...), display_name=...)
    card taken away            CardRemoved
    card seen but not read     CardUnreadable("please present your card again")

pyscard is imported lazily inside `PcscCardReader`, so the kiosk (demo mode,
tests of other parts) runs without it; nothing else in the project imports it.
Nothing read from a card is logged in clear (identifiers are hashed).

Errors: see `drivers.card_errors` (PC/SC result codes and pyscard exceptions are translated
here).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from domain.events import CardPresented, CardRemoved, CardUnreadable, DeviceState, EventSink
from domain.model import Credential, CredentialKind
from domain.privacy import log_tag
from drivers.card_errors import (
    CardConfigError,
    CardDataError,
    CardError,
    CardNotSupported,
    CardProtocolError,
    CardReadError,
    CardRemovedDuringRead,
    PcscNotInstalled,
    ReaderUnavailable,
)
from drivers.device import Device, Probe
from drivers.uid import MAX_UID_BYTES, UnknownUidFormat, check_uid_format, format_uid

logger = logging.getLogger(__name__)

DEVICE = "card_reader"
ASK_AGAIN = "please present your card again"
EID_IDENTIFIERS = ("national_number", "card_number")


# --- errors -----------------------------------------------------------------


# --- PC/SC result codes (winscard.h; the same on pcsc-lite and Windows) -------

SCARD_S_SUCCESS = 0x00000000
SCARD_E_CANCELLED = 0x80100002
SCARD_E_INVALID_HANDLE = 0x80100003
SCARD_E_UNKNOWN_READER = 0x80100009
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_E_PROTO_MISMATCH = 0x8010000F
SCARD_F_COMM_ERROR = 0x80100013
SCARD_E_NOT_TRANSACTED = 0x80100016
SCARD_E_READER_UNAVAILABLE = 0x80100017
SCARD_E_NO_SERVICE = 0x8010001D
SCARD_E_SERVICE_STOPPED = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_W_UNSUPPORTED_CARD = 0x80100065
SCARD_W_UNRESPONSIVE_CARD = 0x80100066
SCARD_W_UNPOWERED_CARD = 0x80100067
SCARD_W_RESET_CARD = 0x80100068
SCARD_W_REMOVED_CARD = 0x80100069

_DAEMON_GONE = {
    SCARD_E_NO_SERVICE: "PC/SC service not available (is pcscd running?)",
    SCARD_E_SERVICE_STOPPED: "PC/SC service stopped",
    SCARD_F_COMM_ERROR: "lost contact with the PC/SC service",
    SCARD_E_INVALID_HANDLE: "PC/SC context no longer valid",
}
_READER_GONE = {
    SCARD_E_UNKNOWN_READER: "card reader unplugged",
    SCARD_E_READER_UNAVAILABLE: "card reader unavailable",
    SCARD_E_NO_READERS_AVAILABLE: "no card reader connected",
}
_CARD_GONE = {
    SCARD_W_REMOVED_CARD: "card removed",
    SCARD_E_NO_SMARTCARD: "card removed",
    SCARD_W_RESET_CARD: "card reset",
    SCARD_W_UNPOWERED_CARD: "card unpowered",
    SCARD_E_NOT_TRANSACTED: "card did not complete the exchange",
}
_CARD_BAD = {
    SCARD_W_UNRESPONSIVE_CARD: "card does not answer",
    SCARD_W_UNSUPPORTED_CARD: "card not supported by the reader",
    SCARD_E_PROTO_MISMATCH: "card speaks no protocol the reader offers",
}


def translate_result(hresult: int, step: str) -> CardError:
    """Map a failed PC/SC result code to our error type (never returns success)."""
    code = hresult & 0xFFFFFFFF
    if code in _DAEMON_GONE:
        return ReaderUnavailable(_DAEMON_GONE[code])
    if code in _READER_GONE:
        return ReaderUnavailable(_READER_GONE[code])
    if code in _CARD_GONE:
        return CardRemovedDuringRead(f"{step}: {_CARD_GONE[code]}")
    if code in _CARD_BAD:
        return CardNotSupported(f"{step}: {_CARD_BAD[code]}")
    return ReaderUnavailable(f"{step}: PC/SC error {code:#010x}")


# --- reading a card (pure: works on any transmit function) -------------------

Transmit = Callable[[bytes], tuple[bytes, int, int]]
GET_UID = bytes.fromhex("FFCA000000")  # PC/SC part 3 GET DATA, P1=00: the card UID
_NO_GET_DATA = {(0x6E, 0x00), (0x6D, 0x00), (0x6A, 0x81), (0x68, 0x00)}


def looks_like_belgian_eid(atr: bytes) -> bool:
    """Belgian eIDs answer 3B 98 .. 40 .. A5 0x 01 01 01 AD 13 .. (applet versions vary)."""
    return atr[:2] == b"\x3b\x98" and b"\x01\x01\x01\xad\x13" in atr


def read_uid(transmit: Transmit) -> bytes:
    """GET DATA for the UID; CardNotSupported if the reader/card has no such command."""
    data, sw1, sw2 = transmit(GET_UID)
    if (sw1, sw2) in _NO_GET_DATA:
        raise CardNotSupported("card has no UID command")
    if (sw1, sw2) != (0x90, 0x00):
        raise CardProtocolError("GET DATA UID", sw1, sw2)
    if not 1 <= len(data) <= MAX_UID_BYTES:
        raise CardDataError("UID of impossible length")
    return data


def read_credential(
    transmit: Transmit,
    atr: bytes,
    *,
    uid_format: str = "hex",
    eid_identifier: str = "national_number",
    source: str = DEVICE,
) -> CardPresented:
    """Read whatever the card is and return the event to publish.

    eIDs are recognised by their ATR; any other card is asked for its UID, and
    if it has no UID command we still try the eID file (ATRs vary between
    readers), so a new reader or applet version is not turned away.
    """
    from drivers import eid  # drivers.eid imports our errors; import it when needed

    def as_eid() -> CardPresented:
        identity = eid.read_identity(transmit)
        value = (
            identity.national_number
            if eid_identifier == "national_number"
            else identity.card_number
        )
        return CardPresented(
            Credential(CredentialKind.EID, value), display_name=identity.first_name, source=source
        )

    if looks_like_belgian_eid(atr):
        return as_eid()
    try:
        uid = read_uid(transmit)
    except CardNotSupported:
        return as_eid()
    return CardPresented(Credential(CredentialKind.CARD_UID, format_uid(uid, uid_format)),
                         source=source)


# --- the reader interface and the PC/SC implementation -----------------------


class CardReader(Protocol):
    """What the application needs from any patron card reader (real or simulated)."""

    def start(self) -> None: ...

    def close(self) -> None: ...


_PCSCD_ADVICE = "check pcscd (journalctl -u pcscd) and the polkit rule"


def _probe_failure(hresult: int) -> Probe:
    """A PC/SC result code as the doctor shows it."""
    if (hresult & 0xFFFFFFFF) in _DAEMON_GONE:
        return Probe(False, "pcscd is not running (PC/SC service not available)",
                     "sudo systemctl enable --now pcscd.socket")
    return Probe(False, f"PC/SC error: {translate_result(hresult, 'probe')}", _PCSCD_ADVICE)


def _load_pyscard() -> ModuleType:
    try:
        from smartcard import scard
    except ImportError as exc:
        raise PcscNotInstalled(
            "pyscard is not installed (pip install pyscard; needs libpcsclite-dev)"
        ) from exc
    return scard


def check_reader_options(uid_format: str, eid_identifier: str, poll_interval: float) -> None:
    try:
        check_uid_format(uid_format)
    except UnknownUidFormat as exc:
        raise CardConfigError(str(exc)) from exc
    if eid_identifier not in EID_IDENTIFIERS:
        raise CardConfigError(
            f"unknown eid_identifier {eid_identifier!r}; expected one of "
            + ", ".join(EID_IDENTIFIERS)
        )
    if not 0.01 <= poll_interval <= 10:
        raise CardConfigError("poll_interval must be between 0.01 and 10 seconds")


class PcscCardReader(Device):
    """Watches one PC/SC reader on a background thread and publishes card events.

    `reader_filter` picks the first reader whose name contains it (case-insensitive;
    empty: the first reader). `poll_interval` bounds how long close() waits for
    the thread. Unavailability is retried from `retry_initial` doubling up to
    `retry_max` seconds; the kiosk keeps running meanwhile.
    """

    label = "card reader"

    @classmethod
    def probe(cls, *, reader_filter: str = "", **_options: Any) -> Probe:
        """pyscard present, pcscd answering, a reader (the one `reader_filter` names) seen."""
        try:
            scard: Any = _load_pyscard()
        except PcscNotInstalled:
            return Probe(False, "pyscard is not installed",
                         "sudo apt install libpcsclite-dev pcscd; pip install pyscard")
        try:
            hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        except Exception as exc:  # pyscard raises on odd library states
            return Probe(False, f"PC/SC unavailable: {type(exc).__name__}", _PCSCD_ADVICE)
        if hresult != SCARD_S_SUCCESS:
            return _probe_failure(hresult)
        try:
            hresult, found = scard.SCardListReaders(ctx, [])
        finally:
            scard.SCardReleaseContext(ctx)
        if hresult == SCARD_E_NO_READERS_AVAILABLE or (hresult == SCARD_S_SUCCESS and not found):
            return Probe(False, "pcscd runs but sees no reader",
                         "plug the reader in (lsusb); check its driver (libccid)")
        if hresult != SCARD_S_SUCCESS:
            return _probe_failure(hresult)
        names = [str(name) for name in found]
        if reader_filter and not any(reader_filter.lower() in n.lower() for n in names):
            return Probe(False, f"no reader named {reader_filter!r}; found: {', '.join(names)}",
                         "fix devices.card_reader.reader_filter")
        return Probe(True, ", ".join(names))

    def __init__(
        self,
        sink: EventSink,
        *,
        uid_format: str = "hex",
        eid_identifier: str = "national_number",
        reader_filter: str = "",
        poll_interval: float = 0.2,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        source: str = DEVICE,
    ) -> None:
        check_reader_options(uid_format, eid_identifier, poll_interval)
        if not 0 < retry_initial <= retry_max:
            raise CardConfigError("need 0 < retry_initial <= retry_max")
        self._scard: Any = _load_pyscard()
        self._sink = sink
        self.uid_format = uid_format
        self.eid_identifier = eid_identifier
        self.reader_filter = reader_filter
        self.poll_interval = poll_interval
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.source = source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx_lock = threading.Lock()
        self._ctx: Any = None
        self._closed = False
        self._available: bool | None = None
        self._delay = retry_initial
        self.reader_name: str = ""

    # lifetime

    def start(self) -> None:
        self._ensure_open()
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="card-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        with self._ctx_lock:
            if self._ctx is not None:
                self._scard.SCardCancel(self._ctx)
        if self._thread is not None:
            self._thread.join(timeout=self.poll_interval + 5.0)
            self._thread = None

    @property
    def available(self) -> bool:
        """True while a reader is connected and pcscd answers."""
        return bool(self._available)

    # the monitor thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch()
            except ReaderUnavailable as exc:
                self._report(False, str(exc))
            except Exception:  # last resort: the reader thread must never die
                logger.exception("card reader loop failed; retrying")
                self._report(False, "card reader error")
            finally:
                self._release_context()
            if self._stop.wait(self._delay):
                break
            self._delay = min(self._delay * 2, self.retry_max)

    def _report(self, ok: bool, detail: str) -> None:
        if ok:
            self._delay = self.retry_initial
        if self._available is ok:
            return
        self._available = ok
        if ok:
            logger.info("card reader ready: %s", detail)
        else:
            logger.warning("card reader unavailable: %s", detail)
        self._sink.put(DeviceState(DEVICE, ok=ok, detail=detail))

    def _establish(self) -> Any:
        s = self._scard
        try:
            hresult, ctx = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        except Exception as exc:  # pyscard raises on odd library states
            raise ReaderUnavailable(f"PC/SC unavailable: {type(exc).__name__}") from exc
        if hresult != SCARD_S_SUCCESS:
            raise translate_result(hresult, "establish context")
        with self._ctx_lock:
            self._ctx = ctx
        return ctx

    def _release_context(self) -> None:
        with self._ctx_lock:
            ctx, self._ctx = self._ctx, None
        if ctx is not None:
            try:
                self._scard.SCardReleaseContext(ctx)
            except Exception:  # the daemon may be gone already; nothing to release then
                logger.debug("release context failed", exc_info=True)

    def _pick_reader(self, ctx: Any) -> str:
        hresult, readers = self._scard.SCardListReaders(ctx, [])
        if hresult != SCARD_S_SUCCESS:
            raise translate_result(hresult, "list readers")
        wanted = self.reader_filter.lower()
        for name in sorted(readers):
            if wanted in name.lower():
                return str(name)
        raise ReaderUnavailable(
            "no card reader connected"
            if not readers
            else f"no card reader matches {self.reader_filter!r}"
        )

    def _watch(self) -> None:
        s = self._scard
        ctx = self._establish()
        reader = self._pick_reader(ctx)
        self.reader_name = reader
        self._report(True, reader)
        state = s.SCARD_STATE_UNAWARE
        card_on = False
        last_count: int | None = None
        timeout_ms = max(10, int(self.poll_interval * 1000))
        try:
            while not self._stop.is_set():
                hresult, states = s.SCardGetStatusChange(ctx, timeout_ms, [(reader, state)])
                if hresult in (SCARD_E_TIMEOUT, SCARD_E_CANCELLED):
                    continue
                if hresult != SCARD_S_SUCCESS:
                    raise translate_result(hresult, "watch reader")
                _, event, atr = states[0]
                state = event & ~s.SCARD_STATE_CHANGED
                if event & (s.SCARD_STATE_UNKNOWN | s.SCARD_STATE_UNAVAILABLE):
                    raise ReaderUnavailable("card reader unplugged")
                # pcsc-lite counts insertions/removals in the high 16 bits: a card
                # swapped while we were reading the previous one shows as "still
                # present" with a new count.
                count = event >> 16
                swapped = card_on and last_count is not None and count != last_count
                last_count = count
                if swapped:
                    card_on = False
                    self._sink.put(CardRemoved(source=self.source))
                if event & s.SCARD_STATE_PRESENT:
                    if not card_on:
                        card_on = True
                        self._on_card(ctx, reader, bytes(atr), mute=bool(
                            event & s.SCARD_STATE_MUTE))
                elif card_on:
                    card_on = False
                    self._sink.put(CardRemoved(source=self.source))
        finally:
            if card_on and not self._stop.is_set():
                self._sink.put(CardRemoved(source=self.source))

    def _on_card(self, ctx: Any, reader: str, atr: bytes, *, mute: bool) -> None:
        try:
            if mute:
                raise CardNotSupported("card does not answer (mute)")
            event = self._read(ctx, reader, atr)
        except CardReadError as exc:
            logger.info("card unreadable: %s", type(exc).__name__)
            logger.debug("card unreadable detail: %s", exc)
            self._sink.put(CardUnreadable(ASK_AGAIN, source=self.source))
            return
        except ReaderUnavailable:
            self._sink.put(CardUnreadable(ASK_AGAIN, source=self.source))
            raise
        logger.info(
            "card read: %s %s", event.credential.kind.value, log_tag(event.credential.value)
        )
        self._sink.put(event)

    def _read(self, ctx: Any, reader: str, atr: bytes) -> CardPresented:
        s = self._scard
        hresult, hcard, protocol = s.SCardConnect(
            ctx, reader, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1
        )
        if hresult != SCARD_S_SUCCESS:
            raise translate_result(hresult, "connect")

        def transmit(apdu: bytes) -> tuple[bytes, int, int]:
            try:
                hr, response = s.SCardTransmit(hcard, protocol, list(apdu))
            except Exception as exc:  # pyscard type errors on a dead handle
                raise CardRemovedDuringRead(f"transmit: {type(exc).__name__}") from exc
            if hr != SCARD_S_SUCCESS:
                raise translate_result(hr, "transmit")
            if not response:  # the reader got nothing back: the card left mid-exchange
                raise CardRemovedDuringRead("transmit: no answer from the card")
            if len(response) < 2:
                raise CardProtocolError("response without status word")
            return bytes(response[:-2]), response[-2], response[-1]

        try:
            return read_credential(
                transmit,
                atr,
                uid_format=self.uid_format,
                eid_identifier=self.eid_identifier,
                source=self.source,
            )
        finally:
            try:
                s.SCardDisconnect(hcard, s.SCARD_LEAVE_CARD)
            except Exception:  # card or daemon already gone: nothing to disconnect
                logger.debug("disconnect failed", exc_info=True)
