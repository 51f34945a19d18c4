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


def test_no_loan_is_lost_or_doubled_with_the_journal_disk_nearly_full(tmp_path):
    """The journal on a 16 MB file system of its own with half a megabyte left (too little
    for the whole reserve or the offline margin): 100 kills, then one sync."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], check=True)
    try:
        with open(disk / "filler", "wb") as f:
            f.write(b"\0" * (16 * 1024 * 1024 - 512 * 1024))
        result = subprocess.run(
            [sys.executable, "-m", "kiosk.testing.crash", "--cycles", "100", "--seed", "11",
             "--workdir", str(tmp_path / "work"), "--journal-dir", str(disk)],
            capture_output=True, text=True, timeout=240,
        )
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert report["told_ok"] > 100  # it kept lending online on the nearly full disk
    assert report["in_flight_at_kill"] > 5
