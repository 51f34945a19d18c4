"""The container image and its compose file, as far as a machine without a Docker daemon goes:
the image's ENTRYPOINT + CMD, with the image's ENV, is run as written against a real PostgreSQL
and answers; the image's HEALTHCHECK command says healthy then, and unhealthy once the service
is gone; the image runs as a user of its own; the compose file wires the service to its
database by name, waits for the database's own health check, and holds no password."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from central.db import Database
from central.seed import seed
from domain.demo_library import DEMO_TOKEN

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "ops" / "container"
BIN = Path(sys.executable).parent  # where pip put kiosk-central, as the image's pip does


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, with continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    steps = [tuple(line.strip().split(None, 1)) for line in joined.splitlines() if line.strip()]
    final = max(i for i, step in enumerate(steps) if step[0].upper() == "FROM")
    return [(step[0].upper(), step[1] if len(step) > 1 else "") for step in steps[final:]]


@pytest.fixture(scope="module")
def image() -> dict[str, Any]:
    steps = dockerfile_instructions((HERE / "Dockerfile").read_text())
    env: dict[str, str] = {}
    for name, args in steps:
        if name == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    found = {name: args for name, args in steps}
    health = found["HEALTHCHECK"]
    return {
        "env": env,
        "user": found.get("USER", "root"),
        "command": json.loads(found["ENTRYPOINT"]) + json.loads(found["CMD"]),
        "health": json.loads(health[health.index("CMD") + 3:].strip()),
        "port": found["EXPOSE"],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_image(argv: list[str]) -> list[str]:
    """The image's command, with its program from this environment's bin folder."""
    return [str(BIN / argv[0]), *argv[1:]]


def test_the_image_runs_as_a_user_of_its_own_and_checks_its_health(image) -> None:
    assert image["user"] not in ("root", "0", "")
    assert image["command"][:2] == ["kiosk-central", "serve"]
    assert image["health"][0] == "kiosk-central"
    assert image["env"]["KIOSK_CENTRAL_PORT"] == image["port"]
    assert image["env"]["KIOSK_CENTRAL_HOST"] == "0.0.0.0"  # reachable from outside it


def test_the_images_command_serves_the_fleet_on_postgresql(image, postgres) -> None:
    url = postgres.create("container")
    with Database(url) as db:
        seed(db)
    port = _free_port()  # the image has a network of its own; here the port is shared
    env = {**os.environ, **image["env"], "KIOSK_CENTRAL_PORT": str(port),
           "KIOSK_CENTRAL_HOST": "127.0.0.1", "KIOSK_CENTRAL_DB": url}
    service = subprocess.Popen(_in_image(image["command"]), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(_in_image(image["health"]), env=env,
                             capture_output=True).returncode != 0:
            assert service.poll() is None, service.stderr.read() if service.stderr else ""
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.3)
        base = f"http://127.0.0.1:{port}"
        answer = requests.post(f"{base}/v1/patrons/identify",
                               headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
                               json={"kind": "barcode", "value": "nobody-here"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["ok"] is False
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        assert "central_http_requests_total{" in metrics
        assert "central_db_pool{" in metrics  # PostgreSQL's connection pool, not SQLite
    finally:
        service.terminate()
        service.wait(timeout=30)
        err = service.stderr.read() if service.stderr else ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(json.loads(line) for line in lines)  # the image's JSON logs
    gone = subprocess.run(_in_image(image["health"]), env=env, capture_output=True, text=True)
    assert gone.returncode == 1 and "not healthy" in gone.stderr


def test_compose_wires_the_service_to_its_database_and_keeps_no_password() -> None:
    text = (HERE / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    central, db = compose["services"]["central"], compose["services"]["db"]
    assert (ROOT / "ops/container" / central["build"]["context"]).resolve() == ROOT
    assert central["build"]["dockerfile"] == "ops/container/Dockerfile"
    assert central["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in db["healthcheck"]["test"]
    database_url = central["environment"]["KIOSK_CENTRAL_DB"]
    assert re.fullmatch(r"postgresql://kiosk:\$\{KIOSK_DB_PASSWORD:\?[^}]*\}@db:5432/kiosk",
                        database_url)
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${KIOSK_DB_PASSWORD:?")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert central["ports"] == ["8080:8080"]
    # the password file the comments tell technicians to write is never committed
    ignored = subprocess.run(["git", "check-ignore", "-q", "ops/container/.env"], cwd=ROOT)
    assert ignored.returncode == 0
