"""The kiosk's side of central profiles (domain/profiles.py, central/profiles.py): take the
profile the heartbeat brings, check it, apply it at a quiet moment, keep the last good one,
and go back to it when the kiosk does not come up with the new one.

Why apply by restarting: every part of a kiosk (devices, policy, screen, speech) is built once
from its settings by the composition root; a restart builds all of them from the new settings
at once, or none. systemd (Restart=always) starts the kiosk again the moment it stops.

The files in the data folder, each written in one rename:

    profile.json          the last good profile: the kiosk came up with it and stayed up
    profile-pending.json  received and checked, applied at the next quiet moment
    profile-trying        the pending version this start is trying; if a start finds it, the
                          start before never confirmed it (crash, watchdog): roll back
    profile-report.json   what became of the last profile: applied, refused, rolled back

A profile is checked with `kiosk.devices.load_checked`, the code of `kiosk config check`, on
the kiosk's own file with the profile laid over it: a profile that would make the config invalid
(a device type that does not exist, a default language not among the languages) is refused
before anything changes, and reported.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain import profiles
from kiosk import config
from kiosk.config import Settings
from kiosk.devices import load_checked
from kiosk.files import read_json_object, write_json

log = logging.getLogger(__name__)

GOOD, PENDING, TRYING, REPORT = ("profile.json", "profile-pending.json", "profile-trying",
                                 "profile-report.json")
NONE = profiles.version_of({})


def _read(path: Path) -> dict[str, Any] | None:
    """A profile from the data folder; a damaged one is none (the kiosk then runs with the
    layer below)."""
    loaded = read_json_object(path)
    return loaded if loaded is not None and isinstance(loaded.get("settings"), dict) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ProfileKeeper:
    config_path: Path
    data_dir: Path
    environ: Mapping[str, str] | None = None
    running: str = NONE  # the version this process runs with
    _trying: str | None = None  # the pending version this start runs with, not confirmed yet
    _pending: str | None = None  # checked and waiting for a restart
    _refused: set[str] = field(default_factory=set)
    _last: dict[str, Any] | None = None  # the report, as written last
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- at start (`kiosk run`) ------------------------------------------------------------

    def startup(self, local: Settings | None = None) -> Settings:
        """The settings to run with: the pending profile on its first try, else the last
        good one, else the file alone (`local`, loaded here when not given; its own problems
        raise ConfigError, as always)."""
        if local is None:
            local = config.load(self.config_path, environ=self.environ)
        self._last = _read_report(self.data_dir / REPORT)
        if self._last and self._last.get("outcome") in ("refused", "rolled back"):
            self._refused.add(str(self._last.get("version")))  # not again until it changes
        pending = _read(self.data_dir / PENDING)
        if pending is not None:
            settings = self._try(str(pending.get("version")), pending)
            if settings is not None:
                return settings
        good = _read(self.data_dir / GOOD)
        settings = self._with(good) if good is not None else None
        return settings if settings is not None else local

    def _try(self, version: str, pending: Mapping[str, Any]) -> Settings | None:
        """The pending profile's first start; None (and the pending profile dropped) when the
        start before already tried it and never confirmed it, or it no longer checks out."""
        trying = self.data_dir / TRYING
        tried = trying.read_text().split("\n", 1) if trying.exists() else [""]
        settings = None
        if tried[0].strip() == version:
            self._refused.add(version)
            why = tried[1].strip() if len(tried) > 1 and tried[1].strip() else \
                "the kiosk stopped before it had run with it long enough"
            self._report(version, "rolled back", f"the kiosk did not come up with it: {why}")
        else:
            trying.write_text(version + "\n")
            settings = self._with(pending)
            if settings is not None:
                self._trying = version
                return settings
        (self.data_dir / PENDING).unlink(missing_ok=True)
        trying.unlink(missing_ok=True)
        return settings

    def _with(self, profile: Mapping[str, Any]) -> Settings | None:
        version = str(profile.get("version"))
        try:
            settings = load_checked(self.config_path, environ=self.environ,
                                    overlay=profile["settings"])
        except config.ConfigError as exc:
            self._report(version, "refused", "; ".join(str(p) for p in exc.problems[:5]))
            return None
        self.running = version
        return settings

    def start_failed(self, why: str) -> None:
        """This start could not build the kiosk: say why to the start that rolls back."""
        if self._trying is not None:
            (self.data_dir / TRYING).write_text(f"{self._trying}\n{why[:300]}\n")

    def confirm(self) -> None:
        """The kiosk came up and stayed up: the profile it tried is now the good one."""
        with self._lock:
            version, self._trying = self._trying, None
        if version is None:
            return
        pending = _read(self.data_dir / PENDING)
        if pending is not None and str(pending.get("version")) == version:
            os.replace(self.data_dir / PENDING, self.data_dir / GOOD)
            self._report(version, "applied", "")
            log.info("central profile %s applied", version)
        (self.data_dir / TRYING).unlink(missing_ok=True)

    # ---- from the heartbeat (sync thread) -------------------------------------------------

    def offer(self, version: str, settings: Mapping[str, Any]) -> None:
        """A profile the central side sent: check it; if it is new and good, keep it for the
        next quiet moment."""
        with self._lock:
            if version in (self.running, self._pending) or version in self._refused:
                return
            if version == NONE and self.running == NONE:
                return
        found = profiles.problems(settings)
        if not found and profiles.version_of(settings) != version:
            found = ["the version does not match the settings"]
        if not found:
            try:
                load_checked(self.config_path, environ=self.environ, overlay=settings)
            except config.ConfigError as exc:
                found = [str(p) for p in exc.problems]
        if found:
            with self._lock:
                self._refused.add(version)
            self._report(version, "refused", "; ".join(found[:5]))
            log.warning("central profile %s refused: %s", version, "; ".join(found[:5]))
            return
        write_json(self.data_dir / PENDING, {"version": version, "settings": dict(settings)})
        with self._lock:
            self._pending = version
        log.info("central profile %s received: applied at the next quiet moment", version)

    @property
    def restart_wanted(self) -> bool:
        """A checked profile waits and this process does not run with it yet."""
        with self._lock:
            return self._pending is not None and self._pending != self.running

    # ---- for the status snapshot ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            state: dict[str, Any] = {"running": self.running, "pending": self._pending}
            if self._last:
                state["last"] = dict(self._last)
        return state

    def _report(self, version: str, outcome: str, why: str) -> None:
        report = {"version": version, "outcome": outcome, "why": why[:500], "at": _now()}
        with self._lock:
            self._last = report
        try:
            write_json(self.data_dir / REPORT, report)
        except OSError as exc:
            log.warning("could not keep the profile report: %s", exc)


def _read_report(path: Path) -> dict[str, Any] | None:
    found = read_json_object(path)
    if found is None:
        return None
    return {k: found[k] for k in ("version", "outcome", "why", "at") if k in found}
