"""Run the service in a background thread on a loopback port: tests, the demo and benchmarks.

Why a thread and not a subprocess: tests and the demo want the real HTTP stack (uvicorn, real
sockets) but start in milliseconds and stop deterministically. The listening socket is bound
here before uvicorn starts, so `.port` is known at once, even with port 0.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from central.api import create_app

log = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
    """The service did not come up (port taken, database unusable ...)."""


class RunningServer:
    """A started service. Context manager; `stop()` is idempotent."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket,
                 host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self._sock = sock
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    @property
    def app(self) -> FastAPI:
        """The FastAPI app, for tests and tools that reach into the running service."""
        app = self._server.config.app
        if not isinstance(app, FastAPI):
            raise TypeError("server is not running a FastAPI app")
        return app

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(db_path: str | Path, host: str = "127.0.0.1", port: int = 0,
                    *, startup_timeout: float = 10.0) -> RunningServer:
    """Serve the database at `db_path` on host:port (0 = a free port) until `.stop()`."""
    app = create_app(db_path)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every reply waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"central-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(2.0)
            sock.close()
            raise ServerStartError(f"service did not start on {host}:{bound_port}")
        time.sleep(0.005)
    log.info("central service listening on http://%s:%d", host, bound_port)
    return RunningServer(server, thread, sock, host, bound_port)
