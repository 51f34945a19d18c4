"""A central profile end to end: staff set it on the real service, a real `kiosk run
--headless` gets it with its heartbeat, restarts itself at a quiet moment under a service
manager that speaks systemd's notify protocol (Restart=always), runs with it, and the
dashboard shows the version. A profile that passes the check but keeps the kiosk from coming
up (status lights on GPIO pins this machine does not have: the check cannot know a board's
pins, the start fails on them) is rolled back to the good one, and the dashboard says so."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

import requests
from staff_support import PASSWORD, ROOT

from domain import profiles
from kiosk.testing.notify_supervisor import NotifySupervisor

POST = {"X-Staff-Request": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kiosk_config(where: Path, url: str, status_port: int) -> Path:
    demo = (ROOT / "config/demo.toml").read_text()
    demo = demo.replace('url = "http://127.0.0.1:0/"', f'url = "{url}/"')
    demo = demo.replace('data_dir = "demo-output/var"', f'data_dir = "{where / "var"}"')
    demo = demo.replace("heartbeat_s = 2.0", "heartbeat_s = 1.0")
    config = where / "kiosk.toml"
    config.write_text(demo + f'\n[status]\nlisten = "127.0.0.1:{status_port}"\n'
                      "\n[profile]\nconfirm_after_s = 3.0\n")
    return config


def until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (requests.RequestException, KeyError, TypeError, ValueError):
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"waited {timeout:g} s for {what}")


def test_a_profile_set_by_staff_reaches_the_kiosk_and_a_bad_one_is_rolled_back(
        service: Any, tmp_path: Path) -> None:
    port = free_port()
    status_url = f"http://127.0.0.1:{port}/status"
    staff = requests.Session()
    assert staff.post(f"{service.url}/staff/api/login", headers=POST, timeout=5,
                      json={"name": "alice", "password": PASSWORD}).status_code == 200

    def fleet_profile() -> dict[str, Any]:
        kiosks = staff.get(f"{service.url}/staff/api/fleet", timeout=5).json()["kiosks"]
        return next(k for k in kiosks if k["kiosk_id"] == "demo-kiosk-1")["profile"]

    def set_layer(scope: str, target: str, settings: dict[str, Any]) -> str:
        reply = staff.post(f"{service.url}/staff/api/profiles", headers=POST, timeout=5,
                           json={"scope": scope, "target": target, "settings": settings})
        assert reply.status_code == 201, reply.text
        return profiles.version_of(settings)

    config = kiosk_config(tmp_path, service.url, port)
    argv = [sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config", str(config)]
    with NotifySupervisor(argv, tmp_path / "notify.sock", env={"PYTHONPATH": str(ROOT),
                          "PATH": "/usr/bin:/bin"}, watchdog_s=5.0, start_timeout_s=30,
                          log=tmp_path / "kiosk.log") as kiosk:
        until("the kiosk to be ready", lambda: kiosk.state().ready)
        assert requests.get(status_url, timeout=5).json()["name"] == "Demo kiosk"

        good = set_layer("library", "", {"kiosk": {"name": "Kiosk by the door"},
                                         "offline": {"max_items_per_patron": 2}})
        until("the kiosk to run the library's profile",
              lambda: requests.get(status_url, timeout=5).json()["name"] == "Kiosk by the door")
        assert kiosk.state().restarts == 1  # it stopped itself; the manager started it again
        until("the profile to be confirmed", lambda: requests.get(status_url, timeout=5).json()
              ["profile"]["last"]["outcome"] == "applied")
        until("the dashboard to show it", lambda: fleet_profile()["running"] == good)

        lights = {"devices": {"lights": {"type": "gpio", "red_pin": 17, "green_pin": 27}}}
        bad = set_layer("kiosk", "demo-kiosk-1", lights)
        merged = profiles.version_of(profiles.merge(
            {"kiosk": {"name": "Kiosk by the door"}, "offline": {"max_items_per_patron": 2}},
            lights))
        assert bad != merged
        problem = until("the dashboard to show the rollback",
                        lambda: fleet_profile()["problem"], timeout=90)
        assert (problem["version"], problem["outcome"]) == (merged, "rolled back")
        assert problem["why"] == ("the kiosk did not come up with it: red status LED on pin "
                                  "17: no GPIO pin library on this machine")
        state = requests.get(status_url, timeout=5).json()
        assert state["name"] == "Kiosk by the door" and state["profile"]["running"] == good
        restarts = kiosk.state().restarts
        time.sleep(4)  # the heartbeat brings the bad one again: it is not tried twice
        assert kiosk.state().restarts == restarts and kiosk.state().ready
