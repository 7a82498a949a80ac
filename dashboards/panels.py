"""What each cdc_watch dashboard shows (rendered to JSON by dashboards/generate.py)."""

from __future__ import annotations

from dashboards.generate import CN, C, Dashboard, Panel

S = 'source=~".*"'

OVERVIEW = Dashboard(
    uid="cdc-watch-overview",
    title="cdc_watch / Overview",
    description="Clusters, connectors by state, what is failing now.",
    panels=(
        Panel("Connect clusters up", ((f"cdc_connect_up{{{C}}}", "{{connect_cluster}}"),), "bool_yes_no", kind="stat", width=6, height=4),
        Panel("Connectors", ((f"count(cdc_connector_info{{{C}}})", "connectors"),), "short", kind="stat", width=6, height=4),
        Panel("Tasks", ((f"sum(cdc_connector_tasks{{{C}}})", "tasks"),), "short", kind="stat", width=6, height=4),
        Panel("Failed tasks", ((f'sum(cdc_task_state{{{C},state="FAILED"}}) or vector(0)', "failed"),), "short", kind="stat", width=6, height=4),
        Panel("Connectors by state", ((f"sum by (state) (cdc_connector_state{{{CN}}})", "{{state}}"),), "short", min_zero=True),
        Panel("Tasks by state", ((f"sum by (state) (cdc_task_state{{{CN}}})", "{{state}}"),), "short", min_zero=True),
        Panel(
            "Tasks not RUNNING",
            ((f'cdc_task_state{{{CN},state!="RUNNING"}} == 1', "{{connector}} task {{task}} {{state}}"),),
            "short",
            kind="table",
            width=24,
            fault_only=True,
            description="Every task whose current state is not RUNNING.",
        ),
    ),
)

CONNECT_WORKERS = Dashboard(
    uid="cdc-watch-connect-workers",
    title="cdc_watch / Connect workers",
    description="Workers of each Connect cluster and what runs on them.",
    variables=("connect_cluster",),
    panels=(
        Panel("Workers", ((f"cdc_connect_workers{{{C}}}", "{{connect_cluster}}"),), "short", kind="stat", width=8, height=4),
        Panel("Connect version", ((f"cdc_connect_info{{{C}}}", "{{connect_cluster}} {{version}}"),), "short", kind="stat", width=8, height=4),
        Panel("Connectors excluded by patterns", ((f"cdc_connect_connectors_excluded{{{C}}}", "{{connect_cluster}}"),), "short", kind="stat", width=8, height=4),
        Panel("Tasks per worker", ((f"cdc_connect_worker_tasks{{{C}}}", "{{worker}}"),), "short", min_zero=True),
        Panel("Connectors per worker", ((f"cdc_connect_worker_connectors{{{C}}}", "{{worker}}"),), "short", min_zero=True),
    ),
)

TASKS = Dashboard(
    uid="cdc-watch-tasks",
    title="cdc_watch / Tasks",
    description="Task states and where each task runs.",
    panels=(
        Panel("Running tasks", ((f'sum by (connector) (cdc_task_state{{{CN},state="RUNNING"}})', "{{connector}}"),), "short", min_zero=True),
        Panel("Task placement", ((f"cdc_task_worker_info{{{CN}}}", "{{connector}}/{{task}} on {{worker}}"),), "short", kind="table"),
    ),
)

SELF = Dashboard(
    uid="cdc-watch-self",
    title="cdc_watch / cdc_watch itself",
    description="Is cdc_watch able to read its sources, and how fast.",
    variables=(),
    panels=(
        Panel("Sources up", (("cdc_source_up", "{{source}}"),), "bool_yes_no", kind="stat", width=12, height=4),
        Panel("Configuration reload OK", (("cdc_config_last_reload_successful", "reload ok"),), "bool_yes_no", kind="stat", width=12, height=4),
        Panel("Poll duration", (("cdc_source_poll_duration_seconds", "{{source}}"),), "s"),
        Panel("Seconds since last successful poll", (("time() - cdc_source_last_success_timestamp_seconds", "{{source}}"),), "s"),
        Panel("Poll errors per second", (("sum by (source, reason) (rate(cdc_source_poll_errors_total[5m]))", "{{source}} {{reason}}"),), "reqps", fault_only=True),
        Panel("Polls per second", (("sum by (source) (rate(cdc_source_polls_total[5m]))", "{{source}}"),), "reqps"),
    ),
)

ALL: tuple[Dashboard, ...] = (OVERVIEW, CONNECT_WORKERS, TASKS, SELF)
