"""Dashboards: generated JSON is committed, conventions hold, every metric is in the catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import promql_parser
import pytest

from cdc_watch.exporter.catalogue import BY_NAME
from generate.dashboards import dashboards, render
from generate.grafana import GRAFANA_MIN_VERSION, SCOPE_VARIABLES

HERE = Path(__file__).resolve().parents[2] / "dashboards"
SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "grafana" / "dashboard.jsonschema.json"
LABEL_VALUES = re.compile(r"^label_values\((.+), (\w+)\)$")
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
    variable_queries = [v["query"] for v in body["templating"]["list"] if v["type"] == "query"]
    for expr in exprs(body) + variable_queries:
        for name in METRIC.findall(expr):
            assert name in BY_NAME, f"{dashboard.uid}: {name} is not in the metrics catalogue"


@pytest.mark.parametrize("dashboard", ALL, ids=lambda d: d.uid)
def test_json_matches_grafanas_dashboard_schema(dashboard):
    body = render(dashboard)
    body.pop("__requires")  # read on import only; the schema of a stored dashboard lacks it
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert problems == []


def test_the_schema_check_catches_a_wrong_shape():
    body = render(ALL[0])
    body.pop("__requires")
    body["panels"][0]["gridPos"]["w"] = 30
    body["templating"]["list"][1]["refresh"] = 7
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert len(list(validator.iter_errors(body))) == 2


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
            return
        for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None:
                visit(child)
        for child in getattr(node, "args", None) or ():
            visit(child)

    visit(promql_parser.parse(expr))
    return found


def scope_of(selector: promql_parser.VectorSelector) -> set[tuple[str, str]]:
    return {(m.name, m.value) for m in selector.matchers.matchers if m.op == promql_parser.MatchOp.Re}


@pytest.mark.parametrize("dashboard", ALL, ids=lambda d: d.uid)
def test_every_query_is_scoped_to_the_namespace_and_job_variables(dashboard):
    body = render(dashboard)
    variables = body["templating"]["list"]
    assert [v["name"] for v in variables[1:3]] == list(SCOPE_VARIABLES) == ["namespace", "job"]
    queries = [(p["title"], t["expr"]) for p in body["panels"] for t in p["targets"]]
    for variable in variables[3:]:
        match = LABEL_VALUES.match(variable["query"])
        assert match, variable["query"]
        queries.append((f"variable {variable['name']}", match.group(1)))
    for where, expr in queries:
        found = selectors(expr)
        assert len(found) == len(METRIC.findall(expr)) > 0, f"{where}: the walk missed a selector of {expr}"
        for selector in found:
            assert {("namespace", "$namespace"), ("job", "$job")} <= scope_of(selector), f"{where}: {expr}"
    assert LABEL_VALUES.match(variables[2]["query"]).group(1) == 'cdc_build_info{namespace=~"$namespace"}'


def test_the_scope_check_sees_a_selector_without_it():
    inner = selectors('sum(rate(cdc_a{job=~"$job",namespace=~"$namespace"}[5m])) / on (x) cdc_b{job=~"$job"}')
    assert [("namespace", "$namespace") in scope_of(s) for s in inner] == [True, False]


@pytest.mark.parametrize("dashboard", ALL, ids=lambda d: d.uid)
def test_requires_names_grafana_prometheus_and_every_panel_type(dashboard):
    body = render(dashboard)
    requires = {(r["type"], r["id"]): r["version"] for r in body["__requires"]}
    assert requires[("grafana", "grafana")] == GRAFANA_MIN_VERSION
    assert ("datasource", "prometheus") in requires
    assert {i for t, i in requires if t == "panel"} == {p["type"] for p in body["panels"]}
    assert body["schemaVersion"] == 39  # what GRAFANA_MIN_VERSION writes; bump both together
