"""SIGKILL a borrowing kiosk over SIP2, online and offline: nothing lost, nothing doubled.

SIP2 has no idempotency key, so this is where exactly-once rests on the journal's read-backs
and VOIDs (see tests/sip2/sip2_crash_world.py for what is checked). Its own process, like the
REST run: forking from the test runner (with its threads) would not be fair.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CYCLES = 200


def test_no_loan_is_lost_or_doubled_over_sip2_across_200_kills(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("sip2_crash_world.py")),
         "--cycles", str(CYCLES), "--seed", "7", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=240,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert result.returncode == 0
    assert report["kills"] == CYCLES
    # the run really exercised both paths, interrupted work in flight, and some of that work
    # reached the library untold (phantoms, undone by their VOIDs or left as the cut step made it)
    assert report["told_ok"] > 1000
    assert report["offline_told"] > 200
    assert report["told_ok"] - report["offline_told"] > 200
    assert report["in_flight_at_kill"] > 20
    assert report["phantoms"] >= 5
