"""Fixtures for the SIP2 tests: pysip2's server with a small library, and our settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sip2_library_acs import RunningAcs, settings_for

from kiosk.backends.sip2 import Sip2Backend, Sip2Settings


@pytest.fixture
def acs() -> Iterator[RunningAcs]:
    with RunningAcs() as running:
        yield running


@pytest.fixture
def settings(acs: RunningAcs) -> Sip2Settings:
    return settings_for(acs.port)


@pytest.fixture
def backend(settings: Sip2Settings) -> Iterator[Sip2Backend]:
    with Sip2Backend(settings) as b:
        yield b
