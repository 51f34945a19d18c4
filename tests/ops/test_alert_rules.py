"""The Prometheus alert rules in ops/ are valid and do what their tests say, checked by
promtool itself (Debian's prometheus package), and they only name metrics the service or the
kiosk really exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

OPS = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
RULES = OPS / "kiosk-alerts.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=OPS, capture_output=True, text=True,
                          timeout=60)


def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = _promtool("test", "rules", "kiosk-alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_and_a_severity() -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    tests = yaml.safe_load((OPS / "kiosk-alerts.test.yml").read_text())["tests"]
    tested = {t["alertname"] for test in tests for t in test.get("alert_rule_test", [])}
    untested = {r["alert"] for r in rules} - tested
    assert not untested, f"alerts without a promtool test: {untested}"
    assert all(r["labels"]["severity"] in ("info", "warning", "critical") for r in rules)


def missing_metrics(expr: str) -> list[str]:
    """The metric names in a PromQL expression that neither the service nor the kiosk
    exports (a counter `x` is exported as `x_total`, a histogram as `x_bucket` ...)."""
    from central import metrics as central_metrics
    from kiosk import metrics as kiosk_metrics

    exported = "\n".join(Path(str(m.__file__)).read_text()
                         for m in (central_metrics, kiosk_metrics))
    names = re.findall(r"\b((?:central|kiosk)_[a-z_]+)\b", expr)
    return [name for name in names
            if not {f'"{name}"', f'"{re.sub(r"_(bucket|total|count|sum)$", "", name)}"'}
            & {q for q in re.findall(r'"[a-z_]+"', exported)}]


def test_the_rules_name_only_metrics_that_exist() -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        assert not missing_metrics(rule["expr"]), rule["alert"]


def test_the_grafana_dashboard_is_whole() -> None:
    """What Grafana needs to import it: unique panel ids, panels on the 24-column grid without
    overlapping, a Prometheus query per target naming metrics that exist, the data source
    chosen at import (a variable, not one library's uid)."""
    board = json.loads((OPS.parent / "grafana" / "kiosk-fleet.json").read_text())
    panels = board["panels"]
    assert board["uid"] and board["title"] and len(panels) >= 10
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        for target in p["targets"]:
            assert target["refId"] and target["expr"], p["title"]
            assert not missing_metrics(target["expr"]), p["title"]
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
