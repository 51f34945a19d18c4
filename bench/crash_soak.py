"""1,000 SIGKILLs of a borrowing kiosk (online and offline), then one sync: nothing lost or doubled.

Run: .venv/bin/python bench/crash_soak.py [--backend rest|sip2] [--cycles 1000] [--seed 1]
                                          [--nearly-full-disk]
Prints the harness's JSON report on the last line (problems must be empty). `--backend rest`
(the default) runs against the reference service; `--backend sip2` against pysip2's SIP2 server,
where exactly-once rests on reading the library back (tests/sip2/sip2_crash_world.py).
`--nearly-full-disk` (root) puts the kiosk's journal on a 16 MB tmpfs of its own, filled so
that only a little more than the journal's reserve and offline margin (`min_free_mb`) is
left: offline loans are refused once the margin is reached, online ones go on.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kiosk.testing.crash import CrashWorld, main

ROOT = Path(__file__).resolve().parents[1]


def world_for(backend: str) -> CrashWorld | None:
    """The harness's world for `backend` (None: its default, REST)."""
    if backend == "rest":
        return None
    sys.path.insert(0, str(ROOT / "tests" / "sip2"))  # the SIP2 world lives with its ACS
    from sip2_crash_world import Sip2World

    return Sip2World()


@contextlib.contextmanager
def nearly_full_disk(leave_mb: float = 7.25) -> Iterator[Path]:
    """A 16 MB tmpfs with `leave_mb` free: room for the 2 MB reserve and the 5 MB margin."""
    with tempfile.TemporaryDirectory(prefix="kiosk-small-disk-") as tmp:
        mount = Path(tmp)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", tmp], check=True)
        try:
            with open(mount / "filler", "wb") as f:
                while shutil.disk_usage(mount).free > leave_mb * 1024 * 1024 + 65536:
                    f.write(b"\0" * 65536)
                    f.flush()
            yield mount
        finally:
            subprocess.run(["umount", tmp], check=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--backend", choices=("rest", "sip2"), default="rest")
    parser.add_argument("--nearly-full-disk", action="store_true")
    parser.add_argument("--leave-mb", type=float, default=7.25,
                        help="with --nearly-full-disk: how much room is left")
    known, rest = parser.parse_known_args()
    if not any(arg.split("=")[0] == "--cycles" for arg in rest):
        rest = ["--cycles", "1000", *rest]
    if not known.nearly_full_disk:
        raise SystemExit(main(rest, world=world_for(known.backend)))
    with nearly_full_disk(known.leave_mb) as disk:
        raise SystemExit(main([*rest, "--journal-dir", str(disk)],
                              world=world_for(known.backend)))
