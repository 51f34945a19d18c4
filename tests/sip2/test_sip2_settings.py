"""Sip2Settings from TOML: every key documented in every example config, clear errors."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from kiosk import config as kiosk_config
from kiosk.backends.sip2 import HoldCounting, Sip2ConfigError, Sip2Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("config/sip2-*.toml"))
ENV = {"KIOSK_SIP2_PASSWORD": "from-env"}


def test_the_four_servers_have_examples() -> None:
    assert [p.name for p in EXAMPLES] == ["sip2-evergreen.toml", "sip2-folio.toml",
                                          "sip2-koha.toml", "sip2-wise.toml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_builds_settings_and_documents_every_key(path: Path) -> None:
    table = tomllib.loads(path.read_text())["sip2"]
    settings = Sip2Settings.from_mapping(table, environ=ENV)
    assert settings.login_password == "from-env"
    keys = {f.name for f in dataclasses.fields(Sip2Settings)}
    assert set(table) == keys, "every setting appears in every example"
    for line in path.read_text().splitlines():
        if re.match(r"^[a-z_]+ = ", line):
            assert "#" in line, f"undocumented: {line}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_the_kiosk_config_check(path: Path) -> None:
    assert kiosk_config.check(path, environ=ENV) == []


def test_hold_counting_differs_where_the_servers_differ() -> None:
    def counting(name: str) -> HoldCounting:
        table = tomllib.loads((ROOT / "config" / name).read_text())["sip2"]
        return Sip2Settings.from_mapping(table, environ=ENV).hold_counting

    assert counting("sip2-koha.toml") is HoldCounting.READY_ONLY
    assert counting("sip2-evergreen.toml") is HoldCounting.ALL


@pytest.mark.parametrize(("table", "message"), [
    ({"host": "h", "prot": 1}, r"unknown key\(s\) \['prot'\]"),
    ({"host": "h", "port": "6001"}, r"sip2.port: expected a whole number"),
    ({"host": "h", "port": 70000}, r"sip2.port: 70000 is not a TCP port"),
    ({"host": "h", "tls": "yes"}, r"sip2.tls: expected true or false"),
    ({"host": "h", "charset": "ebcdic"}, r"sip2.charset: must be one of"),
    ({"host": "h", "terminator": "LF"}, r"sip2.terminator: must be one of"),
    ({"host": "h", "hold_counting": "some"}, r"sip2.hold_counting: 'some' is not one of"),
    ({"host": "h", "summary_flags": ["charged", "loans"]}, r"'loans' is not one of"),
    ({"host": "h", "server_timezone": "Mars/Base"}, r"not a known time zone"),
    ({"host": "h", "login_password_env": "NOPE"}, r"NOPE is not set"),
    ({"port": 1}, r"sip2.host: missing"),
    ({"host": "h", "login_required": True}, r"sip2.login_user: is needed"),
])
def test_bad_settings_name_the_key(table: dict[str, object], message: str) -> None:
    table = {"login_user": "u", **table}
    if table.get("login_required") is True:
        table.pop("login_user")
    with pytest.raises(Sip2ConfigError, match=message):
        Sip2Settings.from_mapping(table, environ={})


def test_secrets_stay_out_of_repr() -> None:
    s = Sip2Settings.from_mapping({"host": "h", "login_user": "u", "login_password": "pw123",
                                   "terminal_password": "tp456"})
    assert "pw123" not in repr(s) and "tp456" not in repr(s)


def test_every_setting_has_a_toml_type() -> None:
    from kiosk.backends.sip2.settings import _KINDS

    assert set(_KINDS) == {f.name for f in dataclasses.fields(Sip2Settings)}
