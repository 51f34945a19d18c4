"""`kiosk config check`: every problem at once, with file, key and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk import config

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_configs_are_valid():
    assert config.check(ROOT / "config/demo.toml") == []
    assert config.check(ROOT / "config/kiosk.example.toml", environ={"KIOSK_API_TOKEN": "t"}) == []


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[kiosk]\nlanguage = "xx"\ncolour = "blue"\n'
        '[session]\ntimeout_s = "sixty"\n'
        '[offline]\nmax_items_per_patron = true\npatron_check = "trust"\n'
        '[backend]\nurl = "https://catalog.example/"\n'
        '[printer]\nx = 1\n'
    )
    problems = {p.key: p.message for p in config.check(path, environ={})}
    assert set(problems) == {
        "kiosk.language", "kiosk.colour", "session.timeout_s", "offline.max_items_per_patron",
        "offline.patron_check", "printer", "backend.token",
    }
    assert "expected a number" in problems["session.timeout_s"]
    assert "expected a whole number" in problems["offline.max_items_per_patron"]
    assert "unknown key 'colour'" in problems["kiosk.colour"]
    assert "missing API token" in problems["backend.token"]
    assert all(p.file == str(path) for p in config.check(path, environ={}))


def test_a_half_written_file_is_a_clear_error(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[backend]\nurl = "https://catal')
    (problem,) = config.check(path, environ={})
    assert "not valid TOML" in problem.message


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    (problem,) = config.check(tmp_path / "missing.toml", environ={})
    assert "cannot read the file" in problem.message


def _rest_config(tmp_path: Path, token_line: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[backend]\nurl = "https://catalog.example/"\n{token_line}\n')
    return path


def test_a_world_readable_secret_file_is_refused(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cr3t\n")
    secret.chmod(0o644)
    path = _rest_config(tmp_path, f'token_file = "{secret}"')
    (problem,) = config.check(path, environ={})
    assert "can be read by others" in problem.message and "chmod 600" in problem.message
    secret.chmod(0o600)
    assert config.load(path, environ={}).api_token == "s3cr3t"


def test_the_token_can_come_from_the_environment(tmp_path):
    path = _rest_config(tmp_path, 'token_env = "MY_TOKEN"')
    assert config.load(path, environ={"MY_TOKEN": "abc"}).api_token == "abc"
    (problem,) = config.check(path, environ={})
    assert "MY_TOKEN is not set" in problem.message


def test_environment_overrides_win_over_the_file(tmp_path):
    path = _rest_config(tmp_path, 'token = "t"')
    settings = config.load(path, environ={
        "KIOSK__SESSION__TIMEOUT_S": "90", "KIOSK__BACKEND__URL": "https://other.example/",
        "KIOSK__DEVICES__PRINTER__TARGET": "network:127.0.0.1:9100",
    })
    assert settings.session.timeout_s == 90.0
    assert settings.backend.url == "https://other.example/"
    assert settings.devices["printer"]["target"] == "network:127.0.0.1:9100"


def test_the_cli_prints_every_problem_and_fails(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[session]\ntimeout_s = "x"\n[backend]\nurl = "ftp://x"\ntoken = "t"\n')
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "session.timeout_s" in result.stdout and "backend.url" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_one_pass_finds_patterns_numbers_addresses_and_nesting(tmp_path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[offline]\ncard_pattern = "("\n[session]\ntimeout_s = nan\n'
                    'patron_wait_s = 1' + "0" * 400 + '\n[status]\nlisten = "localhost"\n',
                    encoding="utf-8")
    found = {p.key for p in config.check(path, environ={})}
    assert {"offline.card_pattern", "session.timeout_s", "session.patron_wait_s",
            "status.listen"} <= found
    deep = tmp_path / "deep.toml"
    deep.write_text("[kiosk]\nlanguages = " + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    [problem] = config.check(deep, environ={})
    assert "nested" in problem.message
