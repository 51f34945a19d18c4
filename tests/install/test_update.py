"""`kiosk update`: a new release beside the running one, switched to at a quiet moment, and
back again when it does not come up. Versions are built from this tree (two deliberately
broken), installed from their lock files, and run as `kiosk run --headless` under a service
manager that speaks systemd's notify protocol (kiosk/testing/notify_supervisor.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from install_support import ROOT

from kiosk.appliance.layout import InstallLayout
from kiosk.appliance.releases import MARK, Releases, content_digest
from kiosk.appliance.update import Bounds, ServiceState, idle_by_status, update
from kiosk.testing.notify_supervisor import supervise_kiosk

RUNNER = "kiosk/runner.py"
NEVER_READY = ("    logs.configure(settings.logging.format",
               '    raise SystemExit("this release is broken on purpose")\n'
               "    logs.configure(settings.logging.format")
DIES_AFTER_READY = ("        watchdog.ready()\n",
                    "        watchdog.ready()\n"
                    '        threading.Timer(1.5, lambda: __import__("os")._exit(3)).start()\n')


def build_variant(out: Path, version: str, patch: tuple[str, str] | None = None) -> Path:
    """This tree as another version, with one change: a wheel like a release's."""
    src = out / f"src-{version}"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = ROOT / name
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.exists():  # a file deleted but not yet committed is not in the release
            shutil.copy2(source, target)
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"',
                                                       f'version = "{version}"', 1))
    if patch is not None:
        runner = src / RUNNER
        text = runner.read_text()
        assert patch[0] in text, "the patch no longer fits kiosk/runner.py"
        runner.write_text(text.replace(patch[0], patch[1], 1))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob(f"library_kiosk-{version}-*.whl")
    return wheel


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kiosk_config(where: Path, status_port: int) -> Path:
    demo = (ROOT / "config/demo.toml").read_text()
    demo = demo.replace('url = "http://127.0.0.1:0/"', 'url = "http://127.0.0.1:9/"')
    demo = demo.replace('data_dir = "demo-output/var"', f'data_dir = "{where / "var"}"')
    config = where / "kiosk.toml"
    config.write_text(demo + f'\n[status]\nlisten = "127.0.0.1:{status_port}"\n')
    return config


def running_version(status_url: str) -> str:
    return str(requests.get(status_url, timeout=5).json()["version"])


def wait_ready(supervisor, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not supervisor.state().ready:
        assert time.monotonic() < deadline, "the kiosk never reported ready"
        time.sleep(0.2)


@pytest.mark.slow  # four releases from their lock files and eight kiosk starts: about 2 min
def test_a_broken_release_is_rolled_back_and_a_good_one_stays(
        built_wheel: Path, tmp_path: Path) -> None:
    releases = Releases(InstallLayout(root=tmp_path / "root"))
    releases.switch(releases.install(built_wheel, say=lambda _l: None))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    never_ready = build_variant(wheels, "0.1.1", NEVER_READY)
    dies_after_ready = build_variant(wheels, "0.1.2", DIES_AFTER_READY)
    good = build_variant(wheels, "0.2.0")

    port = free_port()
    status = f"http://127.0.0.1:{port}/status"
    config = kiosk_config(tmp_path, port)
    report = tmp_path / "var" / "update.json"
    bounds = Bounds(ready_within_s=25, settle_s=5, poll_s=0.2)
    said: list[str] = []
    with supervise_kiosk(releases.home / "venv", config, tmp_path / "notify.sock",
                         watchdog_s=3.0, start_timeout_s=20, log=tmp_path / "kiosk.log"
                         ) as service:
        wait_ready(service)
        assert running_version(status) == "0.1.0"
        idle = idle_by_status(status)

        first = update(releases, never_ready, service, idle, report, bounds, said.append)
        assert (first.ok, first.version, releases.current()) == (False, "0.1.0", "0.1.0")
        assert "did not report ready within 25 s" in first.reason
        wait_ready(service)
        assert running_version(status) == "0.1.0"

        second = update(releases, dies_after_ready, service, idle, report, bounds, said.append)
        assert (second.ok, releases.current()) == (False, "0.1.0")
        assert "stopped answering within its first 5 s" in second.reason
        wait_ready(service)
        assert running_version(status) == "0.1.0"
        assert requests.get(status, timeout=5).json()["last_update"]["tried"] == "0.1.2"

        third = update(releases, good, service, idle, report, bounds, said.append)
        assert (third.ok, third.version, releases.current()) == (True, "0.2.0", "0.2.0")
        wait_ready(service)
        assert running_version(status) == "0.2.0"
        last = requests.get(status, timeout=5).json()["last_update"]
        assert (last["ok"], last["previous"], last["version"]) == (True, "0.1.0", "0.2.0")
    assert "0.1.1 did not report ready within 25 s; back on 0.1.0" in said
    assert releases.installed() == ["0.1.0", "0.1.1", "0.1.2", "0.2.0"]  # kept for the record


class Service:
    """Restarts and states as a manager reports them; the releases it is asked to run."""

    def __init__(self, releases: Releases) -> None:
        self.releases = releases
        self.restarted_on: list[str | None] = []

    def restart(self) -> None:
        self.restarted_on.append(self.releases.current())

    def state(self) -> ServiceState:
        return ServiceState(ready=True, restarts=0)


def fake_release(releases: Releases, where: Path, version: str) -> Path:
    """A release already installed from this very wheel (install() then has no work)."""
    wheel = where / f"library_kiosk-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"library_kiosk-{version}.dist-info/RECORD", f"kiosk/__init__.py,{version}\n")
    releases.path(version).mkdir(parents=True)
    (releases.path(version) / MARK).write_text(content_digest(wheel) + "\n")
    return wheel


def running_010_with_020_ready(tmp_path: Path) -> tuple[Releases, Path, Service]:
    releases = Releases(InstallLayout(root=tmp_path))
    fake_release(releases, tmp_path, "0.1.0")
    releases.switch("0.1.0")
    return releases, fake_release(releases, tmp_path, "0.2.0"), Service(releases)


def test_the_switch_waits_until_no_patron_is_at_the_kiosk(tmp_path: Path) -> None:
    releases, new, service = running_010_with_020_ready(tmp_path)
    seen: list[str | None] = []
    answers = iter([False, False, True])

    def idle() -> bool:
        seen.append(releases.current())
        return next(answers)

    said: list[str] = []
    outcome = update(releases, new, service, idle, bounds=Bounds(settle_s=0.1, poll_s=0.01),
                     say=said.append)
    assert outcome.ok and releases.current() == "0.2.0"
    assert seen == ["0.1.0", "0.1.0", "0.1.0"]  # nothing switched while a patron was there
    assert service.restarted_on == ["0.2.0"]
    assert "a patron is at the kiosk: waiting until the visit ends" in said


def test_no_quiet_moment_leaves_the_old_release_running(tmp_path: Path) -> None:
    releases, new, service = running_010_with_020_ready(tmp_path)
    with pytest.raises(Exception, match=r"no quiet moment within 0\.05 s: 0\.1\.0 runs on"):
        update(releases, new, service, lambda: False,
               bounds=Bounds(idle_within_s=0.05, poll_s=0.01), say=lambda _l: None)
    assert releases.current() == "0.1.0" and service.restarted_on == []
