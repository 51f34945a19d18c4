"""SIGKILL a borrowing kiosk 200 times, online and offline: nothing lost, nothing doubled."""

from __future__ import annotations

from kiosk.testing import crash


def test_no_loan_is_lost_or_doubled_across_200_kills(tmp_path):
    report = crash.run(tmp_path, cycles=200, seed=7)
    assert report.problems == []
    assert report.kills == 200
    # the run really exercised both paths and really interrupted work in flight
    assert report.told_ok > 200
    assert report.offline_told > 20
    assert report.told_ok - report.offline_told > 20
    assert report.in_flight_at_kill > 20
