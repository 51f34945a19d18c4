"""The reference library in this process: the kiosk core's fast twin of the central side.

Why this shape and not a dictionary that imitates the service: what a kiosk test relies on (a
loan's due date, which hold blocks a checkout, how an offline loan is dated, that a replayed
transaction is applied once) is the reference service's logic, and a second copy of it would
drift. So the twin is the service itself (`central.api` over a SQLite file), reached through a
`requests` transport adapter instead of a socket, in the spirit of httpx's MockTransport: the
kiosk's own `RestBackend` builds every request and parses every reply exactly as it does on a
network, but there is no server thread to start, no port, and no proxy to stop.

Test controls, all from the kiosk's point of view:

- `go_offline()` / `go_online()`: the library cannot be reached (a refused connection);
- `fail_next(status=503, times=1)`: the next answers are that HTTP error (the client's retry
  and offline rules apply, with `Retry-After` when given);
- `poison(marker)`: every request whose body holds `marker` is answered HTTP 500 (a row the
  server fails on every time), the others are served; `poison(None)` ends it;
- `requests`: the (method, path) of every request the kiosk made, in order.

Faults of the wire itself (a stalled or dripping server, a reply cut in half) need a real socket:
the REST client's tests and the integration suites use `central.faultproxy` for those.
"""

from __future__ import annotations

import io
import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from starlette.testclient import TestClient
from urllib3 import HTTPResponse

from central.api import create_app
from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk.backends.rest import RestBackend

BASE_URL = "http://library.in-process"


class _ServiceAdapter(HTTPAdapter):
    """Hands each request to the service's ASGI app and its answer back to `requests`."""

    def __init__(self, library: InProcessLibrary) -> None:
        super().__init__()
        self._library = library

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        return self.build_response(request, self._library.answer(request))


class InProcessLibrary:
    """The seeded demo library (a copy of its database at `db_path`) with test controls."""

    def __init__(self, db_path: str | Path) -> None:
        self.app = create_app(db_path)
        self._client = TestClient(self.app, base_url=BASE_URL, raise_server_exceptions=False)
        self._client.__enter__()  # one event loop for the twin's life, not one per request
        self._lock = threading.Lock()
        self._offline = False
        self._failures: deque[tuple[int, float | None]] = deque()
        self._poison: bytes | None = None
        self.requests: list[tuple[str, str]] = []
        self._sessions: list[requests.Session] = []

    # ---- what a test does to the library ------------------------------------------------

    def go_offline(self) -> None:
        self._offline = True

    def go_online(self) -> None:
        self._offline = False

    def fail_next(self, status: int = 503, *, times: int = 1,
                  retry_after: float | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def poison(self, marker: bytes | None) -> None:
        self._poison = marker

    def backend(self, *, kiosk_id: str = DEMO_KIOSK_ID, token: str = DEMO_TOKEN,
                timeout: float | tuple[float, float] = (2.0, 10.0)) -> RestBackend:
        """The kiosk's REST client, talking to this library through the adapter."""
        session = requests.Session()
        session.trust_env = False
        session.mount(BASE_URL, _ServiceAdapter(self))
        backend = RestBackend(BASE_URL, token, kiosk_id=kiosk_id, timeout=timeout,
                              session=session)
        self._sessions.append(session)
        return backend

    # ---- the adapter's side ---------------------------------------------------------------

    def answer(self, request: requests.PreparedRequest) -> HTTPResponse:
        method, url = request.method or "GET", request.url or BASE_URL
        path = url.removeprefix(BASE_URL)
        with self._lock:
            self.requests.append((method, path.split("?")[0]))
            offline = self._offline
            failure = self._failures.popleft() if self._failures and not offline else None
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        if failure is None and self._poison is not None and self._poison in body:
            failure = (500, None)
        if offline:
            raise requests.ConnectionError("the in-process library is offline (test control)")
        if failure is not None:
            status, retry_after = failure
            headers = {"Content-Type": "application/json"}
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            error = json.dumps({"error": {"code": "unavailable", "message": "test control"}})
            return _raw(status, headers, error.encode())
        reply = self._client.request(method, path, content=request.body,
                                     headers=dict(request.headers))
        return _raw(reply.status_code, dict(reply.headers), reply.content)

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self._client.__exit__(None, None, None)

    def __enter__(self) -> InProcessLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raw(status: int, headers: dict[str, str], body: bytes) -> HTTPResponse:
    return HTTPResponse(body=io.BytesIO(body), headers=headers, status=status,
                        preload_content=False, decode_content=False)
