"""The kiosk must run (demo mode, other drivers) on a machine without pyscard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCK_PYSCARD = """
import sys
sys.modules["smartcard"] = None  # makes `import smartcard` raise ImportError
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_PYSCARD + code],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_card_modules_import_and_the_sim_works_without_pyscard() -> None:
    result = run(
        "import queue\n"
        "from drivers.cards_sim import SimCardReader\n"
        "import drivers.cards, drivers.eid\n"
        "q = queue.Queue()\n"
        "SimCardReader(q).present_eid('85073003328', 'Anaïs')\n"
        "print(q.get_nowait().display_name)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Anaïs"


def test_real_reader_without_pyscard_is_a_named_error() -> None:
    result = run(
        "import queue\n"
        "from drivers.cards import PcscCardReader, PcscNotInstalled\n"
        "try:\n"
        "    PcscCardReader(queue.Queue())\n"
        "except PcscNotInstalled as exc:\n"
        "    print('named:', exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "named: pyscard is not installed" in result.stdout
