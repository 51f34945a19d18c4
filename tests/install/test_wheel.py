"""The wheel a library installs: every file the kiosk reads is inside it, a kiosk's install
pulls no web framework, and installed (not editable) into a fresh venv it plays the demo tour
and serves the central side, far from the checkout."""

from __future__ import annotations

import email.parser
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest
import requests
from install_support import ROOT, fresh_venv, pip_install

from kiosk.testing.http_wait import first_answer

# where the tree's data folders land in the wheel (kiosk/shipped/* are links to them)
SHIPPED = {"config/": "kiosk/shipped/config/", "systemd/": "kiosk/shipped/systemd/",
           "requirements/": "kiosk/shipped/requirements/"}
NOT_SHIPPED = (".md", ".pot")  # notes for developers, the catalogs' template


def tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "kiosk", "drivers", "central", "domain",
                           *SHIPPED], cwd=ROOT, capture_output=True, text=True, check=True)
    return [f for f in done.stdout.split() if not f.endswith(NOT_SHIPPED)
            and not f.startswith("kiosk/shipped/")]


def in_wheel(path: str) -> str:
    for folder, inside in SHIPPED.items():
        if path.startswith(folder):
            return inside + path[len(folder):]
    return path


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(z.read(name).decode())


def test_the_wheel_holds_every_file_of_the_tree_the_kiosk_reads(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    missing = [f for f in tracked_files() if in_wheel(f) not in names]
    assert missing == []
    assert {"kiosk/shipped/config/demo.toml", "kiosk/shipped/config/kiosk.example.toml",
            "kiosk/shipped/systemd/kiosk.service", "kiosk/shipped/requirements/kiosk-pi.txt",
            "central/templates/dashboard.html", "kiosk/ui/kiosk.kv"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_a_kiosk_install_pulls_no_web_framework_and_the_pi_extra_has_the_pi_modules(
        built_wheel: Path) -> None:
    meta = metadata(built_wheel)
    assert meta["License-Expression"] == "EUPL-1.2"
    assert "Operating System :: POSIX :: Linux" in meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    core = {r.split(">")[0].split("=")[0].strip() for r in requires if "extra ==" not in r}
    assert not core & {"fastapi", "uvicorn", "starlette", "kivy"}
    pi = " ".join(r for r in requires if 'extra == "pi"' in r)
    for module in ("lgpio", "evdev", "pyusb"):
        assert module in pi
    assert "library-kiosk[cards,journal,ui]" in pi  # pyscard, systemd-python, kivy
    assert any("fastapi" in r and 'extra == "central"' in r for r in requires)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # a fresh venv from PyPI's cache, then the tour: about 90 s
def test_the_installed_wheel_plays_the_demo_tour_and_serves_the_central_side(
        built_wheel: Path, tmp_path: Path) -> None:
    env = fresh_venv(tmp_path / "venv")
    pip_install(env, f"{built_wheel}[demo]", cwd=tmp_path)
    away = tmp_path / "elsewhere"
    away.mkdir()
    where = env.run(env.bin("python"), "-c", "import kiosk, central, drivers, domain; "
                    "print(kiosk.__file__, central.__file__)", cwd=away)
    assert where.stdout.count(str(env.path)) == 2, where.stdout + where.stderr

    tour = env.run(env.bin("kiosk"), "demo", "--tour", "--output", away / "out", cwd=away,
                   env={"KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1"})
    assert tour.returncode == 0, tour.stdout[-2000:] + tour.stderr[-2000:]
    assert "All five loans reached the library exactly once." in tour.stdout
    assert "Traceback" not in tour.stdout + tour.stderr
    assert len(list((away / "out").glob("[0-9][0-9]-*.png"))) == 16

    port = _free_port()
    db = away / "central.db"
    assert env.run(env.bin("kiosk-central"), "seed", "--db", db, cwd=away).returncode == 0
    served = subprocess.Popen([str(env.bin("kiosk-central")), "serve", "--db", str(db),
                               "--port", str(port)], cwd=away, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        health = first_answer(f"http://127.0.0.1:{port}/v1/health", served)
        assert health.json()["status"] == "ok"
        assert requests.get(f"http://127.0.0.1:{port}/staff/login", timeout=5).status_code \
            == 200  # the templates and static files came with it
        checked = env.run(env.bin("kiosk-central"), "health", "--url",
                          f"http://127.0.0.1:{port}/v1/health", cwd=away)
        assert checked.returncode == 0, checked.stderr
    finally:
        served.terminate()
        served.communicate(timeout=20)


@pytest.mark.slow  # a fresh venv: about 15 s with pip's cache
def test_a_kiosks_install_has_no_web_framework_and_says_which_extra_a_command_needs(
        built_wheel: Path, tmp_path: Path) -> None:
    env = fresh_venv(tmp_path / "venv")
    pip_install(env, built_wheel, cwd=tmp_path)
    assert env.run(env.bin("python"), "-c", "import fastapi", cwd=tmp_path).returncode != 0
    assert env.run(env.bin("python"), "-c", "import uvicorn", cwd=tmp_path).returncode != 0
    shipped = env.run(env.bin("python"), "-c", "from kiosk.shipped_files import config_file; "
                      "print(config_file('demo.toml'))", cwd=tmp_path).stdout.strip()
    checked = env.run(env.bin("kiosk"), "config", "check", shipped, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    demo = env.run(env.bin("kiosk"), "demo", "--tour", cwd=tmp_path)
    assert demo.returncode == 2
    assert "is not installed; kiosk demo needs the [demo] extra: pip install " \
        "'library-kiosk[demo]'" in demo.stderr
    served = env.run(env.bin("kiosk-central"), "serve", "--db", tmp_path / "c.db", cwd=tmp_path)
    assert served.returncode == 2
    assert "kiosk-central needs the [central] extra" in served.stderr
    assert "Traceback" not in demo.stderr + served.stderr
