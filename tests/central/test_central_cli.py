"""`kiosk-central` commands, the committed OpenAPI document, and the database lifecycle."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from central import cli
from central.db import SCHEMA_VERSION, Database, StorageError
from central.hashing import hash_token
from central.server import start_in_thread
from domain.demo_library import DEMO_PATRONS, DEMO_TOKEN
from kiosk.testing.http_wait import first_answer

REPO = Path(__file__).resolve().parents[2]


def test_committed_openapi_document_is_current() -> None:
    committed = (REPO / "central" / "openapi.json").read_text(encoding="utf-8")
    assert committed == cli.openapi_text(), (
        "central/openapi.json is stale: regenerate it with "
        "`kiosk-central openapi > central/openapi.json` and commit it")


def test_openapi_command_prints_the_schema(capsys) -> None:
    assert cli.main(["openapi"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"/v1/checkout", "/v1/transactions/batch", "/v1/heartbeat"} <= set(schema["paths"])


def test_seed_then_seed_again_is_refused_cleanly(tmp_path: Path, capsys) -> None:
    db = tmp_path / "library.db"
    assert cli.main(["seed", "--db", str(db)]) == 0
    assert DEMO_TOKEN in capsys.readouterr().out
    assert cli.main(["seed", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "already holds patrons" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM patrons").fetchone()[0] == len(DEMO_PATRONS)
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] >= 200
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        pins = [row[0] for row in conn.execute("SELECT pin_hash FROM patrons")]
    assert all(pin.startswith("scrypt$") and "1234" not in pin for pin in pins)


def test_add_kiosk_prints_a_token_that_works_and_stores_only_its_hash(tmp_path, capsys) -> None:
    db = tmp_path / "library.db"
    assert cli.main(["add-kiosk", "branch-2", "--branch", "Wijk Noord", "--name", "Kiosk 2",
                     "--db", str(db)]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 32
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT token_hash FROM kiosks WHERE kiosk_id = 'branch-2'"
                              ).fetchone()[0]
        assert stored == hash_token(token)
        assert conn.execute("SELECT COUNT(*) FROM kiosks WHERE token_hash = ?",
                            (token,)).fetchone()[0] == 0
    assert cli.main(["add-kiosk", "branch-2", "--branch", "B", "--name", "N",
                     "--db", str(db)]) == 1
    assert "already registered" in capsys.readouterr().err
    with start_in_thread(db) as server:
        reply = requests.post(f"{server.url}/v1/heartbeat", json={"kiosk_id": "branch-2"},
                              headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert reply.status_code == 200 and reply.json()["ok"] is True


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path, capsys) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("this is not sqlite " * 100)
    assert cli.main(["seed", "--db", str(bogus)]) == 1
    assert "kiosk-central:" in capsys.readouterr().err


def test_database_from_a_newer_release_is_refused(tmp_path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer"):
        Database(db)


def test_a_version_2_database_gains_card_expiry_and_keeps_its_patrons(tmp_path) -> None:
    """An existing reference library upgraded in place: no patron lost, no card expired."""
    from central.db import _MIGRATIONS

    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for migrate in _MIGRATIONS[:2]:
        migrate(conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO patrons(patron_id, name) VALUES ('P1', 'Old Reader')")
    conn.commit()
    conn.close()
    with Database(path) as db, db.read() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [tuple(r) for r in c.execute("SELECT patron_id, card_expires FROM patrons")] == \
            [("P1", None)]


def test_migration_is_idempotent(tmp_path) -> None:
    db = tmp_path / "again.db"
    Database(db).close()
    with Database(db) as again:
        version = again.schema_version()
    assert version == SCHEMA_VERSION


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_runs_the_real_service(seeded_template: Path, tmp_path: Path) -> None:
    from central.db import copy_database

    db = copy_database(seeded_template, tmp_path / "served.db")
    port = _free_port()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    process = subprocess.Popen(
        [sys.executable, "-m", "central.cli", "serve", "--db", str(db), "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        assert notify.recv(256) == b"READY=1"  # systemd hears "ready" once it listens
        health = first_answer(f"http://127.0.0.1:{port}/v1/health", process)
        assert health.json()["status"] == "ok"
        identify = requests.post(
            f"http://127.0.0.1:{port}/v1/patrons/identify",
            json={"kind": "barcode", "value": DEMO_PATRONS["Jan Peeters"]},
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=5)
        assert identify.json()["patron"]["name"] == "Jan Peeters"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
        notify.close()
    # The service log never names the patron (no access log: paths carry patron ids).
    assert DEMO_PATRONS["Jan Peeters"].encode() not in output
