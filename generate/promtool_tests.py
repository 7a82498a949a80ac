"""Generate promtool rule tests (alert_rules/tests/) from the alert scenario table.

The scenario table (generate/scenarios.py) drives the daemon's own rule tests
(tests/unit/test_rules.py). Here the same scenarios drive the shipped Prometheus rules:

1. every step's input state becomes a real Snapshot, built with the builders the daemon's tests
   use (generate/snapshots.py), with the scenario starting at Unix time 0 (promtool's clock);
2. the real exporter renders it (`cdc_watch.exporter.render` with the daemon's metric
   contributors) and the exposition is parsed back into samples;
3. the samples become promtool `input_series` sampled every second, as a 1s scrape would see
   them: a value holds until the next step, and a series the exporter stops emitting gets a
   staleness marker (`stale`) and then no samples (`_`), exactly like a real scrape;
4. every step becomes `alert_rule_test` entries at the step's time, one per alert of the rule
   file, listing the alerts the scenario expects firing with their labels and annotations as
   Prometheus renders them (an empty list asserts the alert is not firing).

Scenarios whose semantics differ on purpose between the daemon and Prometheus are listed in
PROMETHEUS_DIFFERS with the reason and the firing sets Prometheus produces instead; they are
tested with those, never dropped. Scenarios with their own `alerting.rules` config get a rule
file generated from that config (alert_rules/tests/<scenario>.rules.yml).

The rules about cdc_watch itself (generate/alert_rules.py SELF_RULES) are tested by
SELF_TESTS below, which also cover both sides of each `for`.

    .venv/bin/python generate/promtool_tests.py           # rewrite alert_rules/tests/
    .venv/bin/python generate/promtool_tests.py --check   # exit 1 if anything is stale
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.config import AlertingConfig, Config, RulesConfig
from cdc_watch.exporter.canary import canary_metrics
from cdc_watch.exporter.connect import connect_metrics
from cdc_watch.exporter.jolokia import jolokia_metrics
from cdc_watch.exporter.mysql import mysql_metrics
from cdc_watch.exporter.render import (
    ConfigStatus,
    Contributor,
    config_metrics,
    render,
    self_metrics,
)
from cdc_watch.exporter.schema_history import schema_history_metrics
from cdc_watch.rules import table as rules
from generate import alert_rules as GEN
from generate.scenarios import SCENARIOS, Scenario, key
from generate.snapshots import full_snapshot

REPO = Path(__file__).resolve().parent.parent

TESTS_DIR = REPO / "alert_rules" / "tests"
RULE_FILE = REPO / "alert_rules" / "cdc-watch.rules.yml"
SCENARIO_TESTS = TESTS_DIR / "scenarios.test.yml"
SELF_TESTS_FILE = TESTS_DIR / "self.test.yml"
# What a scrape adds to every series; the shipped rules aggregate them away.
TARGET_LABELS = (("instance", "cdc-watch:10108"), ("job", "cdc-watch"))


Firing = frozenset

# --------------------------------------------------------------------------- intended differences

_TASK = key("CdcTaskFailed", connect_cluster="prod", connector="orders", task=0)
_UNREACHABLE = key("CdcConnectUnreachable", connect_cluster="prod")
_LOST = key("CdcBinlogPositionLost", connect_cluster="prod", connector="orders", database="db1")
_NOT_STREAMING = key("CdcNotStreaming", connect_cluster="prod", connector="orders")
_DB_DOWN = key("CdcSourceUnreadable", source="mysql:db1")
_JOLOKIA_DOWN = key("CdcSourceUnreadable", source="jolokia:prod")
_KAFKA_DOWN = key("CdcSourceUnreadable", source="kafka:prod")

# scenario name -> (reason, {step time: the firing set Prometheus produces there})
PROMETHEUS_DIFFERS: dict[str, tuple[str, dict[float, frozenset]]] = {
    "unreadable_cluster_holds_alerts_instead_of_resolving_them": (
        "While Connect is unreadable the exporter stops emitting the task's series, so Prometheus "
        "resolves CdcTaskFailed keep_firing_for (1m) later, where the daemon holds it. "
        "CdcConnectUnreachable fires and resolves the same way in both.",
        {75: Firing({_TASK}), 400: Firing({_UNREACHABLE}), 415: Firing({_UNREACHABLE})},
    ),
    "connector_missing_from_one_reply_is_not_resolved_at_once": (
        "Prometheus resolves an alert whose series vanished after keep_firing_for (1m); the daemon "
        "waits vanished_after (5m) before it believes a connector is gone.",
        {404: Firing()},
    ),
    "binlog_position_unknown_holds_instead_of_resolving": (
        "With no known position the exporter emits no cdc_connector_binlog_status, so Prometheus "
        "resolves CdcBinlogPositionLost keep_firing_for (1m) later; the daemon holds it.",
        {400: Firing()},
    ),
    "database_unreadable_holds_binlog_alerts": (
        "While the database is unreadable the exporter emits no binlog series, so Prometheus "
        "resolves CdcBinlogPositionLost keep_firing_for (1m) later; the daemon holds it.",
        {195: Firing({_DB_DOWN})},
    ),
    "connector_deleted_while_firing_resolves_at_the_next_poll": (
        "The daemon resolves the alerts of a connector Connect confirmed deleted at once; Prometheus "
        "only sees the series vanish and resolves keep_firing_for (1m) later.",
        {75: Firing({_TASK}), 90: Firing({_TASK})},
    ),
    "not_streaming_position_still_while_head_moves": (
        "Prometheus starts the `for` at the first scrape showing the lag (30s); the daemon at the "
        "first Jolokia reading taken after the database reading that showed the head past the "
        "position (45s), so Prometheus fires 15s earlier.",
        {164: Firing({_NOT_STREAMING})},
    ),
    "schema_history_topic_unsafe_fires_then_holds_while_kafka_is_unreadable": (
        "While Kafka is unreadable the exporter emits no schema history series, so Prometheus "
        "resolves CdcSchemaHistoryTopicUnsafe keep_firing_for (1m) after the outage began and, "
        "when Kafka answers again with the topic still unsafe, waits a new `for`; the daemon holds it.",
        {749: Firing(), 750: Firing({_KAFKA_DOWN}), 765: Firing({_KAFKA_DOWN}), 825: Firing()},
    ),
    "schema_history_topic_unknown_setting_holds": (
        "A check the broker does not report exports no sample and the remaining ones pass, so "
        "Prometheus resolves CdcSchemaHistoryTopicUnsafe keep_firing_for (1m) later; the daemon "
        "holds it until the check can be judged.",
        {690: Firing(), 705: Firing()},
    ),
    "jolokia_unreadable_holds_not_streaming": (
        "While Jolokia is unreadable the exporter emits no Debezium series, so Prometheus resolves "
        "CdcNotStreaming keep_firing_for (1m) later; the daemon holds it.",
        {255: Firing({_JOLOKIA_DOWN})},
    ),
}


# scenario name -> {time: firing set}: extra checks between the scenario's steps, where the
# scenario has no step at the last second of a `for` (the state there is the previous step's).
EXTRA_CHECKS: dict[str, dict[float, frozenset]] = {
    "privilege_missing": {59: Firing()},  # pending since 0, `for` 1m: fires at 60, not at 59
}


# --------------------------------------------------------------------------- rendering


def contributors() -> Sequence[Contributor]:
    """The daemon's metric contributors (cdc_watch.app.App.contributors) over a snapshot.

    The alerting and remediation contributors export the daemon's own runtime state (firing
    alerts, deliveries, restarts), not inputs of the health rules, so they are left out here;
    the self rules that read them are tested by SELF_TESTS.
    """
    config = Config.model_validate(
        {
            "connect_clusters": [
                {"name": "prod", "urls": ["http://w1:8083"], "jolokia": {"urls": ["http://w1:8778/jolokia"]}}
            ]
        }
    )
    return (
        self_metrics,
        config_metrics(lambda: ConfigStatus(last_reload_ok=True, loaded_at=0.0)),
        connect_metrics,
        jolokia_metrics(lambda: config),
        mysql_metrics,
        canary_metrics,
        schema_history_metrics,
    )


SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


def samples_at(
    scenario: Scenario, step_index: int, at: float, contribs: Sequence[Contributor]
) -> dict[SeriesKey, float]:
    """What a scrape at `at` returns while the step's state holds (the daemon keeps polling: each
    poll sees the same state, so poll timestamps move on while the state does not)."""
    step = scenario.steps[step_index]
    snapshot = full_snapshot(step, scenario.sources, at, 0.0)
    text = render(snapshot, contribs).decode("utf-8")
    out: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            merged = {**dict(sample.labels), **dict(TARGET_LABELS)}
            if "python_version" in merged:  # cdc_build_info: no rule reads it, and the files must not
                merged["python_version"] = "any"  # differ with the interpreter that generated them
            labels = tuple(sorted(merged.items()))
            out[(sample.name, labels)] = float(sample.value)
    return out


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"  # e.g. a purge ETA of "never"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _int(value: float | str | None) -> int | None:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return None


def encode(values: Sequence[float | str | None]) -> str:
    """Per-second values (None = no sample, "stale" = staleness marker) in promtool notation:
    `vxN` for a value held N more seconds, `a+dxN` / `a-dxN` for integers moving by d each second
    (poll timestamps), `_xN` for no samples, `stale` for a staleness marker."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        value = values[i]
        j = i
        while j + 1 < len(values) and values[j + 1] == value and value != "stale":
            j += 1
        start, following = _int(value), _int(values[i + 1]) if i + 1 < len(values) else None
        if j == i and start is not None and following is not None:
            delta = following - start
            j = i + 1
            while j + 1 < len(values):
                here, there = _int(values[j]), _int(values[j + 1])
                if here is None or there is None or there - here != delta:
                    break
                j += 1
            sign = "+" if delta >= 0 else "-"
            parts.append(f"{start}{sign}{abs(delta)}x{j - i}")
            i = j + 1
            continue
        token = "stale" if value == "stale" else "_" if value is None else _fmt(float(value))
        if token.endswith("Inf") and j > i:
            token += "+0"  # promtool reads "Infx3" as one identifier
        # promtool: "axN" is N+1 samples, but "_xN" is N missing ones
        parts.append(token if j == i else f"{token}x{j - i + 1}" if token == "_" else f"{token}x{j - i}")
        i = j + 1
    return " ".join(parts)


def series_selector(name: str, labels: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels)
    return f"{name}{{{inner}}}"


def _step_values(
    scenario: Scenario, index: int, first: int, last: int, contribs: Sequence[Contributor]
) -> list[dict[SeriesKey, float]]:
    """Scrapes at every second first..last of one step.

    Rendering every second is exact but slow over hour-long scenarios, so the step is rendered at
    its first, second and last second; when every series is constant or moves by the same amount
    each second (poll timestamps, ETAs) over that span, the seconds between are filled in, else
    every second is rendered.
    """
    a = samples_at(scenario, index, float(first), contribs)
    if last == first:
        return [a]
    b = samples_at(scenario, index, float(first + 1), contribs)
    z = samples_at(scenario, index, float(last), contribs)
    span = last - first
    if a.keys() == b.keys() == z.keys() and all(
        a[k] == b[k] == z[k] or abs(a[k] + (b[k] - a[k]) * span - z[k]) < 1e-6 for k in a
    ):
        return [{k: a[k] if a[k] == b[k] else a[k] + (b[k] - a[k]) * i for k in a} for i in range(span + 1)]
    return [a, b] + [samples_at(scenario, index, float(t), contribs) for t in range(first + 2, last + 1)]


def interval_of(scenario: Scenario) -> int:
    """Scrape and evaluation interval for the scenario: 1s, or up to 15s when every step starts on
    that grid (every default `for` and keep_firing_for is a multiple of 15s, so the alerts change
    at the same times; hour-long scenarios then cost promtool 15 times less)."""
    step = 15
    for s in scenario.steps:
        step = math.gcd(step, int(s.at))
    cfg = RulesConfig.model_validate(scenario.config)
    times = [cfg.keep_firing_for] + [rules.for_of(r, cfg) for r in rules.RULES]
    return step if all(int(t) % step == 0 for t in times) else 1


def input_series(scenario: Scenario, contribs: Sequence[Contributor]) -> list[dict[str, str]]:
    every = interval_of(scenario)
    end = int(scenario.steps[-1].at)
    starts = [int(s.at) for s in scenario.steps]
    per_second: list[dict[SeriesKey, float]] = []
    for index, first in enumerate(starts):
        last = starts[index + 1] - 1 if index + 1 < len(starts) else end
        per_second += _step_values(scenario, index, first, last, contribs)
    keys = sorted({k for samples in per_second for k in samples})
    out = []
    for series in keys:
        values: list[float | str | None] = []
        present_before = False
        for t in range(0, end + 1, every):
            value = per_second[t].get(series)
            if value is None:
                values.append("stale" if present_before else None)
                present_before = False
            else:
                values.append(value)
                present_before = True
        out.append({"series": series_selector(*series), "values": encode(values)})
    return out


def expected_alert(
    alert: str, labels: tuple[tuple[str, str], ...], cfg: RulesConfig, runbook_base: str
) -> dict[str, Any]:
    rule = rules.BY_NAME[alert]
    body = rules.prometheus_rule(rule, cfg, runbook_base)
    description = body["annotations"]["description"]
    for name, value in labels:
        description = description.replace(f"{{{{ $labels.{name} }}}}", value)
    return {
        "exp_labels": {**dict(labels), "severity": body["labels"]["severity"]},
        "exp_annotations": dict(body["annotations"], description=description),
    }


def alert_tests(
    scenario: Scenario, cfg: RulesConfig, runbook_base: str, firing_at: dict[float, frozenset]
) -> list[dict[str, Any]]:
    names = [r.name for r in rules.RULES if rules.enabled(r, cfg)]
    checks = {step.at: firing_at.get(step.at, step.firing) for step in scenario.steps}
    for at, firing in EXTRA_CHECKS.get(scenario.name, {}).items():
        assert at not in checks and 0 < at < scenario.steps[-1].at, (scenario.name, at)
        checks[at] = firing
    out = []
    for at, firing in sorted(checks.items()):
        for alert in names:
            expected = sorted((labels for name, labels in firing if name == alert))
            out.append(
                {
                    "eval_time": f"{int(at)}s",
                    "alertname": alert,
                    "exp_alerts": [expected_alert(alert, labels, cfg, runbook_base) for labels in expected],
                }
            )
    return out


def scenario_group(scenario: Scenario, contribs: Sequence[Contributor], runbook_base: str) -> dict[str, Any]:
    cfg = RulesConfig.model_validate(scenario.config)
    firing_at = PROMETHEUS_DIFFERS.get(scenario.name, ("", {}))[1]
    return {
        "interval": f"{interval_of(scenario)}s",
        "input_series": input_series(scenario, contribs),
        "alert_rule_test": alert_tests(scenario, cfg, runbook_base, firing_at),
    }


# --------------------------------------------------------------------------- self rules

# (test name, input series, [(eval time, alert, [expected labels])]); 1s samples, job cdc-watch.
_UP = 'up{instance="cdc-watch:10108",job="cdc-watch"}'
_SRC = 'cdc_source_{}{{instance="cdc-watch:10108",job="cdc-watch",source="connect:prod"}}'
_NOTE = 'cdc_{}{{channel="slack",instance="cdc-watch:10108",job="cdc-watch"}}'
_RELOAD = 'cdc_config_last_reload_successful{instance="cdc-watch:10108",job="cdc-watch"}'
_TARGET = {"instance": "cdc-watch:10108", "job": "cdc-watch"}
_LEADER = 'cdc_ha_leader{{instance="{}",job="cdc-watch"}}'
_NO_BROKER = 'cdc_ha_role{instance="cdc-watch:10108",job="cdc-watch",role="no_broker"}'
_JOB = {"job": "cdc-watch"}

SELF_TESTS: tuple[tuple[str, list[dict[str, str]], list[tuple[int, str, list[dict[str, str]]]]], ...] = (
    (
        "cdc_watch down: scrape fails from 10s; `for` 2m -> fires at 130s, not at 129s; back at 200s",
        [{"series": _UP, "values": "1x9 0x189 1x100"}],
        [
            (9, "CdcWatchDown", []),
            (129, "CdcWatchDown", []),
            (130, "CdcWatchDown", [_TARGET]),
            (199, "CdcWatchDown", [_TARGET]),
            (200, "CdcWatchDown", []),
        ],
    ),
    (
        "stale data: source up but its last success stops at t=0 (poll stuck); > 600s old at 601s, `for` 1m -> 661s",
        [
            {"series": _SRC.format("up"), "values": "1x700"},
            {"series": _SRC.format("last_success_timestamp_seconds"), "values": "0x700"},
        ],
        [
            (600, "CdcWatchStaleData", []),
            (660, "CdcWatchStaleData", []),
            (661, "CdcWatchStaleData", [{"source": "connect:prod"}]),
        ],
    ),
    (
        "stale data is not raised for a source that is down (CdcSourceUnreadable says so)",
        [
            {"series": _SRC.format("up"), "values": "0x700"},
            {"series": _SRC.format("last_success_timestamp_seconds"), "values": "0x700"},
        ],
        [(700, "CdcWatchStaleData", [])],
    ),
    (
        "stale data is not raised while polls keep succeeding",
        [
            {"series": _SRC.format("up"), "values": "1x700"},
            {"series": _SRC.format("last_success_timestamp_seconds"), "values": "0+1x700"},
        ],
        [(700, "CdcWatchStaleData", [])],
    ),
    (
        "notifications failing: errors from 60s and nothing delivered; `for` 5m -> fires at 361s, not 360s; a delivery at 400s ends it",
        [
            {"series": _NOTE.format("notification_errors_total"), "values": "0x60 1+1x339 340x300"},
            {"series": _NOTE.format("notifications_total"), "values": "5x399 6x300"},
        ],
        [
            (360, "CdcWatchNotificationsFailing", []),
            (361, "CdcWatchNotificationsFailing", [{"channel": "slack"}]),
            (399, "CdcWatchNotificationsFailing", [{"channel": "slack"}]),
            (401, "CdcWatchNotificationsFailing", []),
        ],
    ),
    (
        "a retried notification that then got through is not a failing channel",
        [
            {"series": _NOTE.format("notification_errors_total"), "values": "0x60 1x600"},
            {"series": _NOTE.format("notifications_total"), "values": "5x60 6x600"},
        ],
        [(400, "CdcWatchNotificationsFailing", [])],
    ),
    (
        "config reload rejected: fires at once, resolves when a reload succeeds",
        [{"series": _RELOAD, "values": "1x9 0x20 1x10"}],
        [
            (9, "CdcWatchConfigReloadFailed", []),
            (10, "CdcWatchConfigReloadFailed", [_TARGET]),
            (30, "CdcWatchConfigReloadFailed", [_TARGET]),
            (31, "CdcWatchConfigReloadFailed", []),
        ],
    ),
    (
        "HA: the leader lease passes from a to b at 20s; neither leads from 100s; `for` 1m -> no leader fires at 160s, not 159s; b leads again at 200s",
        [
            {"series": _LEADER.format("a:10108"), "values": "1x19 0x281"},
            {"series": _LEADER.format("b:10108"), "values": "0x19 1x79 0x99 1x100"},
        ],
        [
            (20, "CdcWatchNoLeader", []),
            (159, "CdcWatchNoLeader", []),
            (160, "CdcWatchNoLeader", [_JOB]),
            (199, "CdcWatchNoLeader", [_JOB]),
            (200, "CdcWatchNoLeader", []),
            (150, "CdcWatchTwoLeaders", []),
        ],
    ),
    (
        "HA: both replicas say leader from 10s; `for` 1m -> two leaders fires at 70s, not 69s",
        [
            {"series": _LEADER.format("a:10108"), "values": "1x100"},
            {"series": _LEADER.format("b:10108"), "values": "0x9 1x91"},
        ],
        [
            (69, "CdcWatchTwoLeaders", []),
            (70, "CdcWatchTwoLeaders", [_JOB]),
            (70, "CdcWatchNoLeader", []),
        ],
    ),
    (
        "HA: a replica without its broker from 10s; `for` 1m -> fires at 70s, not 69s; back at 100s",
        [{"series": _NO_BROKER, "values": "0x9 1x89 0x20"}],
        [
            (69, "CdcWatchHaBrokerUnreachable", []),
            (70, "CdcWatchHaBrokerUnreachable", [_TARGET]),
            (99, "CdcWatchHaBrokerUnreachable", [_TARGET]),
            (100, "CdcWatchHaBrokerUnreachable", []),
        ],
    ),
)

REPO = Path(__file__).resolve().parent.parent


def self_groups(runbook_base: str) -> list[tuple[str, dict[str, Any]]]:
    by_name = {r.name: r for r in GEN.SELF_RULES}
    groups = []
    for title, series, checks in SELF_TESTS:
        tests = []
        for at, alert, expected in checks:
            rule = by_name[alert]
            exp = []
            for labels in expected:
                description = rule.description
                for name, value in labels.items():
                    description = description.replace(f"{{{{ $labels.{name} }}}}", value)
                exp.append(
                    {
                        "exp_labels": {**labels, "severity": rule.severity},
                        "exp_annotations": {
                            "summary": rule.summary,
                            "description": description,
                            "runbook_url": f"{runbook_base}#{rule.anchor}",
                        },
                    }
                )
            tests.append({"eval_time": f"{at}s", "alertname": alert, "exp_alerts": exp})
        groups.append((title, {"interval": "1s", "input_series": series, "alert_rule_test": tests}))
    return groups


# --------------------------------------------------------------------------- files


def _test_file(rule_files: list[str], groups: list[tuple[str, dict[str, Any]]], intro: str, every: int = 1) -> str:
    head = GEN.dump({"rule_files": rule_files, "evaluation_interval": f"{every}s"})
    lines = [f"# GENERATED by generate/promtool_tests.py; do not edit. {intro}", head.rstrip(), "tests:"]
    for title, group in groups:
        lines.append("")
        lines += [f"# {line}" for line in _wrap(title)]
        body = GEN.dump([group]).rstrip()
        lines += ["  " + line if line else line for line in body.splitlines()]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 98) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def files() -> dict[Path, str]:
    """Every generated file under alert_rules/tests/, path -> content."""
    base = AlertingConfig().runbook_url
    contribs = contributors()
    out: dict[Path, str] = {}
    default: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for scenario in SCENARIOS:
        title = f"scenario {scenario.name}"
        if scenario.name in PROMETHEUS_DIFFERS:
            title += f" -- differs from the daemon on purpose: {PROMETHEUS_DIFFERS[scenario.name][0]}"
        group = scenario_group(scenario, contribs, base)
        if scenario.config:
            cfg = RulesConfig.model_validate(scenario.config)
            rules_path = TESTS_DIR / f"{scenario.name}.rules.yml"
            out[rules_path] = GEN.render(cfg, base).replace(
                "# GENERATED by generate/alert_rules.py",
                "# GENERATED by generate/promtool_tests.py (alerting.rules of the scenario)",
                1,
            )
            every = interval_of(scenario)
            out[TESTS_DIR / f"{scenario.name}.test.yml"] = _test_file(
                [rules_path.name],
                [(title + f" (alerting.rules: {scenario.config})", group)],
                "Scenario with its own rules config.",
                every,
            )
        else:
            default.setdefault(interval_of(scenario), []).append((title, group))
    for every, groups in sorted(default.items()):
        path = SCENARIO_TESTS if every == 1 else TESTS_DIR / f"scenarios-{every}s.test.yml"
        out[path] = _test_file(
            ["../cdc-watch.rules.yml"],
            groups,
            f"From generate/scenarios.py; scrape and evaluation every {every}s.",
            every,
        )
    out[SELF_TESTS_FILE] = _test_file(["../cdc-watch.rules.yml"], self_groups(base), "Rules about cdc_watch itself.")
    return out


def outputs() -> dict[Path, str]:
    return files()


def owned() -> list[Path]:
    """Files of this generator's kind already on disk (a stray one fails --check)."""
    return sorted(TESTS_DIR.glob("*.yml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale or stray")
    args = parser.parse_args(argv)
    wanted = files()
    present = set(TESTS_DIR.glob("*.yml")) if TESTS_DIR.exists() else set()
    if args.check:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        stray = sorted(present - set(wanted))
        for path in stale + stray:
            print(f"{path.relative_to(REPO)} is stale or stray; run generate/promtool_tests.py", file=sys.stderr)
        return 1 if stale or stray else 0
    TESTS_DIR.mkdir(parents=True, exist_ok=True)
    for path in present - set(wanted):
        path.unlink()
    for path, text in wanted.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
