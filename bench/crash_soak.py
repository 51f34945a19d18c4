"""1,000 SIGKILLs of a borrowing kiosk (online and offline), then one sync: nothing lost or doubled.

Run: .venv/bin/python bench/crash_soak.py [--backend rest|sip2] [--cycles 1000] [--seed 1]
Prints the harness's JSON report on the last line (problems must be empty). `--backend rest`
(the default) runs against the reference service; `--backend sip2` against pysip2's SIP2 server,
where exactly-once rests on reading the library back (tests/sip2/sip2_crash_world.py).
"""

from __future__ import annotations

import argparse
import sys
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--backend", choices=("rest", "sip2"), default="rest")
    known, rest = parser.parse_known_args()
    if not any(arg.split("=")[0] == "--cycles" for arg in rest):
        rest = ["--cycles", "1000", *rest]
    raise SystemExit(main(rest, world=world_for(known.backend)))
