"""The Grafana dashboard vocabulary: dashboards and panels as values, rendered to JSON.

Writing dashboards as code keeps the conventions in one place: fixed uids, a `datasource`
variable, `namespace` and `job` variables that scope every query (so two cdc_watch deployments
scraped by one Prometheus do not mix), `connect_cluster`, `connector` and `database` variables,
a unit on every panel, `__requires` naming the oldest Grafana they are written for, and queries
that only use metrics from the catalogue (tests check all of this, and that the committed JSON
equals what `python -m generate` writes). What each dashboard shows is in `panels.py`, written
without the scope: `scoped` adds it to every metric selector when rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DS = {"type": "prometheus", "uid": "${datasource}"}
C = 'connect_cluster=~"$connect_cluster"'
CN = 'connect_cluster=~"$connect_cluster",connector=~"$connector"'
DB = 'database=~"$database"'
# Target labels Prometheus adds (job from the scrape config, namespace from Kubernetes service
# discovery); "All" is ".*", which also matches a series without the label (docker-compose).
SCOPE = 'namespace=~"$namespace",job=~"$job"'
SCOPE_VARIABLES = ("namespace", "job")
GRAFANA_MIN_VERSION = "10.4.0"  # schemaVersion 39 is what Grafana 10.4 writes
_SELECTOR = re.compile(r"\b(cdc_[a-z0-9_]+)\b(\{)?")


def scoped(expr: str) -> str:
    """`expr` with the namespace and job matchers added to every cdc_ metric selector."""
    return _SELECTOR.sub(lambda m: f"{m.group(1)}{{{SCOPE}" + ("," if m.group(2) else "}"), expr)


@dataclass(frozen=True)
class Panel:
    title: str
    targets: tuple[tuple[str, str], ...]  # (expr, legend)
    unit: str
    kind: str = "timeseries"  # timeseries | stat | table | bargauge
    width: int = 12
    height: int = 8
    description: str = ""
    fault_only: bool = False  # shows data only while something is wrong (checked in fault tests)
    min_zero: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[str, ...] = ("connect_cluster", "connector")
    links: tuple[str, ...] = field(default_factory=tuple)


def _variable(name: str) -> dict:
    queries = {
        "namespace": "label_values(cdc_build_info, namespace)",
        "job": 'label_values(cdc_build_info{namespace=~"$namespace"}, job)',
        "connect_cluster": scoped("label_values(cdc_connect_up, connect_cluster)"),
        "connector": scoped('label_values(cdc_connector_info{connect_cluster=~"$connect_cluster"}, connector)'),
        "database": scoped("label_values(cdc_mysql_up, database)"),
    }
    query = queries[name]
    return {
        "name": name,
        "label": name.replace("_", " "),
        "type": "query",
        "datasource": DS,
        "query": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    defaults: dict = {"unit": panel.unit}
    if panel.min_zero:
        defaults["min"] = 0
    body: dict = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DS,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DS,
                "expr": scoped(expr),
                "legendFormat": legend,
                **({"instant": True, "format": "table"} if panel.kind == "table" else {}),
            }
            for i, (expr, legend) in enumerate(panel.targets)
        ],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
    }
    if panel.kind == "timeseries":
        body["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "stat":
        body["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "auto",
        }
    elif panel.kind == "table":
        body["options"] = {"showHeader": True}
        body["transformations"] = [{"id": "merge", "options": {}}]
    return body


def _requires(panels: list[dict]) -> list[dict]:
    """What importing the dashboard needs (Grafana shows it on import; versions are minimums)."""
    return [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_MIN_VERSION},
        {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
    ] + [{"type": "panel", "id": kind, "name": kind, "version": ""} for kind in sorted({p["type"] for p in panels})]


def render(dashboard: Dashboard) -> dict:
    panels = []
    x = y = row_height = 0
    for index, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel(panel, index, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    variables = [
        {
            "name": "datasource",
            "label": "data source",
            "type": "datasource",
            "query": "prometheus",
            "hide": 0,
            "refresh": 1,
            "regex": "",
            "options": [],
        }
    ] + [_variable(v) for v in SCOPE_VARIABLES + dashboard.variables]
    return {
        "__requires": _requires(panels),
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["cdc_watch", "kafka-connect", "debezium"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["cdc_watch"],
                "title": "cdc_watch",
                "icon": "external link",
                "tooltip": "",
                "targetBlank": False,
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }
