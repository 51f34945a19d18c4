"""The SMTP relay fixture (tests/mail/smtp_relay.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_relay import Relay, running_relay


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    with running_relay(tmp_path) as r:
        yield r
