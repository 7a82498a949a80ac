"""Dashboards: generated JSON is committed, conventions hold, every metric is in the catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cdc_watch.exporter.catalogue import BY_NAME
from generate.dashboards import dashboards, render

HERE = Path(__file__).resolve().parents[2] / "dashboards"
METRIC = re.compile(r"\bcdc_[a-z0-9_]+")
ALL = dashboards()


def exprs(dashboard_json: dict) -> list[str]:
    return [t["expr"] for p in dashboard_json["panels"] for t in p["targets"]]


@pytest.mark.parametrize("dashboard", ALL, ids=lambda d: d.uid)
def test_committed_json_equals_generated(dashboard):
    committed = json.loads((HERE / f"{dashboard.uid}.json").read_text())
    assert committed == json.loads(json.dumps(render(dashboard))), "run: python generate/dashboards.py"


def test_no_stray_dashboard_files():
    assert {p.stem for p in HERE.glob("*.json")} == {d.uid for d in ALL}


def test_uids_and_titles_unique():
    assert len({d.uid for d in ALL}) == len(ALL)
    assert len({d.title for d in ALL}) == len(ALL)


@pytest.mark.parametrize("dashboard", ALL, ids=lambda d: d.uid)
def test_conventions(dashboard):
    body = render(dashboard)
    names = [v["name"] for v in body["templating"]["list"]]
    assert names[0] == "datasource"
    for panel in body["panels"]:
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
    ids = [p["id"] for p in body["panels"]]
    assert len(set(ids)) == len(ids)
    used_vars = set(re.findall(r"\$(\w+)", json.dumps([exprs(body)])))
    assert used_vars <= set(names), "a query uses a variable the dashboard does not define"


@pytest.mark.parametrize("dashboard", ALL, ids=lambda d: d.uid)
def test_every_metric_is_in_the_catalogue(dashboard):
    body = render(dashboard)
    variable_queries = [v.get("definition", "") for v in body["templating"]["list"]]
    for expr in exprs(body) + variable_queries:
        for name in METRIC.findall(expr):
            assert name in BY_NAME, f"{dashboard.uid}: {name} is not in the metrics catalogue"
