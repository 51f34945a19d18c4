"""1,000 SIGKILLs of a borrowing kiosk (online and offline), then one sync: nothing lost or doubled.

Run: .venv/bin/python bench/crash_soak.py [--cycles 1000] [--seed 1]
Prints the harness's JSON report on the last line (problems must be empty).
"""

from __future__ import annotations

import sys

from kiosk.testing.crash import main

if __name__ == "__main__":
    args = sys.argv[1:] or ["--cycles", "1000"]
    raise SystemExit(main(args))
