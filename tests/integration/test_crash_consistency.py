"""SIGKILL a borrowing kiosk 200 times, online and offline: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import subprocess
import sys


def test_no_loan_is_lost_or_doubled_across_200_kills(tmp_path):
    # its own process: forking from the test runner (with its threads) would not be fair
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.testing.crash", "--cycles", "200", "--seed", "7",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=240,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert result.returncode == 0
    assert report["kills"] == 200
    # the run really exercised both paths and really interrupted work in flight
    assert report["told_ok"] > 200
    assert report["offline_told"] > 20
    assert report["told_ok"] - report["offline_told"] > 20
    assert report["in_flight_at_kill"] > 20
