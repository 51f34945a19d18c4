"""Central profiles on the service: technicians set layers for the library, a branch and a
kiosk; every change is in the audit log; each kiosk's heartbeat brings the merge of its own
three layers. Over the real service on both engines."""

from __future__ import annotations

from typing import Any

import requests
from staff_support import PASSWORD

from central.db import Database
from central.kiosks import register_kiosk
from domain import profiles
from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk.backends.rest import RestBackend

POST = {"X-Staff-Request": "1"}


def login(url: str) -> requests.Session:
    s = requests.Session()
    assert s.post(f"{url}/staff/api/login", json={"name": "alice", "password": PASSWORD},
                  headers=POST, timeout=5).status_code == 200
    return s


def put(s: requests.Session, url: str, scope: str, target: str,
        settings: dict[str, Any]) -> requests.Response:
    return s.post(f"{url}/staff/api/profiles", headers=POST, timeout=5,
                  json={"scope": scope, "target": target, "settings": settings})


def profile_of(url: str, kiosk_id: str, token: str) -> tuple[str, dict[str, Any]] | None:
    with RestBackend(url, token, kiosk_id=kiosk_id, timeout=(1, 5)) as backend:
        return backend.heartbeat({"online": True, "heartbeat_s": 30}).profile


def test_layers_merge_per_kiosk_and_every_change_is_audited(service: Any) -> None:
    with Database(service.db_path) as db:
        other = register_kiosk(db, "gent-2", name="Gent 2", branch="Gent Zuid")
    s = login(service.url)
    assert profile_of(service.url, DEMO_KIOSK_ID, DEMO_TOKEN) == (profiles.version_of({}), {})

    assert put(s, service.url, "library", "", {
        "offline": {"allow_checkout": True, "max_items_per_patron": 5},
        "library": {"opening_hours": ["ma-vr 10:00-18:00"]}}).status_code == 201
    assert put(s, service.url, "branch", "Gent Zuid", {
        "offline": {"max_items_per_patron": 2}}).status_code == 201
    assert put(s, service.url, "kiosk", "gent-2", {
        "kiosk": {"name": "Gent 2, by the door"}}).status_code == 201

    version, gent = profile_of(service.url, "gent-2", other)  # type: ignore[misc]
    assert gent == {"offline": {"allow_checkout": True, "max_items_per_patron": 2},
                    "library": {"opening_hours": ["ma-vr 10:00-18:00"]},
                    "kiosk": {"name": "Gent 2, by the door"}}
    assert version == profiles.version_of(gent)
    _, main = profile_of(service.url, DEMO_KIOSK_ID, DEMO_TOKEN)  # type: ignore[misc]
    assert main["offline"]["max_items_per_patron"] == 5 and "kiosk" not in main

    # the branch goes back to the library's settings: an empty layer is removed
    assert put(s, service.url, "branch", "Gent Zuid", {}).json()["changed"] is True
    _, gent = profile_of(service.url, "gent-2", other)  # type: ignore[misc]
    assert gent["offline"]["max_items_per_patron"] == 5
    assert put(s, service.url, "branch", "Gent Zuid", {}).json()["changed"] is False

    listed = s.get(f"{service.url}/staff/api/profiles", timeout=5).json()
    assert [(layer["scope"], layer["target"]) for layer in listed["layers"]] == [
        ("kiosk", "gent-2"), ("library", "")]
    newest = listed["changes"][0]
    assert (newest["scope"], newest["target"], newest["changed_by"]) == (
        "branch", "Gent Zuid", "alice")
    assert newest["before"] == {"offline": {"max_items_per_patron": 2}}
    assert newest["after"] is None
    assert len(listed["changes"]) == 4


def test_a_profile_that_sets_what_it_may_not_is_refused_and_saved_nowhere(service: Any) -> None:
    s = login(service.url)
    for settings, expected in (
        ({"backend": {"url": "https://elsewhere.example/"}}, "backend: a profile cannot set"),
        ({"kiosk": {"id": "someone-else"}}, "kiosk.id: a profile cannot set this key"),
        ({"technician": {"pin_hash": "x"}}, "technician: a profile cannot set"),
        ({"offline": "yes"}, "offline: expected a table"),
        ({"devices": {"printer": "escpos"}}, "devices.printer: expected a table"),
        ("everything", "expected a table of sections"),
    ):
        reply = put(s, service.url, "library", "", settings)  # type: ignore[arg-type]
        assert reply.status_code == 422, reply.text
        assert expected in reply.json()["error"]["message"]
    assert put(s, service.url, "kiosk", "no-such-kiosk", {}).json()["error"]["message"] == \
        "target: no kiosk 'no-such-kiosk'"
    assert put(s, service.url, "branch", "", {}).status_code == 422
    assert put(s, service.url, "everywhere", "", {}).status_code == 422
    assert s.get(f"{service.url}/staff/api/profiles", timeout=5).json() == {
        "layers": [], "changes": []}
    # without a login, or without the staff header (a forged form), nothing is changed
    anonymous = requests.post(f"{service.url}/staff/api/profiles", headers=POST, timeout=5,
                              json={"scope": "library", "target": "", "settings": {}})
    assert anonymous.status_code == 401
    forged = s.post(f"{service.url}/staff/api/profiles", timeout=5,
                    json={"scope": "library", "target": "", "settings": {}})
    assert forged.status_code == 403
