"""Fixtures: a seeded database per test (copied from one seeded once), the real service on a
free loopback port, and an authenticated HTTP session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from central.server import RunningServer, start_in_thread
from domain.demo_library import DEMO_TOKEN


@pytest.fixture
def db_path(central_location: Any) -> Any:
    """The service's database for one test: a SQLite file or a PostgreSQL URL (`engine`)."""
    return central_location


@pytest.fixture
def server(db_path: Any) -> Iterator[RunningServer]:
    with start_in_thread(db_path) as running:
        yield running


class Api:
    """A kiosk's view of the HTTP API: authenticated JSON in, JSON out."""

    def __init__(self, base_url: str, token: str = DEMO_TOKEN) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: object) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=10)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=10)

    def account(self, patron_id: str) -> dict:
        return self.ok("POST", "/v1/patrons/account", {"patron_id": patron_id})

    def ok(self, method: str, path: str, body: object = None) -> dict:
        response = self.post(path, body) if method == "POST" else self.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.session.close()
