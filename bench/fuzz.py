"""Fuzz every parser and every backend operation with hostile replies; count what escapes.

A "crash" is any exception that is not the seam's own: for the SIP2 and REST backends anything
but BackendError, for the codec and date parsers anything but ProtocolError (a ValueError).
"guarded" counts the replies that reached an exception nobody expected inside a backend, which
the seam guard turned into MalformedReply: not a crash, but a parser to harden.
Replies come from `kiosk.testing.hostile` (the protocol's own vectors, bent), fed in process so a
million examples fit in minutes: the SIP2 backend gets them through a client twin that decodes
each reply with the real codec, the REST backend through a requests transport adapter that
answers each request with the bytes of a real HTTP response.

    python bench/fuzz.py [--examples 1000000] [--seconds 600] [--seed 1]

Last line: {"examples": N, "crashes": K, "per_target": {...}, "seconds": S}
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from requests.adapters import BaseAdapter
from urllib3.response import HTTPResponse

from kiosk.backends.base import BackendError, MalformedReply
from kiosk.backends.rest import RestBackend, retry_after_seconds
from kiosk.backends.sip2 import Sip2Backend, Sip2Settings
from kiosk.backends.sip2.client import AcsStatus
from kiosk.backends.sip2.codec import SPECS, ProtocolError, decode
from kiosk.backends.sip2.dates import parse_due_date, parse_sip_date
from kiosk.testing.hostile import BACKEND_CALLS, NASTY_TEXT, REPLAY_BATCH, rest_reply, sip2_reply

SETTINGS = Sip2Settings.from_mapping({"host": "127.0.0.1", "port": 1, "login_user": "k",
                                      "login_password": "x", "institution_id": "MAIN",
                                      "error_detection": False,
                                      "server_timezone": "Pacific/Kiritimati"})


class HostileSip2Client:
    """The SIP2 client's interface; each request's reply is a hostile frame, decoded by the real
    codec (a frame the codec refuses is what the real client reports as MalformedReply)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last_status = None

    def request(self, message: Any) -> Any:
        return self._reply(SPECS[message.code].reply or message.code)

    def status(self, **_: object) -> Any:
        try:
            return AcsStatus.from_message(self._reply("98"), SETTINGS)
        except ProtocolError as exc:  # as the real client's _fetch_status
            raise MalformedReply(str(exc)) from None

    def _reply(self, expect: str) -> Any:
        """What the real client hands the backend: a decoded reply of the expected command."""
        try:
            reply = decode(sip2_reply(self.rng, expect), verify=False)
        except ProtocolError as exc:
            raise MalformedReply(str(exc)) from None
        if reply.code != expect:
            raise MalformedReply(f"expected {expect}, got {reply.code}")
        return reply

    def close(self) -> None:
        return None


class HostileAdapter(BaseAdapter):
    """A requests transport: every request is answered with a hostile HTTP response."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.endpoint = "checkout"

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        body = rest_reply(self.rng, self.endpoint, tx_ids=[tx.tx_id for tx in REPLAY_BATCH])
        status = self.rng.choice((200,) * 8 + (429, 503, 404, 401))
        headers = {"Content-Type": "application/json",
                   "Retry-After": self.rng.choice(NASTY_TEXT)}
        raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=status,
                           preload_content=False)
        response = requests.Response()
        response.status_code = status
        response.headers = requests.structures.CaseInsensitiveDict(headers)
        response.raw = raw
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        return None


BACKEND_OPS = BACKEND_CALLS


def targets(rng: random.Random) -> dict[str, tuple[Callable[[], object], tuple[type, ...]]]:
    sip2 = Sip2Backend(SETTINGS, client=HostileSip2Client(rng))  # type: ignore[arg-type]
    adapter = HostileAdapter(rng)
    session = requests.Session()
    session.mount("http://", adapter)
    rest = RestBackend("http://central.invalid", "t", kiosk_id="k", session=session)
    out: dict[str, tuple[Callable[[], object], tuple[type, ...]]] = {}
    for name, op in BACKEND_OPS.items():
        out[f"sip2.{name}"] = (lambda op=op: op(sip2), (BackendError,))
        if name != "end_session":
            def rest_op(op: Callable[[Any], object] = op, name: str = name) -> object:
                adapter.endpoint = name
                return op(rest)
            out[f"rest.{name}"] = (rest_op, (BackendError,))
    out["sip2.decode"] = (lambda: decode(sip2_reply(rng, rng.choice(list(SPECS))), verify=False),
                          (ProtocolError,))
    out["sip2.dates"] = (lambda: (parse_due_date(rng.choice(NASTY_TEXT), server_tz=UTC),
                                  parse_sip_date(rng.choice(NASTY_TEXT), server_tz=SETTINGS.tz)),
                         (ProtocolError,))
    out["rest.retry_after"] = (lambda: retry_after_seconds(rng.choice(NASTY_TEXT)), ())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    table = targets(rng)
    names = sorted(table)
    per_target: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    first: dict[str, str] = {}
    started = time.monotonic()
    n = 0
    current = [""]
    guarded: Counter[str] = Counter()

    class Guarded(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            guarded[current[0]] += 1

    logging.getLogger().setLevel(logging.CRITICAL)  # the backends log every malformed reply
    seam_log = logging.getLogger("kiosk.backends.base")
    seam_log.setLevel(logging.ERROR)
    seam_log.propagate = False
    seam_log.addHandler(Guarded())
    while n < args.examples and time.monotonic() - started < args.seconds:
        name = names[n % len(names)]
        current[0] = name
        run, allowed = table[name]
        n += 1
        per_target[name] += 1
        try:
            run()
        except allowed:  # the seam's own error: what the seam promises
            continue
        except Exception:
            crashes[name] += 1
            first.setdefault(name, traceback.format_exc(limit=3))
    for name, text in first.items():
        print(f"--- {name}\n{text}", file=sys.stderr)
    print(json.dumps({"examples": n, "crashes": sum(crashes.values()),
                      "guarded": sum(guarded.values()),
                      "per_target": {k: {"examples": per_target[k], "crashes": crashes[k],
                                         "guarded": guarded[k]} for k in names},
                      "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
