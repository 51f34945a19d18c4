"""`kiosk-central`: run, seed and administer the reference Kiosk Catalog API service.

    kiosk-central serve --db central.db [--host 127.0.0.1] [--port 8080]
        (--db is a SQLite file or a PostgreSQL URL, or $KIOSK_CENTRAL_DB)
    kiosk-central seed --db central.db
    kiosk-central add-kiosk KIOSK_ID --branch B --name N --db central.db   (prints the token once)
    kiosk-central openapi > central/openapi.json
    kiosk-central add-staff NAME --db central.db [--api-token]   (dashboard login, /staff/)
    kiosk-central health [--url URL]   (exit 0 when the service answers; a container's check)

`serve` reads its defaults from the environment too ($KIOSK_CENTRAL_HOST, _PORT, _WORKERS,
_LOG_FORMAT), so a container image sets them once and its health check finds the same port.

Errors are one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from central.db import Database, StorageError
from central.kiosks import KioskExists, register_kiosk
from central.seed import SeedError, seed
from domain import logs
from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN
from domain.extras import explain_missing

log = logging.getLogger(__name__)
LOG_FORMAT_ENV = "KIOSK_CENTRAL_LOG_FORMAT"


KEEP_ALIVE_S = 75


def openapi_document() -> dict[str, Any]:
    """The API schema, built from the app itself (over a throwaway database)."""
    from central.api import create_app

    with tempfile.TemporaryDirectory(prefix="kiosk-central-") as tmp:
        app = create_app(Path(tmp) / "openapi.db")
        try:
            return app.openapi()
        finally:
            app.state.service.db.close()


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _db_argument(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get("KIOSK_CENTRAL_DB")
    parser.add_argument(
        "--db", required=not env, default=env,
        help="a SQLite file, or a PostgreSQL URL (postgresql://user@host/name); default: "
             "$KIOSK_CENTRAL_DB, which keeps a password out of the process list")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"kiosk-central: ${name} is not a whole number: {raw!r}") from None


def check_health(url: str, timeout_s: float = 5.0) -> int:
    """One health request: 0 when the service and its database answer, else 1 and why."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            status = json.loads(reply.read()).get("status")
    except (OSError, ValueError, AttributeError) as exc:
        print(f"kiosk-central: not healthy: {exc}", file=sys.stderr)
        return 1
    if status != "ok":
        print(f"kiosk-central: not healthy: status {status!r}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-central", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service")
    _db_argument(serve)
    serve.add_argument("--host", default=os.environ.get("KIOSK_CENTRAL_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=_env_int("KIOSK_CENTRAL_PORT", 8080))
    serve.add_argument("--workers", type=int, default=_env_int("KIOSK_CENTRAL_WORKERS", 1),
                       help="worker processes (a network's service on PostgreSQL: about one "
                            "per core); they share the database and nothing else")
    serve.add_argument("--log-format", choices=logs.STYLES,
                       default=logs.style_from_environment(LOG_FORMAT_ENV),
                       help="journal (systemd), json (containers), text, or auto (the journal "
                            "under systemd, else text); also $" + LOG_FORMAT_ENV)
    seed_cmd = sub.add_parser("seed", help="fill an empty database with the demo library")
    _db_argument(seed_cmd)
    add = sub.add_parser("add-kiosk", help="register a kiosk and print its new token once")
    add.add_argument("kiosk_id")
    add.add_argument("--branch", required=True)
    add.add_argument("--name", required=True)
    _db_argument(add)
    sub.add_parser("openapi", help="print the OpenAPI JSON document")
    health = sub.add_parser("health", help="exit 0 when the service answers its health check")
    port = _env_int("KIOSK_CENTRAL_PORT", 8080)
    health.add_argument("--url", default=f"http://127.0.0.1:{port}/v1/health")
    # --- staff accounts for the fleet dashboard (issue 6, central/staff.py) ---
    staff = sub.add_parser("add-staff", help="add a dashboard user (asks the password twice)")
    staff.add_argument("name")
    _db_argument(staff)
    staff.add_argument("--api-token", action="store_true", help="also print an API token once")
    return parser


def _ready_when_answering(address: tuple[str, int], timeout_s: float = 60.0) -> None:
    """With several workers the supervisor tells systemd READY=1 once one of them answers a
    health check (the socket listens before any worker accepts)."""
    import sdnotify

    host, port = address
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/v1/health", timeout=2) as reply:
                if reply.status == 200:
                    sdnotify.SystemdNotifier().notify("READY=1")
                    return
        except OSError:
            time.sleep(0.2)


def _serve(db_path: str, host: str, port: int, workers: int = 1, log_format: str = "auto") -> int:
    import uvicorn
    from uvicorn.supervisors.multiprocess import Multiprocess

    os.environ[LOG_FORMAT_ENV] = log_format  # the workers configure theirs from it
    logs.configure(log_format, identifier="kiosk-central")
    import sdnotify

    class NotifyingServer(uvicorn.Server):
        """Tells systemd (Type=notify) the service is ready only once it really listens."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                sdnotify.SystemdNotifier().notify("READY=1")

    # migrate here, once, before any worker starts; a bad database is one line on stderr
    Database(db_path).close()
    os.environ["KIOSK_CENTRAL_DB"] = db_path  # the workers' app factory reads it
    # No access log: request paths carry patron ids, which never go to a log in clear.
    config = uvicorn.Config("central.api:app_from_environment", factory=True, host=host,
                            port=port, workers=workers, access_log=False, log_level="info",
                            log_config=None,  # uvicorn's records go through our handler
                            # longer than a kiosk's 30 s between heartbeats: its connection
                            # lives from beat to beat, instead of the server closing it idle
                            # just as the kiosk sends (a reset the kiosk sees as "offline")
                            timeout_keep_alive=KEEP_ALIVE_S)
    server = NotifyingServer(config)
    if workers > 1:
        # request counts from every worker, for whichever answers the scrape (central/metrics.py)
        counts = Path(tempfile.mkdtemp(prefix="kiosk-central-metrics-"))
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(counts))
        sock = config.bind_socket()
        threading.Thread(target=_ready_when_answering, args=(sock.getsockname()[:2],),
                         daemon=True).start()
        Multiprocess(config, sockets=[sock]).run()
        return 0
    server.run()
    return 0 if server.started else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args.db, args.host, args.port, args.workers, args.log_format)
        if args.command == "seed":
            with Database(args.db) as db:
                seed(db)
            print(f"seeded demo library in {args.db}; demo kiosk {DEMO_KIOSK_ID!r} "
                  f"uses token {DEMO_TOKEN!r} (demo only)")
            return 0
        if args.command == "add-kiosk":
            with Database(args.db) as db:
                token = register_kiosk(db, args.kiosk_id, name=args.name, branch=args.branch)
            print(token)
            print(f"kiosk {args.kiosk_id!r} registered; this token is shown only once",
                  file=sys.stderr)
            return 0
        if args.command == "add-staff":
            from central.staff import add_staff_command

            return add_staff_command(args.db, args.name, api_token=args.api_token)
        if args.command == "openapi":
            sys.stdout.write(openapi_text())
            return 0
        if args.command == "health":
            return check_health(args.url)
    except (StorageError, SeedError, KioskExists, ValueError) as exc:
        print(f"kiosk-central: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        return explain_missing(exc, "kiosk-central", "central")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
