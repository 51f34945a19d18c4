"""Start, stop and reuse a real pcscd for the card tests and bench/card_read.py.

pcscd is started in the foreground (`pcscd -f`) as our child so a test can stop
it (the "PC/SC service not available" path) and start it again. If a pcscd is
already serving the vpcd readers we reuse it and never stop it: it is not ours.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from smartcard import scard

VPCD_READER = "Virtual PCD 00 00"


class PcscdUnavailable(RuntimeError):
    """pcscd could not be started or did not show the vpcd readers."""


def vpcd_readers() -> list[str]:
    """Readers pcscd reports now; empty when the daemon is not there."""
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, readers = scard.SCardListReaders(ctx, [])
        return list(readers) if hresult == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(ctx)


class Pcscd:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.owned = False

    def ensure_running(self, timeout: float = 15.0) -> None:
        """Reuse a pcscd that already serves the vpcd readers, else start ours."""
        if VPCD_READER in vpcd_readers():
            return
        self.start(timeout)

    def start(self, timeout: float = 15.0) -> None:
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not Path(binary).exists():
            raise PcscdUnavailable(
                "pcscd not installed: apt-get install -y --no-install-recommends "
                "pcscd vsmartcard-vpcd"
            )
        deadline = time.monotonic() + timeout
        while True:  # a pcscd that is still shutting down makes a new one exit at once
            log = self.log_path.open("ab")
            self.proc = subprocess.Popen(
                [binary, "-f"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            log.close()
            self.owned = True
            try:
                self._wait_for_readers(min(3.0, max(0.1, deadline - time.monotonic())))
                return
            except PcscdUnavailable:
                if self.proc.poll() is None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def _wait_for_readers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if VPCD_READER in vpcd_readers():
                return
            time.sleep(0.03)
        raise PcscdUnavailable(
            f"pcscd shows no {VPCD_READER!r} reader (is vsmartcard-vpcd installed?)"
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None
