"""The Grafana dashboard vocabulary: dashboards and panels as values, rendered to JSON.

Writing dashboards as code keeps the conventions in one place: fixed uids, a `datasource`
variable plus `connect_cluster`, `connector` and `database` variables, a unit on every panel,
and queries that only use metrics from the catalogue (tests check all of this, and that the
committed JSON equals what `python -m generate` writes). What each dashboard shows is in
`panels.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DS = {"type": "prometheus", "uid": "${datasource}"}
C = 'connect_cluster=~"$connect_cluster"'
CN = 'connect_cluster=~"$connect_cluster",connector=~"$connector"'
DB = 'database=~"$database"'


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
        "connect_cluster": "label_values(cdc_connect_up, connect_cluster)",
        "connector": 'label_values(cdc_connector_info{connect_cluster=~"$connect_cluster"}, connector)',
        "database": "label_values(cdc_mysql_up, database)",
    }
    query = queries[name]
    return {
        "name": name,
        "label": name.replace("_", " "),
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"var-{name}"},
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
                "expr": expr,
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
            "current": {},
            "hide": 0,
            "refresh": 1,
            "regex": "",
            "options": [],
        }
    ] + [_variable(v) for v in dashboard.variables]
    return {
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
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }
