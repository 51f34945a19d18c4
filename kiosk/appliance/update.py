"""`kiosk update WHEEL`: the new version beside the old, switched to while no patron is at the
kiosk, and back to the old one when the new one does not come up.

"Comes up" is what systemd knows: the unit is Type=notify with a watchdog, so it is active
only once `kiosk run` has said READY=1 (journal recovered, devices open), and systemd restarts
it when the WATCHDOG=1 pings stop. An update therefore counts as good when the service is
ready within `ready_within_s` and then stays ready, without a restart, for `settle_s`. Anything
else (a crash at start, a hang before READY, a watchdog kill, a crash a minute in) switches the
link back, restarts the old version and says so; the journal is the same file for both
versions, so no loan is lost either way. The outcome is kept in the kiosk's data folder
(`update.json`) for the technician and the heartbeat.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from kiosk.appliance.releases import ReleaseError, Releases
from kiosk.files import read_json_object, write_json

Say = Callable[[str], None]
UNIT = "kiosk.service"


@dataclass(frozen=True)
class ServiceState:
    ready: bool  # active: READY=1 was received and the watchdog has not fired since
    restarts: int  # how often the manager restarted it (systemd's NRestarts)


class ServiceManager(Protocol):
    def restart(self) -> None: ...

    def state(self) -> ServiceState: ...


class Systemd:
    """kiosk.service through systemctl."""

    def __init__(self, unit: str = UNIT) -> None:
        self.unit = unit

    def _systemctl(self, *args: str) -> str:
        done = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise ReleaseError(f"systemctl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def restart(self) -> None:
        # --no-block: the start job of a Type=notify unit waits for READY; we watch instead
        self._systemctl("restart", "--no-block", self.unit)

    def state(self) -> ServiceState:
        props = dict(line.split("=", 1) for line in self._systemctl(
            "show", self.unit, "-p", "ActiveState", "-p", "SubState", "-p", "NRestarts"
        ).splitlines() if "=" in line)
        return ServiceState(ready=props.get("ActiveState") == "active"
                            and props.get("SubState") == "running",
                            restarts=int(props.get("NRestarts") or 0))


@dataclass(frozen=True)
class Outcome:
    version: str  # the version running afterwards
    tried: str
    previous: str | None
    ok: bool
    reason: str
    at: str

    def line(self) -> str:
        if self.ok:
            return f"updated to {self.tried} (from {self.previous or 'nothing'})"
        return f"{self.tried} {self.reason}; back on {self.version}"


@dataclass(frozen=True)
class Bounds:
    ready_within_s: float = 120.0  # the unit's TimeoutStartSec
    settle_s: float = 60.0  # two watchdog periods of WatchdogSec=30
    idle_within_s: float = 1800.0  # a patron's visit ends by itself (session timeouts)
    poll_s: float = 0.5


def _came_up(service: ServiceManager, restarts_before: int, bounds: Bounds) -> str:
    """"" when the service became ready and stayed so; else what went wrong."""
    deadline = time.monotonic() + bounds.ready_within_s
    while not (state := service.state()).ready:
        if time.monotonic() > deadline:
            return f"did not report ready within {bounds.ready_within_s:g} s"
        time.sleep(bounds.poll_s)
    if state.restarts > restarts_before:
        return "was restarted before it became ready (it crashed or hung at start)"
    settled = time.monotonic() + bounds.settle_s
    while time.monotonic() < settled:
        time.sleep(bounds.poll_s)
        state = service.state()
        if state.restarts > restarts_before or not state.ready:
            return (f"stopped answering within its first {bounds.settle_s:g} s "
                    "(crash or watchdog)")
    return ""


def _wait_idle(idle: Callable[[], bool], bounds: Bounds, say: Say) -> bool:
    deadline = time.monotonic() + bounds.idle_within_s
    told = False
    while not idle():
        if not told:
            say("a patron is at the kiosk: waiting until the visit ends")
            told = True
        if time.monotonic() > deadline:
            return False
        time.sleep(bounds.poll_s)
    return True


def update(releases: Releases, wheel: Path, service: ServiceManager, idle: Callable[[], bool],
           report: Path | None = None, bounds: Bounds | None = None,
           say: Say = print) -> Outcome:
    """Install, wait for a quiet moment, switch, watch; switch back when it does not come
    up. Raises ReleaseError only when nothing was switched (the old version runs on)."""
    limits = bounds or Bounds()
    previous = releases.current()
    tried = releases.install(wheel, say)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if tried == previous:
        outcome = Outcome(tried, tried, previous, True, "already running", now)
        say(f"{tried} is already the running version")
        return outcome
    if not _wait_idle(idle, limits, say):
        raise ReleaseError(f"no quiet moment within {limits.idle_within_s:g} s: "
                           f"{previous} runs on, {tried} stays installed for the next try")
    restarts = service.state().restarts
    releases.switch(tried)
    say(f"switched to {tried}; restarting the kiosk")
    service.restart()
    problem = _came_up(service, restarts, limits)
    if not problem:
        outcome = Outcome(tried, tried, previous, True, "ready", now)
    elif previous is None:
        outcome = Outcome(tried, tried, previous, False, problem + " (no older version to "
                          "go back to)", now)
    else:
        say(f"{tried} {problem}: going back to {previous}")
        restarts = service.state().restarts
        releases.switch(previous)
        service.restart()
        again = _came_up(service, restarts, limits)
        outcome = Outcome(previous, tried, previous, False,
                          problem + (f"; and {previous} {again}" if again else ""), now)
    say(outcome.line())
    if report is not None:
        write_json(report, asdict(outcome))
    return outcome


def last_update(data_dir: str) -> dict[str, object] | None:
    """The last update's outcome for the status snapshot, or None. Read each time: it is
    written by `kiosk update`, another process."""
    return read_json_object(Path(data_dir) / "update.json")


def idle_by_status(url: str, token: str = "") -> Callable[[], bool]:
    """Quiet when the kiosk's own /status says the idle screen shows and nothing is under
    way; a kiosk that does not answer serves no patron either."""
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def idle() -> bool:
        try:
            session = requests.get(url, headers=headers, timeout=3).json().get("session", {})
        except (requests.RequestException, ValueError, AttributeError):
            return True
        return session.get("screen") == "idle" and not session.get("busy")

    return idle
