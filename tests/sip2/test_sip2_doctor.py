"""The doctor's rows against pysip2's server: what a technician reads."""

from __future__ import annotations

import socket

from sip2_library_acs import RunningAcs, settings_for

from kiosk.backends.sip2.doctor import CheckRow, check_connection


def by_check(rows: list[CheckRow]) -> dict[str, CheckRow]:
    return {row.check: row for row in rows}


def test_healthy_server(acs: RunningAcs) -> None:
    rows = by_check(check_connection(settings_for(acs.port)))
    assert rows[f"Connect to 127.0.0.1:{acs.port}"].result == "ok"
    assert rows["Login (93)"].result == "accepted"
    status = rows["Server status (98)"]
    assert status.ok and "online yes" in status.result and "'Test Library'" in status.result
    assert rows["Supports checkout (11)"].result == "yes"
    assert rows["Supports patron information (63)"].ok
    block = rows["Supports block patron (01)"]  # not handled by our test ACS, not needed
    assert (block.result, block.ok) == ("no", True)
    assert rows["Server clock"].ok


def test_missing_message_explains_the_consequence() -> None:
    with RunningAcs(without=("29",)) as acs:  # a server without renew
        rows = by_check(check_connection(settings_for(acs.port)))
    renew = rows["Supports renew (29)"]
    assert (renew.result, renew.ok) == ("no", False)
    assert renew.advice == "Without it patrons cannot renew."


def test_wrong_password_stops_at_login(acs: RunningAcs) -> None:
    rows = check_connection(settings_for(acs.port, login_password="nope"))
    assert rows[-1].check == "Login (93)" and not rows[-1].ok
    assert "login_password" in rows[-1].advice
    assert "nope" not in " ".join(r.result + r.advice for r in rows)


def test_nothing_listening_stops_at_connect() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [row] = check_connection(settings_for(port))
    assert not row.ok and "refused" in row.result.lower()
    assert "firewall" in row.advice
