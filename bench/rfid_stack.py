"""How long a returned stack of 10 items takes from 'placed on the pad' to
'every tag decoded and secured', through the real FEIG driver talking to the
simulated reader over a pseudo-terminal (serial framing, CRCs, anticollision
paging with 8 tags per reply, read-back verification of AFI and EAS).

Run: .venv/bin/python bench/rfid_stack.py
The last line is one JSON object: {"stack10_ms": median, ...}. A single tag is
measured in the same run for scale. The radio's own air time is not simulated,
so this is the software and serial-protocol cost a real reader adds to.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.rfid import RfidPad
from drivers.rfid_sim import SimRfidReader, SimTag

RUNS = 20
ISIL = "NL-AmRBL"


def one_run(sim: SimRfidReader, count: int) -> float:
    sim.clear()
    tags = [SimTag.library_item(f"39000{i:05d}", ISIL, secured=False,
                                reversed_blocks=i % 2 == 1) for i in range(count)]
    pad = RfidPad(sim.open_reader(timeout=1.0), library_isils=[ISIL])
    try:
        started = time.perf_counter()
        sim.place(*tags)
        seen = pad.poll_once()
        if len(seen) != count or any(not t.item_id for t in seen):
            raise SystemExit(f"decoded {len(seen)} of {count} tags")
        if not all(pad.set_secured(t.uid, True) for t in seen):
            raise SystemExit("a tag could not be secured")
        elapsed = time.perf_counter() - started
    finally:
        pad.close()
    if any(sim.tag(t.uid).afi != 0x07 for t in tags):
        raise SystemExit("AFI not secured on the simulated tags")
    return elapsed * 1000


def main() -> None:
    with SimRfidReader() as sim:
        one_run(sim, 10)  # warm-up: imports, pty buffers
        stack = [one_run(sim, 10) for _ in range(RUNS)]
        single = [one_run(sim, 1) for _ in range(RUNS)]
    stack10 = statistics.median(stack)
    stack1 = statistics.median(single)
    print(f"10-tag stack, decoded and secured: median {stack10:.1f} ms "
          f"(min {min(stack):.1f}, max {max(stack):.1f}) over {RUNS} runs")
    print(f"1 tag, same path:                  median {stack1:.1f} ms")
    print(f"per tag in the stack:              {stack10 / 10:.2f} ms")
    print(json.dumps({"stack10_ms": round(stack10, 2), "stack1_ms": round(stack1, 2),
                      "stack10_over_stack1": round(stack10 / stack1, 2), "runs": RUNS}))


if __name__ == "__main__":
    main()
