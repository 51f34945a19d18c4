"""SIP2 checkout round trip: our client versus the same bytes over a raw socket.

Both talk to the same pysip2 server on 127.0.0.1 (each over its own logged-in
connection), interleaved round by round so both see the same machine load.
The headline figure has the server in its own process, as a real ACS would be
(the client then wakes on a cold CPU after each reply, which is where its
Python costs most); the same measurement with the server in a thread of this
process is printed beside it for comparison;
the figure that matters is the ratio of medians (target <= 1.2), i.e. what
our framing, checksum, locking and parsing add to a bare socket exchange.

Run:  .venv/bin/python bench/sip2_roundtrip.py   (last line: one JSON object)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "sip2")]

from sip2_library_acs import INSTITUTION, LOGIN_PASSWORD, LOGIN_USER, RunningAcs  # noqa: E402

from kiosk.backends.sip2 import Sip2Client, Sip2Settings  # noqa: E402
from kiosk.backends.sip2.codec import Message, encode, make  # noqa: E402
from kiosk.backends.sip2.dates import format_sip_date  # noqa: E402

ROUNDS = 300
WARMUP = 20
TARGET = 1.2


def checkout_message(settings: Sip2Settings) -> Message:
    now = format_sip_date(datetime.now(UTC), server_tz=settings.tz)
    return make("11", {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": now,
                       "nb_due_date": now},
                [("AO", INSTITUTION), ("AA", "P100"), ("AB", "I001"), ("AC", "")])


def raw_exchange(sock: socket.socket, frame: bytes) -> bytes:
    sock.sendall(frame)
    buf = b""
    while not buf.endswith(b"\r"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("server closed")
        buf += chunk
    return buf


@contextlib.contextmanager
def acs_process() -> Iterator[int]:
    """pysip2's server with the test library in a child process; yields its port."""
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "sip2" / "sip2_library_acs.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        if child.stdout is None or child.stdin is None:
            raise SystemExit("cannot talk to the ACS process")
        line = child.stdout.readline()
        if not line.strip().isdigit():
            raise SystemExit(f"ACS process did not start: {line!r}")
        yield int(line)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def measure(port: int) -> tuple[list[float], list[float]]:
    """Interleaved checkout round trips (ms): our client, then the raw socket, alternating."""
    settings = Sip2Settings.from_mapping({
        "host": "127.0.0.1", "port": port, "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD, "institution_id": INSTITUTION,
    })
    message = checkout_message(settings)
    # The raw side sends our exact bytes; one frame per sequence number, because the
    # server treats a repeat of the last (sequence, checksum) as a retransmission.
    frames = [encode(message, error_detection=True, sequence=n) for n in range(10)]
    login = encode(make("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                        [("CN", LOGIN_USER), ("CO", LOGIN_PASSWORD)]),
                   error_detection=True, sequence=9)
    client_ms: list[float] = []
    raw_ms: list[float] = []
    with Sip2Client(settings) as client, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(None)  # the leanest baseline: blocking send and recv, nothing else
        if not raw_exchange(raw, login).startswith(b"941"):
            raise SystemExit("raw login refused")
        for i in range(WARMUP + ROUNDS):
            order = ("client", "raw") if i % 2 == 0 else ("raw", "client")
            for side in order:
                started = time.perf_counter()
                if side == "client":
                    ok = client.request(message).yes("ok")
                else:
                    ok = raw_exchange(raw, frames[i % 10]).startswith(b"121")
                elapsed = (time.perf_counter() - started) * 1000
                if not ok:
                    raise SystemExit(f"{side} checkout was refused in round {i}")
                if i >= WARMUP:
                    (client_ms if side == "client" else raw_ms).append(elapsed)
    return client_ms, raw_ms


def report(label: str, client_ms: list[float], raw_ms: list[float]) -> float:
    client_median = statistics.median(client_ms)
    raw_median = statistics.median(raw_ms)
    ratio = client_median / raw_median
    print(f"[{label}] client checkout round trip: median {client_median:.3f} ms, "
          f"p90 {statistics.quantiles(client_ms, n=10)[-1]:.3f} ms")
    print(f"[{label}] raw socket, same bytes:     median {raw_median:.3f} ms, "
          f"p90 {statistics.quantiles(raw_ms, n=10)[-1]:.3f} ms")
    print(f"[{label}] ratio client/raw: {ratio:.3f} (target <= {TARGET})")
    return ratio


def main() -> None:
    print(f"rounds: {ROUNDS} (after {WARMUP} warm-up), interleaved, pysip2 server on 127.0.0.1")
    with acs_process() as port:
        client_ms, raw_ms = measure(port)
    ratio = report("server in its own process", client_ms, raw_ms)
    # For comparison only: the same server in a thread of this process (as the tests run
    # it). The CPU stays warm between send and receive, so our Python costs less here.
    with RunningAcs() as acs:
        thread_ratio = report("server in a thread", *measure(acs.port))
    print(json.dumps({
        "client_ms": round(statistics.median(client_ms), 4),
        "raw_ms": round(statistics.median(raw_ms), 4),
        "ratio": round(ratio, 4), "rounds": ROUNDS, "target_ratio": TARGET,
        "meets_target": ratio <= TARGET,
        "ratio_server_in_thread": round(thread_ratio, 4),
    }))


if __name__ == "__main__":
    main()
