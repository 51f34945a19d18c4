"""SIP2 checkout round trip: our client versus the same bytes over a raw socket.

Both talk to the same pysip2 server on 127.0.0.1 (each over its own logged-in
connection), interleaved round by round so both see the same machine load.
The headline figure has the server in its own process, as a real ACS would be
(the client then wakes on a cold CPU after each reply, which is where its
Python costs most); the same measurement with the server in a thread of this
process is printed beside it for comparison;
the figure that matters is the ratio of medians (target <= 1.2), i.e. what
our framing, checksum, locking and parsing add to a bare socket exchange. One
run's ratio moves by +-0.1 from one server process to the next (where the two
processes land on the CPUs), so the headline is the median over RUNS runs.

A third side, the floor, is the least any SIP2 client written in Python must do
per request: join the fields, add AY/AZ, send, read to CR, verify the checksum
and split the reply into fixed and variable fields. No validation, no timeout,
no resend, no lock. Its ratio shows how much of the target the language and
this machine leave to the client at all.

Run:  .venv/bin/python bench/sip2_roundtrip.py   (last line: one JSON object)
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "sip2")]

from sip2_library_acs import INSTITUTION, LOGIN_PASSWORD, LOGIN_USER, RunningAcs  # noqa: E402

from kiosk.backends.sip2 import Sip2Client, Sip2Settings  # noqa: E402
from kiosk.backends.sip2.codec import _LAYOUTS, Message, encode, make  # noqa: E402
from kiosk.backends.sip2.dates import format_sip_date  # noqa: E402
from kiosk.testing.server_process import ServerProcess  # noqa: E402

ROUNDS = 300
RUNS = 5  # a fresh server process each: one run's placement on the CPUs biases it
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


_FIELD = re.compile(r"([A-Za-z0-9]{2})([^|]*)")


def floor_exchange(sock: socket.socket, message: Message, sequence: int) -> Message:
    """The floor: framing, checksum and parsing with nothing checked (see the module doc)."""
    names = _LAYOUTS[message.code].names
    out = (message.code + "".join([message.fixed[n] for n in names])
           + "".join([f"{fid}{value}|" for fid, value in message.fields])).encode()
    out += b"AY%dAZ" % sequence
    out += b"%04X\r" % ((-sum(out)) & 0xFFFF)
    body = raw_exchange(sock, out)[:-1]
    if (sum(body[:-4]) + int(body[-4:], 16)) & 0xFFFF:
        raise SystemExit("floor: reply checksum does not verify")
    text = body[:-9].decode("cp850")
    layout = _LAYOUTS[text[:2]]
    fixed = layout.regex.fullmatch(text, 2, layout.width + 2)
    if fixed is None:
        raise SystemExit("floor: reply head does not parse")
    return Message(text[:2], fixed.groupdict(), tuple(_FIELD.findall(text, layout.width + 2)))


@contextlib.contextmanager
def acs_process() -> Iterator[int]:
    """pysip2's server with the test library in a child process; yields its port."""
    with ServerProcess([sys.executable, str(ROOT / "tests" / "sip2" / "sip2_library_acs.py")],
                       what="the ACS process", env={"PYTHONPATH": str(ROOT)}) as acs:
        yield acs.port


def measure(port: int) -> dict[str, list[float]]:
    """Checkout round trips (ms) by side: our client, the raw socket and the floor, rotated."""
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
    samples: dict[str, list[float]] = {"client": [], "raw": [], "floor": []}
    sides = list(samples)
    with Sip2Client(settings) as client, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as bare:
        for sock in (raw, bare):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(None)  # the leanest baseline: blocking send and recv, nothing else
            if not raw_exchange(sock, login).startswith(b"941"):
                raise SystemExit("raw login refused")
        for i in range(WARMUP + ROUNDS):
            for side in sides[i % 3:] + sides[:i % 3]:
                started = time.perf_counter()
                if side == "client":
                    ok = client.request(message).yes("ok")
                elif side == "raw":
                    ok = raw_exchange(raw, frames[i % 10]).startswith(b"121")
                else:
                    ok = floor_exchange(bare, message, i % 10).yes("ok")
                elapsed = (time.perf_counter() - started) * 1000
                if not ok:
                    raise SystemExit(f"{side} checkout was refused in round {i}")
                if i >= WARMUP:
                    samples[side].append(elapsed)
    return samples


def report(label: str, samples: dict[str, list[float]]) -> dict[str, float]:
    """Print the medians; return them with the client's and the floor's ratio to raw."""
    median = {side: statistics.median(values) for side, values in samples.items()}
    for side, what in (("client", "client checkout round trip"), ("raw", "raw socket, same bytes"),
                       ("floor", "floor (bare Python codec)")):
        print(f"[{label}] {what:27}: median {median[side]:.3f} ms, "
              f"p90 {statistics.quantiles(samples[side], n=10)[-1]:.3f} ms")
    ratio, floor = median["client"] / median["raw"], median["floor"] / median["raw"]
    print(f"[{label}] ratio client/raw: {ratio:.3f} (target <= {TARGET}); floor/raw: {floor:.3f}")
    return {**median, "ratio": ratio, "floor_ratio": floor}


def main() -> None:
    print(f"{RUNS} runs, each with a fresh ACS process and client: {ROUNDS} rounds "
          f"(after {WARMUP} warm-up), interleaved, pysip2 server on 127.0.0.1")
    runs = []
    for n in range(RUNS):
        with acs_process() as port:
            runs.append(report(f"run {n + 1}, server in its own process", measure(port)))
    # For comparison only: the same server in a thread of this process (as the tests run
    # it). The CPU stays warm between send and receive, so our Python costs less here.
    with RunningAcs() as acs:
        thread = report("server in a thread", measure(acs.port))

    def mid(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    ratios = sorted(run["ratio"] for run in runs)
    print(f"ratio client/raw over {RUNS} runs: median {mid('ratio'):.3f} "
          f"(from {ratios[0]:.3f} to {ratios[-1]:.3f}); floor/raw median {mid('floor_ratio'):.3f}")
    print(json.dumps({
        "client_ms": round(mid("client"), 4), "raw_ms": round(mid("raw"), 4),
        "ratio": round(mid("ratio"), 4), "rounds": ROUNDS, "runs": RUNS,
        "ratio_runs": [round(r, 4) for r in ratios], "target_ratio": TARGET,
        "meets_target": mid("ratio") <= TARGET, "floor_ratio": round(mid("floor_ratio"), 4),
        "ratio_server_in_thread": round(thread["ratio"], 4),
        "floor_ratio_server_in_thread": round(thread["floor_ratio"], 4),
    }))


if __name__ == "__main__":
    main()
