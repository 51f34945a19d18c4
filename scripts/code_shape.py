"""Measure the code's shape: the figures the composition-root redesign is judged by.

Run `python scripts/code_shape.py` from the repository root; the last line is one JSON object.
What it counts, and why each matters to a newcomer changing the code:

- `wiring_places`: files outside the composition root (`kiosk/app.py`) that open devices, start
  a second event queue or pump, or assemble journal + circulation + sync by hand. Each is a
  place a new capability must also be plugged into.
- `any_kiosk_settings_params`: parameters named kiosk/settings/app typed `Any`, i.e. seams that
  the type checker cannot see through.
- `package_rings`: pairs of top-level packages (kiosk, drivers, central, domain) importing each
  other.
- `long_functions`: functions over 60 lines (tables declared as data are not functions).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

PACKAGES = ("kiosk", "drivers", "central", "domain")
ROOT_FILE = "kiosk/app.py"
LIMIT = 60
# hand wiring: opening the device bundle and plugging it into a core, or pumping one queue
# into another
_DEVICES = re.compile(r"\bdevices(?:_mod)?\.build\(|\bbuild_devices\(|extras\[\"devices\"\]\s*=|"
                      r"session\._(?:security|print)\s*=|sink\.get\(timeout")
# a whole kiosk core (circulation + sync + session) assembled by hand
_CORE = (re.compile(r"\bCirculationService\("), re.compile(r"\bSyncWorker\("),
         re.compile(r"\bSession\("))
_ANY_PARAM = re.compile(r"\b(kiosk|settings|app)\s*:\s*Any\b")


def _sources(top: Path, dirs: tuple[str, ...]) -> list[Path]:
    return sorted(p for d in dirs for p in (top / d).rglob("*.py") if ".venv" not in p.parts)


def wiring_places(top: Path) -> list[str]:
    found = []
    for path in _sources(top, (*PACKAGES, "tests", "bench")):
        rel = path.relative_to(top).as_posix()
        if rel == ROOT_FILE:
            continue
        text = path.read_text(encoding="utf-8")
        if _DEVICES.search(text) or all(p.search(text) for p in _CORE):
            found.append(rel)
    return found


def any_params(top: Path) -> list[str]:
    hits = []
    for path in _sources(top, PACKAGES):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _ANY_PARAM.search(line):
                hits.append(f"{path.relative_to(top).as_posix()}:{n}")
    return hits


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def package_edges(top: Path) -> dict[str, list[str]]:
    edges: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for package in PACKAGES:
        for path in _sources(top, (package,)):
            if "testing" in path.parts:  # test tools may use every package
                continue
            edges[package] |= (_imports(path) & set(PACKAGES)) - {package}
    return {k: sorted(v) for k, v in edges.items()}


def rings(edges: dict[str, list[str]]) -> list[str]:
    return sorted(f"{a}<->{b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, []))


def long_functions(top: Path) -> list[str]:
    found = []
    for path in _sources(top, (*PACKAGES, "bench", "tests", "scripts")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LIMIT:
                    found.append(f"{path.relative_to(top).as_posix()}:{node.name}:{length}")
    return sorted(found, key=lambda s: -int(s.rsplit(":", 1)[1]))


def main() -> int:
    top = Path.cwd()
    edges = package_edges(top)
    report = {
        "wiring_places": wiring_places(top),
        "any_kiosk_settings_params": any_params(top),
        "package_imports": edges,
        "package_rings": rings(edges),
        "long_functions": long_functions(top),
    }
    for key, value in report.items():
        print(f"{key}: {json.dumps(value)}")
    summary = {k: len(v) for k, v in report.items() if isinstance(v, list)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
