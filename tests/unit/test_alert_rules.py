"""The shipped Prometheus rules (alert_rules/): generated from the daemon's rule table, complete,
documented, valid for the real promtool, and tested by promtool on the scenario table.

`promtool` is the Debian binary installed by scripts/bootstrap (/usr/bin/promtool, 2.42); these
tests fail, never skip, without it.
"""

from __future__ import annotations

import functools
import itertools
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from cdc_watch.exporter.catalogue import BY_NAME as METRICS
from cdc_watch.rules import table as rules
from generate import alert_rules, promtool_tests
from generate.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "alert_rules"
TESTS_DIR = RULES_DIR / "tests"
SHIPPED = RULES_DIR / "cdc-watch.rules.yml"
PROMTOOL = "/usr/bin/promtool"
RUNBOOK = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
METRIC = re.compile(r"\b(cdc_[a-z0-9_]+|up)\b(?!\s*\()")
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def seconds(text: str) -> int:
    match = DURATION.match(text)
    assert match and text, text
    h, m, s = (int(x) if x else 0 for x in match.groups())
    return h * 3600 + m * 60 + s


def shipped_rules() -> list[dict]:
    content = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return [rule for group in content["groups"] for rule in group["rules"]]


# --------------------------------------------------------------------------- generated == committed


def test_rule_file_is_generated_from_the_daemon_rules():
    assert SHIPPED.read_text(encoding="utf-8") == alert_rules.render(), "run: generate/alert_rules.py"


def test_promtool_tests_are_generated_from_the_scenario_table():
    wanted = promtool_tests.files()
    for path, text in wanted.items():
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run generate/promtool_tests.py"
        )
    assert set(TESTS_DIR.glob("*.yml")) == set(wanted), "stray file in alert_rules/tests/"


def test_kubernetes_prometheusrule_carries_these_rules():
    manifest = yaml.safe_load(
        (REPO / "deploy" / "kubernetes" / "base" / "prometheusrule.yaml").read_text(encoding="utf-8")
    )
    assert manifest["spec"]["groups"] == yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["groups"]


# --------------------------------------------------------------------------- content


def test_health_group_is_the_daemon_rule_table():
    content = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    health = {g["name"]: g for g in content["groups"]}["cdc-watch-health"]
    cfg = rules.RulesConfig()
    wanted = [name for r in rules.RULES for name in [r.name] * (2 if rules.promql_now(r, cfg) else 1)]
    assert [r["alert"] for r in health["rules"]] == wanted
    for shipped in health["rules"]:
        rule = rules.BY_NAME[shipped["alert"]]
        if shipped["for"] == "0s" and rules.promql_now(rule, cfg):  # the fast twin: pages at once
            assert rules.promql_now(rule, cfg) in shipped["expr"]
            continue
        assert seconds(shipped["for"]) == rule.default_for
        assert shipped["labels"]["severity"] == str(rule.severity)
        assert rules.promql(rule, rules.RulesConfig()) in shipped["expr"]
        # the Prometheus alert carries exactly the daemon alert's labels
        assert shipped["expr"].startswith(f"max by ({', '.join(rule.labels)}) (")


@pytest.mark.parametrize("rule", shipped_rules(), ids=lambda r: r["alert"])
def test_every_alert_is_documented_and_named_by_the_house_rules(rule):
    assert re.fullmatch(r"Cdc[A-Z][A-Za-z]+", rule["alert"])
    assert rule["labels"]["severity"] in ("critical", "warning", "info")
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["summary"] and "{{" not in annotations["summary"], "summary must be static"
    assert "{{ $labels." in annotations["description"], "description must name what it is about"
    carried = re.match(r"max by \(([a-z_, ]+)\) \(", rule["expr"])
    assert carried, "the expression must aggregate to the alert's labels"
    for label in re.findall(r"\{\{ \$labels\.(\w+) \}\}", annotations["description"]):
        assert label in carried.group(1).split(", "), f"description uses {label}, which the alert does not carry"
    anchor = annotations["runbook_url"].rsplit("#", 1)[1]
    assert annotations["runbook_url"].startswith("https://") and f'<a id="{anchor}"></a>' in RUNBOOK


@pytest.mark.parametrize("rule", shipped_rules(), ids=lambda r: r["alert"])
def test_every_metric_in_every_expression_is_in_the_catalogue(rule):
    names = set(METRIC.findall(rule["expr"]))
    assert names, rule["expr"]
    names -= {"up"}  # CdcWatchDown: Prometheus's own series for the scrape job
    assert names <= set(METRICS), names - set(METRICS)


def test_every_scenario_is_tested_by_promtool_and_differences_are_explained():
    gen = promtool_tests
    text = "\n".join(p.read_text(encoding="utf-8") for p in TESTS_DIR.glob("*.test.yml")).replace("\n# ", " ")
    for scenario in SCENARIOS:
        assert f" scenario {scenario.name}" in text, f"{scenario.name} has no promtool test"
    names = {s.name for s in SCENARIOS}
    for name, (reason, _) in gen.PROMETHEUS_DIFFERS.items():
        assert name in names and len(reason) > 40, name
        assert f" scenario {name} -- differs from the daemon on purpose:" in text


# --------------------------------------------------------------------------- promtool


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=300)


def test_promtool_check_rules():
    files = [SHIPPED, *sorted(TESTS_DIR.glob("*.rules.yml"))]
    result = _promtool("check", "rules", "--lint=none", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(shipped_rules())} rules found" in result.stdout
    # The only "duplicates" are the fast twins (same alert, `for: 0s`, disjoint expressions).
    linted = _promtool("check", "rules", str(SHIPPED))
    twins = {r["alert"] for r in shipped_rules() if [s["alert"] for s in shipped_rules()].count(r["alert"]) > 1}
    assert set(re.findall(r"Metric: (\w+)", linted.stdout + linted.stderr)) == twins


def test_promtool_test_rules():
    # One process per file, run side by side: the hour-long scenarios dominate.
    files = sorted(TESTS_DIR.glob("*.test.yml"))
    running = [
        (
            path,
            subprocess.Popen(
                [PROMTOOL, "test", "rules", path.name],
                cwd=TESTS_DIR,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
        for path in files
    ]
    failures = []
    for path, process in running:
        output, _ = process.communicate(timeout=300)
        if process.returncode != 0 or "SUCCESS" not in output:
            failures.append(f"{path.name}:\n{output[-4000:]}")
    assert not failures, "\n".join(failures)


@functools.lru_cache(maxsize=1)
def _checks() -> list[tuple[int, dict[str, list[tuple[int, bool]]]]]:
    """Per promtool test group: (evaluation interval, alert -> [(eval time, firing?)])."""
    out = []
    for path in TESTS_DIR.glob("*.test.yml"):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        every = seconds(content["evaluation_interval"])
        for group in content["tests"]:
            by_alert: dict[str, list[tuple[int, bool]]] = {}
            for check in group.get("alert_rule_test", []):
                by_alert.setdefault(check["alertname"], []).append(
                    (seconds(check["eval_time"]), bool(check["exp_alerts"]))
                )
            out.append((every, by_alert))
    return out


@pytest.mark.parametrize("rule", shipped_rules(), ids=lambda r: r["alert"])
def test_promtool_tests_cover_both_sides_of_every_for(rule):
    """Some test expects the alert not firing at t and firing one evaluation later: the last
    moment of its `for` and the first after it. Alerts without `for` must fire in some test."""
    fires = both_sides = False
    for every, by_alert in _checks():
        points = sorted(by_alert.get(rule["alert"], []))
        fires |= any(firing for _, firing in points)
        for (t1, firing1), (t2, firing2) in itertools.pairwise(points):
            both_sides |= not firing1 and firing2 and t2 - t1 <= every
    assert fires, f"no promtool test fires {rule['alert']}"
    if seconds(rule["for"]) > 0:
        assert both_sides, f"no promtool test checks both sides of the `for` of {rule['alert']}"
