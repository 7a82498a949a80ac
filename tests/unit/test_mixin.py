"""The monitoring mixin in mixin/, evaluated with the `jsonnet` package (module `_jsonnet`): with
its default `_config` it equals the shipped rule file and dashboards, and with overrides it
equals what generate/alert_rules.py writes for the same thresholds and scrape job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _jsonnet
import pytest
import yaml

from cdc_watch.config import RulesConfig
from cdc_watch.rules.table import format_duration
from generate import alert_rules, mixin
from generate.panels import ALL as DASHBOARDS

REPO = Path(__file__).resolve().parents[2]
MIXIN = REPO / "mixin"


def evaluate(expression: str) -> Any:
    """`expression` over `m`, the mixin as a user vendors it (imports resolved from mixin/)."""
    snippet = f"local m = import 'mixin.libsonnet';\n{expression}"
    return json.loads(_jsonnet.evaluate_snippet("test", snippet, jpathdir=[str(MIXIN)]))


def test_mixin_has_the_four_conventional_fields_hidden():
    assert evaluate("std.objectFieldsAll(m)") == ["_config", "grafanaDashboards", "prometheusAlerts", "prometheusRules"]
    assert evaluate("std.objectFields(m)") == []  # all hidden (::), as mixin tools expect


def test_default_alerts_equal_the_shipped_rule_file():
    shipped = yaml.safe_load((REPO / "alert_rules" / "cdc-watch.rules.yml").read_text())
    assert evaluate("m.prometheusAlerts") == shipped


def test_default_alerts_equal_the_prometheusrule_groups():
    manifest = yaml.safe_load((REPO / "deploy" / "kubernetes" / "base" / "prometheusrule.yaml").read_text())
    assert evaluate("m.prometheusAlerts.groups") == manifest["spec"]["groups"]


def test_no_recording_rules():
    assert evaluate("m.prometheusRules") == {"groups": []}


def test_dashboards_equal_the_shipped_json():
    got = evaluate("m.grafanaDashboards")
    assert set(got) == {f"{d.uid}.json" for d in DASHBOARDS}
    for name, body in got.items():
        assert body == json.loads((REPO / "dashboards" / name).read_text()), name


def test_overridden_config_equals_the_generator_with_the_same_inputs():
    overrides = {
        "binlog_lag_bytes": 2048,
        "purge_eta": 5400,
        "streaming_lag": 90,
        "failover_window": 86400 + 61,
        "offset_commit_failure_ratio": 0.25,
        "keep_firing_for": 0,
    }
    selector = 'job="cdc-prod"'
    got = evaluate(
        f"local o = m + {{ _config+:: {{ cdcWatchSelector: '{selector}', rules+: {json.dumps(overrides)} }} }};"
        "{ prometheusAlerts: o.prometheusAlerts }"
    )
    durations = {"purge_eta", "streaming_lag", "failover_window", "keep_firing_for"}
    cfg = RulesConfig.model_validate({k: f"{v}s" if k in durations else v for k, v in overrides.items()})
    want = alert_rules.rule_file(cfg, job="cdc-prod")
    assert got["prometheusAlerts"] == want
    exprs = [r["expr"] for g in want["groups"] for r in g["rules"]]
    assert any("> 2048" in e for e in exprs) and any('up{job="cdc-prod"}' in e for e in exprs)
    assert not any("keep_firing_for" in r for g in want["groups"] for r in g["rules"])


def test_runbook_base_and_dashboard_settings_are_configurable():
    got = evaluate(
        "local o = m + { _config+:: { runbookURL: 'https://wiki.example/cdc', dashboardTags: ['cdc_watch', 'team-a'], "
        "dashboardRefresh: '1m', dashboardTimezone: 'utc' } };"
        "{ prometheusAlerts: o.prometheusAlerts, grafanaDashboards: o.grafanaDashboards }"
    )
    urls = [r["annotations"]["runbook_url"] for g in got["prometheusAlerts"]["groups"] for r in g["rules"]]
    assert all(u.startswith("https://wiki.example/cdc#") for u in urls)
    for body in got["grafanaDashboards"].values():
        assert (body["tags"], body["refresh"], body["timezone"]) == (["cdc_watch", "team-a"], "1m", "utc")


@pytest.mark.parametrize(
    "seconds", [0, 1, 59, 60, 90, 600, 3600, 3661, 21600, 86400, 90061, 0.4, 59.6, 0.5, 1.5, 2.5, 3599.5]
)
def test_jsonnet_durations_are_formatted_as_the_daemon_formats_them(seconds):
    got = _jsonnet.evaluate_snippet("d", f"(import 'lib/format.libsonnet').duration({seconds})", jpathdir=[str(MIXIN)])
    assert json.loads(got) == format_duration(seconds)


def test_every_threshold_a_rule_uses_is_in_the_config():
    defaults = evaluate("m._config.rules")
    assert sorted(defaults) == sorted(mixin.used_thresholds())
    for name, value in defaults.items():
        assert value == getattr(RulesConfig(), name), name
