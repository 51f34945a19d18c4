"""Fixtures for the SIP2 tests: pysip2's server with a small library, and our settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sip2_library_acs import INSTITUTION, LOGIN_PASSWORD, LOGIN_USER, RunningAcs

from kiosk.backends.sip2 import Sip2Backend, Sip2Settings


@pytest.fixture
def acs() -> Iterator[RunningAcs]:
    with RunningAcs() as running:
        yield running


def settings_for(port: int, **overrides: object) -> Sip2Settings:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD, "institution_id": INSTITUTION,
        "location_code": "KIOSK1", "terminal_password": "", "timeout_s": 2.0,
        "connect_timeout_s": 2.0,
    }
    values.update(overrides)
    return Sip2Settings.from_mapping(values)


@pytest.fixture
def settings(acs: RunningAcs) -> Sip2Settings:
    return settings_for(acs.port)


@pytest.fixture
def backend(settings: Sip2Settings) -> Iterator[Sip2Backend]:
    with Sip2Backend(settings) as b:
        yield b
