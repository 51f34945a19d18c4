"""Card presented -> identifier handed to the application, through the real pcscd.

Presents an emulated card to vpcd (our tests' emulator) about 30 times per
card type and measures from the moment the card "touches" the reader until
PcscCardReader has published CardPresented. That includes pcscd's own card
detection (it polls vpcd every 400 ms; back-to-back presentations line up with
that poll, so expect about 400 ms), the APDUs, and our parsing.
`*_after_detect_ms` is the part after pcscd itself reported the card: what our
reader adds (connect, APDUs, parsing, publishing). `apdu_ms` is one GET DATA
round trip on a card that is already connected.

Run: .venv/bin/python bench/card_read.py   (starts pcscd if none is running)
The last line is one JSON object.
"""

from __future__ import annotations

import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "drivers_cards")]

from pcscd_daemon import VPCD_READER, Pcscd  # noqa: E402
from smartcard import scard  # noqa: E402
from vpcd_emulator import EidCard, UidCard, VpcdEmulator  # noqa: E402

from domain.events import CardPresented, CardRemoved, DeviceState  # noqa: E402
from drivers.cards import PcscCardReader  # noqa: E402

PRESENTATIONS = 30
BUDGET_S = 50.0


def wait_for(q: queue.Queue, kind: type, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        event = q.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(event, kind):
            return event


class DetectionWatcher:
    """Notes when pcscd itself reports a card, on its own PC/SC context.

    Subtracting that from our publish time gives what our code adds (APDUs,
    parsing, event), separate from pcscd's polling of the reader.
    """

    def __init__(self) -> None:
        self.detected: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        state = scard.SCARD_STATE_UNAWARE
        while not self._stop.is_set():
            hr, states = scard.SCardGetStatusChange(ctx, 50, [(VPCD_READER, state)])
            if hr != scard.SCARD_S_SUCCESS:
                continue
            new = states[0][1] & ~scard.SCARD_STATE_CHANGED
            if new & scard.SCARD_STATE_PRESENT and not state & scard.SCARD_STATE_PRESENT:
                self.detected.append(time.perf_counter())
            state = new
        scard.SCardReleaseContext(ctx)

    def since(self, t0: float) -> float | None:
        return next((t for t in self.detected if t >= t0), None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def present_many(
    q: queue.Queue, emu: VpcdEmulator, make_card, deadline: float, watcher: DetectionWatcher
) -> tuple[list[float], list[float]]:
    total, ours = [], []
    for _ in range(PRESENTATIONS):
        if time.monotonic() > deadline:
            break
        card = make_card()
        t0 = time.perf_counter()
        emu.insert(card)
        wait_for(q, CardPresented)
        t1 = time.perf_counter()
        total.append((t1 - t0) * 1000)
        seen = watcher.since(t0)
        if seen is not None and seen <= t1:
            ours.append((t1 - seen) * 1000)
        emu.pull(wait=False)
        wait_for(q, CardRemoved)
    return total, ours


def apdu_round_trip(emu: VpcdEmulator, n: int = 50) -> float:
    emu.insert(UidCard())
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    deadline = time.monotonic() + 3
    while True:
        hr, card, proto = scard.SCardConnect(ctx, VPCD_READER, scard.SCARD_SHARE_SHARED,
                                             scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hr == scard.SCARD_S_SUCCESS or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        scard.SCardTransmit(card, proto, [0xFF, 0xCA, 0, 0, 0])
        samples.append((time.perf_counter() - t0) * 1000)
    scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
    scard.SCardReleaseContext(ctx)
    emu.pull()
    return statistics.median(samples)


def main() -> None:
    start = time.monotonic()
    log = Path(tempfile.mkdtemp(prefix="bench-pcscd-")) / "pcscd.log"
    daemon = Pcscd(log)
    daemon.ensure_running()
    q: queue.Queue = queue.Queue()
    emu = VpcdEmulator()
    try:
        with PcscCardReader(q, reader_filter=VPCD_READER, poll_interval=0.05):
            if not wait_for(q, DeviceState).ok:
                raise SystemExit("card reader not available")
            watcher = DetectionWatcher()
            deadline = start + BUDGET_S
            halfway = time.monotonic() + (deadline - time.monotonic()) / 2
            uid, uid_ours = present_many(q, emu, UidCard, halfway, watcher)
            eid, eid_ours = present_many(q, emu, EidCard, deadline, watcher)
            watcher.close()
        apdu = apdu_round_trip(emu)
    finally:
        emu.pull(wait=False)
        daemon.stop()
    result = {
        "uid_ms": round(statistics.median(uid), 1),
        "eid_ms": round(statistics.median(eid), 1),
        "uid_p90_ms": round(statistics.quantiles(uid, n=10)[-1], 1),
        "eid_p90_ms": round(statistics.quantiles(eid, n=10)[-1], 1),
        "uid_after_detect_ms": round(statistics.median(uid_ours), 2) if uid_ours else None,
        "eid_after_detect_ms": round(statistics.median(eid_ours), 2) if eid_ours else None,
        "apdu_ms": round(apdu, 3),
        "presentations": {"uid": len(uid), "eid": len(eid)},
        "pcscd_started_by_bench": daemon.owned,
        "seconds": round(time.monotonic() - start, 1),
    }
    print(f"UID card -> identifier: median {result['uid_ms']} ms (p90 {result['uid_p90_ms']})")
    print(f"eID card -> identifier: median {result['eid_ms']} ms (p90 {result['eid_p90_ms']})")
    print(f"  of which after pcscd saw the card: UID {result['uid_after_detect_ms']} ms, "
          f"eID {result['eid_after_detect_ms']} ms")
    print(f"one APDU round trip through pcscd: {result['apdu_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
