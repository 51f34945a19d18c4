"""A library network's fleet against the central service, with locust as a library.

Each simulated kiosk heartbeats every 30 s and lends and takes back its own books at a busy
branch's pace (one transaction every `--pace` seconds on average); a tenth of the fleet comes
back from an outage with 200 queued transactions, sends them in batches of 100 and sends the
first batch once more (an answer lost on the way back); 20 staff dashboards poll the fleet
every 10 s. The service runs as deployed (`kiosk-central serve --workers 2`) on a durable
PostgreSQL server of its own or on a SQLite file. After the run the database is read: every
transaction a kiosk was told "ok" must be there once ("lost" counts those missing, "duplicated"
those with more than one effect), and every queued one applied once.

    .venv/bin/python bench/central_load.py [--kiosks 5000] [--seconds 120]
        [--engines postgresql,sqlite] [--knee 1000,2000,3000,5000] [--knee-seconds 60]

The knee, per engine, is the largest fleet of the `--knee` ladder that keeps p99 < 100 ms
with no errors. A replayed batch of 100 rows is no patron's wait, and takes longer than 100 ms
on its own; so a second knee ("..._patron") holds the requests a patron or a kiosk's screen
waits for (heartbeat, checkout, checkin, dashboard) to p99 < 100 ms, with no errors anywhere,
and "p99_patron_ms" is the worst of their p99s. The load generator and the service share this
machine's two cores.

Last line: {"kiosks", "requests", "p50_ms", "p99_ms", "errors", "lost", "duplicated",
"knee_kiosks_sqlite", "knee_kiosks_postgres", ...}
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.testing.fleet_names import ITEMS_PER_KIOSK, kiosk_id, token_of  # noqa: E402

P99_TARGET_MS = 100.0


# ---------------------------------------------------------------- the database


def prepare(location: str, kiosks: int) -> str:
    """Seed the demo library, register the fleet, give it books and patrons; the staff
    dashboards' API token."""
    from central.db import Database
    from central.hashing import hash_token
    from central.seed import seed
    from central.staff import add_staff, issue_api_token

    with Database(location) as db:
        seed(db)
        with db.write() as conn:
            conn.executemany(
                "INSERT INTO kiosks(kiosk_id, name, branch, token_hash) VALUES (?, ?, ?, ?)",
                [(kiosk_id(n), f"Load kiosk {n}", f"Branch {n % 300}", hash_token(token_of(n)))
                 for n in range(kiosks)])
            conn.executemany(
                "INSERT INTO patrons(patron_id, name) VALUES (?, ?)",
                [(f"LP{n:05d}", "Load patron") for n in range(kiosks)])
            conn.executemany(
                "INSERT INTO items(item_id, title) VALUES (?, ?)",
                [(f"L{n:05d}-{i:03d}", "Load item") for n in range(kiosks)
                 for i in range(ITEMS_PER_KIOSK)])
        add_staff(db, "dashboard", "load-test-password-not-a-secret")
        return issue_api_token(db, "dashboard")


def check(location: str, told_ok: list[str], queued: list[str]) -> dict[str, int]:
    """Lost: told ok or queued, and not applied. Duplicated: more than one row or effect."""
    from central.db import Database

    with Database(location) as db, db.read() as conn:
        rows: dict[str, int] = {}
        for tx_id, count in conn.execute(
                "SELECT tx_id, COUNT(*) FROM transactions WHERE kiosk_id LIKE 'load-%' "
                "GROUP BY tx_id"):
            rows[tx_id] = count
        done = {r[0] for r in conn.execute(
            "SELECT tx_id FROM transactions WHERE kiosk_id LIKE 'load-%' AND status = 'done'")}
        effects = conn.execute(
            "SELECT COUNT(*) FROM (SELECT tx_id FROM events WHERE kiosk_id LIKE 'load-%' "
            "GROUP BY kiosk_id, tx_id HAVING COUNT(*) > 1) AS twice").fetchone()[0]
    expected = set(told_ok) | set(queued)
    return {"lost": len(expected - set(rows)) + len(set(told_ok) - done),
            "duplicated": sum(1 for n in rows.values() if n > 1) + int(effects),
            "applied_rows": len(rows)}


# ---------------------------------------------------------------- the service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(location: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import requests

    port = _free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "central", "serve", "--workers", str(workers), "--port",
             str(port)], env={**os.environ, "KIOSK_CENTRAL_DB": location},
            stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/v1/health", timeout=2).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the service did not start")


def one_run(engine: str, kiosks: int, seconds: float, pace: float, workers: int) -> dict[str, Any]:
    from kiosk.testing.postgres_server import PostgresServer

    with tempfile.TemporaryDirectory(prefix="central-load-") as tmp:
        pg = PostgresServer(durable=True, max_connections=100) if engine == "postgresql" \
            else None
        try:
            location = pg.create("load") if pg else str(Path(tmp) / "central.db")
            staff_token = prepare(location, kiosks)
            log = Path(tmp) / "service.log"
            process, url = serve(location, workers, log)
            try:
                out = Path(tmp) / "locust.json"
                subprocess.run(
                    [sys.executable, "-m", "kiosk.testing.fleet_load", url, "--kiosks",
                     str(kiosks), "--seconds", str(seconds), "--pace", str(pace),
                     "--out", str(out)],
                    env={**os.environ, "LOAD_STAFF_TOKEN": staff_token}, check=True,
                    timeout=seconds + 600)
                result = json.loads(out.read_text())
            finally:
                process.terminate()
                process.wait(30)
            result.update(check(location, result.pop("told_ok"), result.pop("queued")))
            if result["errors"]:  # what the service said about them, for whoever tunes it
                said = [line for line in log.read_text(errors="replace").splitlines()
                        if "ERROR" in line or "Error" in line]
                print("\n".join(said[-20:]), file=sys.stderr)
        finally:
            if pg:
                pg.stop()
    result.update(engine=engine, kiosks=kiosks)
    print(json.dumps({k: v for k, v in result.items() if k not in ("by_name", "failures")}),
          result.get("failures") or "", file=sys.stderr)
    return result


# ---------------------------------------------------------------- main


def patron_p99(run: dict[str, Any]) -> float:
    """The worst p99 of the requests someone waits for at a kiosk or a dashboard."""
    return max((float(e["p99_ms"]) for name, e in run["by_name"].items()
                if name != "batch" and e["requests"]), default=0.0)


def _below(ladder: str, size: int) -> int | None:
    """The rung before `size` on the knee ladder (None for the first): a knee only climbs."""
    rungs = [int(s) for s in ladder.split(",") if s]
    at = rungs.index(size)
    return rungs[at - 1] if at else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kiosks", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--pace", type=float, default=60.0,
                        help="seconds between a kiosk's transactions, on average")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--knee", default="1000,2000,3000,5000",
                        help="fleet sizes tried for each engine's knee ('' skips)")
    parser.add_argument("--knee-seconds", type=float, default=60)
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    main_run = one_run(engines[0], args.kiosks, args.seconds, args.pace, args.workers)
    knees: dict[str, int | None] = {}
    for engine in engines:
        knees[engine] = knees[f"{engine}_patron"] = None
        for size in [int(s) for s in args.knee.split(",") if s]:
            run = main_run if (engine, size) == (engines[0], args.kiosks) else \
                one_run(engine, size, args.knee_seconds, args.pace, args.workers)
            if run["errors"] or patron_p99(run) >= P99_TARGET_MS:
                break
            knees[f"{engine}_patron"] = size
            if run["p99_ms"] < P99_TARGET_MS and knees[engine] == _below(args.knee, size):
                knees[engine] = size
    print(json.dumps({
        "kiosks": args.kiosks, "engine": engines[0], "requests": main_run["requests"],
        "p50_ms": main_run["p50_ms"], "p99_ms": main_run["p99_ms"],
        "errors": main_run["errors"], "lost": main_run["lost"],
        "duplicated": main_run["duplicated"], "rps": main_run["rps"],
        "p99_patron_ms": patron_p99(main_run),
        "by_request": main_run["by_name"], "failures": main_run["failures"],
        "knee_kiosks_sqlite": knees.get("sqlite"),
        "knee_kiosks_postgres": knees.get("postgresql"),
        "knee_kiosks_sqlite_patron": knees.get("sqlite_patron"),
        "knee_kiosks_postgres_patron": knees.get("postgresql_patron")}))


if __name__ == "__main__":
    main()
