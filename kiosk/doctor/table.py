"""The doctor's table: one row per check, its result and the technician's next step."""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from domain.privacy import scrub

GUIDE = "docs/raspberry-pi.md"


class Level(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    level: Level
    result: str
    advice: str = ""


# ---- the table -------------------------------------------------------------------------------


def render(rows: Iterable[Row], width: int = 100) -> str:
    rows = list(rows)
    check_w = min(28, max((len(r.check) for r in rows), default=5))
    left = check_w + 2 + 5 + 2
    rest = max(30, width - left)
    result_w = rest // 2
    advice_w = rest - result_w - 2
    lines = [f"{'check':{check_w}}  {'':5}  {'result':{result_w}}  what to do",
             "-" * min(width, left + rest)]
    for r in rows:
        result = textwrap.wrap(r.result, result_w) or [""]
        advice = textwrap.wrap(r.advice, advice_w) or [""]
        for i in range(max(len(result), len(advice))):
            name = r.check[:check_w] if i == 0 else ""
            mark = r.level.value if i == 0 else ""
            res = result[i] if i < len(result) else ""
            adv = advice[i] if i < len(advice) else ""
            lines.append(f"{name:{check_w}}  {mark:5}  {res:{result_w}}  {adv}".rstrip())
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    failed = sum(r.level is Level.FAIL for r in rows)
    warned = sum(r.level is Level.WARN for r in rows)
    if failed:
        return f"{failed} check(s) failed, {warned} warning(s): fix the FAIL rows, top first."
    if warned:
        return f"All checks passed with {warned} warning(s)."
    return "All checks passed."




def short(exc: BaseException) -> str:
    """An error as one scrubbed line of a row."""
    text = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return text[:160]
