"""What each cdc_watch dashboard shows (rendered to JSON by generate/dashboards.py).

Six dashboards, matched to the metrics catalogue (cdc_watch/exporter/catalogue.py): overview, Connect
workers, tasks, Debezium MySQL connectors, binlog and databases, and cdc_watch itself. Panels
that only have data while something is wrong (a failed task, a firing alert, a restart) set
`fault_only=True`; the real-stack test checks them during its fault scenario and every other
panel on a healthy stack.

Joins take `max by (...)` of `cdc_connector_database_info` first, so that two cdc_watch
replicas scraped by one Prometheus still join one-to-one instead of failing the query; counts
over connectors and tasks take `max by` the series' own labels (or `max without (instance,
pod)`) before they `sum`, so two replicas (docs/ha.md) do not count each task twice. Panels of
what each replica does itself (polls, notifications, restarts) sum over replicas on purpose.
"""

from __future__ import annotations

from generate.grafana import CN, DB, C, Dashboard, Panel

T = CN  # task panels filter on cluster and connector too
CND = f"{CN},{DB}"

OVERVIEW = Dashboard(
    uid="cdc-watch-overview",
    title="cdc_watch / Overview",
    description="Clusters, connectors by state, what is failing now, alerts firing, binlog lag.",
    variables=("connect_cluster", "connector", "database"),
    panels=(
        Panel(
            "Connect clusters up",
            ((f"cdc_connect_up{{{C}}}", "{{connect_cluster}}"),),
            "bool_yes_no",
            kind="stat",
            width=6,
            height=4,
        ),
        Panel(
            "Connectors",
            ((f"count(cdc_connector_info{{{C}}})", "connectors"),),
            "short",
            kind="stat",
            width=6,
            height=4,
        ),
        Panel(
            "Tasks",
            ((f"sum(max by (connect_cluster, connector) (cdc_connector_tasks{{{C}}}))", "tasks"),),
            "short",
            kind="stat",
            width=6,
            height=4,
        ),
        Panel(
            "Failed tasks",
            (
                (
                    f'sum(max by (connect_cluster, connector, task) (cdc_task_state{{{C},state="FAILED"}})) or vector(0)',
                    "failed",
                ),
            ),
            "short",
            kind="stat",
            width=6,
            height=4,
        ),
        Panel(
            "Connectors by state",
            (
                (
                    f"sum by (state) (max by (connect_cluster, connector, state) (cdc_connector_state{{{CN}}}))",
                    "{{state}}",
                ),
            ),
            "short",
            min_zero=True,
        ),
        Panel(
            "Tasks by state",
            (
                (
                    f"sum by (state) (max by (connect_cluster, connector, task, state) (cdc_task_state{{{CN}}}))",
                    "{{state}}",
                ),
            ),
            "short",
            min_zero=True,
        ),
        Panel(
            "Tasks not RUNNING",
            ((f'cdc_task_state{{{CN},state!="RUNNING"}} == 1', "{{connector}} task {{task}} {{state}}"),),
            "short",
            kind="table",
            width=24,
            fault_only=True,
            description="Every task whose current state is not RUNNING.",
        ),
        Panel(
            "Alerts firing by severity",
            (("sum by (severity) (max without (instance, pod) (cdc_alert_firing)) or vector(0)", "{{severity}}"),),
            "short",
            kind="stat",
            width=8,
            description="Alerts cdc_watch's own health rules consider firing (after their `for`).",
        ),
        Panel(
            "Alerts firing",
            (("cdc_alert_firing == 1", "{{alert}} {{connector}}{{database}}{{source}}"),),
            "short",
            kind="table",
            width=16,
            fault_only=True,
            description="One row per firing alert of cdc_watch's health rules; docs/runbook.md has a section per alert.",
        ),
        Panel(
            "Binlog lag per connector",
            (
                (
                    f"cdc_connector_binlog_lag_bytes{{{CN}}} * on (connect_cluster, connector) group_left (database) max by (connect_cluster, connector, database) (cdc_connector_database_info{{{DB}}})",
                    "{{connector}} ({{database}})",
                ),
            ),
            "bytes",
            width=24,
            min_zero=True,
            description="Binlog bytes between each connector's position and its database's head.",
        ),
    ),
)

CONNECT_WORKERS = Dashboard(
    uid="cdc-watch-connect-workers",
    title="cdc_watch / Connect workers",
    description="Workers of each Connect cluster: what runs on them, their group connection, requests, I/O and rebalances (Jolokia).",
    variables=("connect_cluster",),
    panels=(
        Panel(
            "Workers",
            ((f"cdc_connect_workers{{{C}}}", "{{connect_cluster}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Connect version",
            ((f"cdc_connect_info{{{C}}}", "{{connect_cluster}} {{version}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Connectors excluded by patterns",
            ((f"cdc_connect_connectors_excluded{{{C}}}", "{{connect_cluster}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel("Tasks per worker", ((f"cdc_connect_worker_tasks{{{C}}}", "{{worker}}"),), "short", min_zero=True),
        Panel(
            "Connectors per worker", ((f"cdc_connect_worker_connectors{{{C}}}", "{{worker}}"),), "short", min_zero=True
        ),
        Panel(
            "Jolokia endpoints up",
            ((f"cdc_jolokia_up{{{C}}}", "{{endpoint}}"),),
            "bool_yes_no",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Tasks running on the worker (JMX)",
            ((f"cdc_worker_tasks{{{C}}}", "{{endpoint}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Connectors running on the worker (JMX)",
            ((f"cdc_worker_connectors{{{C}}}", "{{endpoint}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Group connections",
            ((f"cdc_worker_group_connections{{{C}}}", "{{endpoint}}"),),
            "short",
            width=8,
            min_zero=True,
            description="Open connections of the worker's group-membership client to the brokers.",
        ),
        Panel(
            "Group requests and responses per second",
            (
                (f"rate(cdc_worker_group_requests_total{{{C}}}[5m])", "{{endpoint}} requests"),
                (f"rate(cdc_worker_group_responses_total{{{C}}}[5m])", "{{endpoint}} responses"),
            ),
            "reqps",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Group I/O",
            (
                (f"rate(cdc_worker_group_sent_bytes_total{{{C}}}[5m])", "{{endpoint}} sent"),
                (f"rate(cdc_worker_group_received_bytes_total{{{C}}}[5m])", "{{endpoint}} received"),
            ),
            "Bps",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Group I/O time",
            ((f"cdc_worker_group_io_ratio{{{C}}}", "{{endpoint}}"),),
            "percentunit",
            width=8,
            min_zero=True,
        ),
        Panel("Rebalancing", ((f"cdc_worker_rebalancing{{{C}}}", "{{endpoint}}"),), "bool_yes_no", width=8),
        Panel(
            "Rebalances completed (1h)",
            ((f"increase(cdc_worker_rebalances_total{{{C}}}[1h])", "{{endpoint}}"),),
            "short",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Last rebalance",
            ((f"time() - cdc_worker_last_rebalance_timestamp_seconds{{{C}}}", "{{endpoint}}"),),
            "s",
            kind="stat",
            width=12,
            height=4,
            description="Seconds since the worker last completed a rebalance.",
        ),
        Panel(
            "Rebalance time (avg, max)",
            (
                (f"cdc_worker_rebalance_avg_seconds{{{C}}}", "{{endpoint}} avg"),
                (f"cdc_worker_rebalance_max_seconds{{{C}}}", "{{endpoint}} max"),
            ),
            "s",
            width=12,
            height=4,
            fault_only=True,
            description="Kafka's sample window: empty (NaN) when no rebalance happened inside it.",
        ),
        Panel(
            "Connector and task start failures (1h)",
            (
                (f"increase(cdc_worker_connector_startup_failures_total{{{C}}}[1h])", "{{endpoint}} connectors"),
                (f"increase(cdc_worker_task_startup_failures_total{{{C}}}[1h])", "{{endpoint}} tasks"),
            ),
            "short",
            width=24,
            min_zero=True,
        ),
    ),
)

TASKS = Dashboard(
    uid="cdc-watch-tasks",
    title="cdc_watch / Tasks",
    description="Task states, where each task runs, batches, offset commits, errors and the dead letter queue.",
    panels=(
        Panel(
            "Running tasks",
            (
                (
                    f'sum by (connector) (max by (connect_cluster, connector, task) (cdc_task_state{{{CN},state="RUNNING"}}))',
                    "{{connector}}",
                ),
            ),
            "short",
            min_zero=True,
        ),
        Panel(
            "Task placement",
            ((f"cdc_task_worker_info{{{CN}}}", "{{connector}}/{{task}} on {{worker}}"),),
            "short",
            kind="table",
        ),
        Panel(
            "Batch size (avg, max)",
            (
                (f"cdc_task_batch_size_avg{{{T}}}", "{{connector}}/{{task}} avg"),
                (f"cdc_task_batch_size_max{{{T}}}", "{{connector}}/{{task}} max"),
            ),
            "short",
            min_zero=True,
        ),
        Panel(
            "Records written per second",
            (
                (f"rate(cdc_task_source_records_written_total{{{T}}}[5m])", "{{connector}}/{{task}} written"),
                (f"rate(cdc_task_source_records_polled_total{{{T}}}[5m])", "{{connector}}/{{task}} polled"),
            ),
            "ops",
            min_zero=True,
        ),
        Panel(
            "Offset commit success and failure",
            (
                (f"cdc_task_offset_commit_success_ratio{{{T}}}", "{{connector}}/{{task}} success"),
                (f"cdc_task_offset_commit_failure_ratio{{{T}}}", "{{connector}}/{{task}} failure"),
            ),
            "percentunit",
            min_zero=True,
        ),
        Panel(
            "Offset commit time (avg, max)",
            (
                (f"cdc_task_offset_commit_avg_seconds{{{T}}}", "{{connector}}/{{task}} avg"),
                (f"cdc_task_offset_commit_max_seconds{{{T}}}", "{{connector}}/{{task}} max"),
            ),
            "s",
            min_zero=True,
        ),
        Panel(
            "Time running",
            ((f"cdc_task_running_ratio{{{T}}}", "{{connector}}/{{task}}"),),
            "percentunit",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Records in flight",
            ((f"cdc_task_source_records_active{{{T}}}", "{{connector}}/{{task}}"),),
            "short",
            width=8,
            min_zero=True,
            description="Records polled by the source task but not yet acknowledged by Kafka.",
        ),
        Panel(
            "Poll batch time",
            ((f"cdc_task_source_poll_batch_avg_seconds{{{T}}}", "{{connector}}/{{task}}"),),
            "s",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Errors per second",
            (
                (f"rate(cdc_task_record_errors_total{{{T}}}[5m])", "{{connector}}/{{task}} record errors"),
                (f"rate(cdc_task_record_failures_total{{{T}}}[5m])", "{{connector}}/{{task}} record failures"),
                (f"rate(cdc_task_errors_logged_total{{{T}}}[5m])", "{{connector}}/{{task}} logged"),
                (f"rate(cdc_task_records_skipped_total{{{T}}}[5m])", "{{connector}}/{{task}} skipped"),
                (f"rate(cdc_task_retries_total{{{T}}}[5m])", "{{connector}}/{{task}} retries"),
            ),
            "ops",
            min_zero=True,
        ),
        Panel(
            "Dead letter queue writes per second",
            (
                (f"rate(cdc_task_dlq_produce_requests_total{{{T}}}[5m])", "{{connector}}/{{task}} writes"),
                (f"rate(cdc_task_dlq_produce_failures_total{{{T}}}[5m])", "{{connector}}/{{task}} failures"),
            ),
            "ops",
            min_zero=True,
        ),
        Panel(
            "Last record error",
            ((f"time() - cdc_task_last_error_timestamp_seconds{{{T}}}", "{{connector}}/{{task}}"),),
            "s",
            kind="stat",
            width=24,
            height=4,
            fault_only=True,
            description="Seconds since the task's last record error; empty if it never had one.",
        ),
    ),
)

DEBEZIUM = Dashboard(
    uid="cdc-watch-debezium-mysql",
    title="cdc_watch / Debezium MySQL connectors",
    description="Debezium's own view per connector: binlog position, lag, last event, snapshot progress, schema history and queue (Jolokia).",
    panels=(
        Panel(
            "Binlog client connected",
            ((f"cdc_debezium_streaming_connected{{{CN}}}", "{{connector}}"),),
            "bool_yes_no",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Streaming MBean present",
            ((f"min by (connect_cluster, connector) (cdc_debezium_streaming_mbean_present{{{CN}}})", "{{connector}}"),),
            "bool_yes_no",
            kind="stat",
            width=8,
            height=4,
            description="0 while Debezium restarts itself in a loop that Connect's status hides (for example a purged binlog position).",
        ),
        Panel(
            "GTID mode",
            ((f"cdc_debezium_streaming_gtid_mode_enabled{{{CN}}}", "{{connector}}"),),
            "bool_yes_no",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Binlog file and position",
            (
                (f"cdc_debezium_streaming_binlog_file_number{{{CN}}}", "{{connector}} file"),
                (f"cdc_debezium_streaming_binlog_position_bytes{{{CN}}}", "{{connector}} position"),
            ),
            "short",
            description="File number (mysql-bin.000042 -> 42) and byte position Debezium has read to.",
        ),
        Panel(
            "Lag",
            ((f"cdc_debezium_streaming_behind_source_seconds{{{CN}}}", "{{connector}} behind source"),),
            "s",
            min_zero=True,
            description="Commit-to-read delay as of the last event (stale while the database is idle).",
        ),
        Panel(
            "Seconds since last event",
            ((f"time() - cdc_debezium_streaming_last_event_timestamp_seconds{{{CN}}}", "{{connector}}"),),
            "s",
            min_zero=True,
        ),
        Panel(
            "Change events per second",
            (
                (
                    f"sum by (connector, kind) (max without (instance, pod) (rate(cdc_debezium_streaming_change_events_total{{{CN}}}[5m])))",
                    "{{connector}} {{kind}}",
                ),
            ),
            "ops",
            min_zero=True,
        ),
        Panel(
            "Snapshot state",
            (
                (f"cdc_debezium_snapshot_running{{{CN}}}", "{{connector}} running"),
                (f"cdc_debezium_snapshot_completed{{{CN}}}", "{{connector}} completed"),
                (f"cdc_debezium_snapshot_aborted{{{CN}}}", "{{connector}} aborted"),
            ),
            "bool_yes_no",
            kind="stat",
            width=8,
            height=6,
        ),
        Panel(
            "Snapshot tables (total, remaining)",
            (
                (f"cdc_debezium_snapshot_tables{{{CN}}}", "{{connector}} tables"),
                (f"cdc_debezium_snapshot_remaining_tables{{{CN}}}", "{{connector}} remaining"),
            ),
            "short",
            kind="stat",
            width=8,
            height=6,
        ),
        Panel(
            "Snapshot duration",
            ((f"cdc_debezium_snapshot_duration_seconds{{{CN}}}", "{{connector}}"),),
            "s",
            kind="stat",
            width=8,
            height=6,
        ),
        Panel(
            "Snapshot progress",
            (
                (
                    f"1 - cdc_debezium_snapshot_remaining_tables{{{CN}}} / (cdc_debezium_snapshot_tables{{{CN}}} > 0)",
                    "{{connector}} tables done",
                ),
            ),
            "percentunit",
            kind="bargauge",
            width=12,
            min_zero=True,
        ),
        Panel(
            "Snapshot rows scanned",
            ((f"cdc_debezium_snapshot_rows_scanned{{{CN}}}", "{{connector}} {{table}}"),),
            "short",
            width=12,
            min_zero=True,
        ),
        Panel(
            "Schema history status",
            ((f"cdc_debezium_schema_history_status{{{CN}}} == 1", "{{connector}} {{status}}"),),
            "short",
            kind="table",
            width=8,
        ),
        Panel(
            "Schema changes applied",
            ((f"cdc_debezium_schema_history_changes_applied_total{{{CN}}}", "{{connector}}"),),
            "short",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Time since the last schema change",
            ((f"time() - cdc_debezium_schema_history_last_applied_timestamp_seconds{{{CN}}}", "{{connector}}"),),
            "s",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Queue use",
            (
                (
                    f"1 - cdc_debezium_queue_remaining_capacity{{{CN}}} / cdc_debezium_queue_total_capacity{{{CN}}}",
                    "{{connector}}",
                ),
            ),
            "percentunit",
            min_zero=True,
            description="Share of Debezium's internal change-event queue in use; near 1, Kafka cannot keep up.",
        ),
        Panel("Queue bytes", ((f"cdc_debezium_queue_size_bytes{{{CN}}}", "{{connector}}"),), "bytes", min_zero=True),
    ),
)

BINLOG = Dashboard(
    uid="cdc-watch-binlog",
    title="cdc_watch / Binlog and databases",
    description="Each database's binlog (head, files, size, retention), each connector's position on it, and the database's prerequisites and failovers.",
    variables=("connect_cluster", "connector", "database"),
    panels=(
        Panel(
            "Databases up", ((f"cdc_mysql_up{{{DB}}}", "{{database}}"),), "bool_yes_no", kind="stat", width=8, height=4
        ),
        Panel(
            "Server",
            ((f"cdc_mysql_info{{{DB}}}", "{{database}} {{flavour}} {{version}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Read only",
            ((f"cdc_mysql_read_only{{{DB}}}", "{{database}}"),),
            "bool_yes_no",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Binlog head and oldest file",
            (
                (f"cdc_binlog_head_file_number{{{DB}}}", "{{database}} head"),
                (f"cdc_binlog_oldest_file_number{{{DB}}}", "{{database}} oldest"),
            ),
            "short",
            width=8,
        ),
        Panel("Binlog files", ((f"cdc_binlog_files{{{DB}}}", "{{database}}"),), "short", width=8, min_zero=True),
        Panel("Binlog size", ((f"cdc_binlog_size_bytes{{{DB}}}", "{{database}}"),), "bytes", width=8, min_zero=True),
        Panel(
            "Binlog written",
            ((f"rate(cdc_binlog_written_bytes_total{{{DB}}}[5m])", "{{database}}"),),
            "Bps",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Binlog retention",
            ((f"cdc_binlog_retention_seconds{{{DB}}}", "{{database}}"),),
            "s",
            kind="stat",
            width=8,
            description="0 means files are never purged by age.",
        ),
        Panel("Head position", ((f"cdc_binlog_head_position_bytes{{{DB}}}", "{{database}}"),), "bytes", width=8),
        Panel(
            "Connector lag in bytes",
            (
                (
                    f"cdc_connector_binlog_lag_bytes{{{CN}}} * on (connect_cluster, connector) group_left (database) max by (connect_cluster, connector, database) (cdc_connector_database_info{{{CND}}})",
                    "{{connector}} live",
                ),
                (
                    f"cdc_connector_binlog_committed_lag_bytes{{{CN}}} * on (connect_cluster, connector) group_left (database) max by (connect_cluster, connector, database) (cdc_connector_database_info{{{CND}}})",
                    "{{connector}} committed",
                ),
            ),
            "bytes",
            min_zero=True,
            description="Binlog bytes between each connector's position (live, and its committed offset) and the head.",
        ),
        Panel(
            "Connector position available on the server",
            (
                (
                    f"cdc_connector_binlog_available{{{CN}}} * on (connect_cluster, connector) group_left (database) max by (connect_cluster, connector, database) (cdc_connector_database_info{{{CND}}})",
                    "{{connector}}",
                ),
            ),
            "bool_yes_no",
            kind="stat",
            description="0: the binlog the connector needs to resume was purged or belongs to another server.",
        ),
        Panel(
            "Connector position status",
            ((f"cdc_connector_binlog_status{{{CN}}} == 1", "{{connector}} {{status}}"),),
            "short",
            kind="table",
        ),
        Panel(
            "Purge ETA per connector",
            (
                (
                    f"cdc_connector_binlog_purge_eta_seconds{{{CN}}} * on (connect_cluster, connector) group_left (database) max by (connect_cluster, connector, database) (cdc_connector_database_info{{{CND}}})",
                    "{{connector}} ({{database}})",
                ),
            ),
            "s",
            fault_only=True,
            min_zero=True,
            description="Time until the server purges the file the connector needs; empty when files are never purged by age (retention 0), as on the devstack.",
        ),
        Panel(
            "Prerequisites",
            ((f"cdc_mysql_setting_ok{{{DB}}}", "{{database}} {{setting}}"),),
            "bool_yes_no",
            kind="table",
            width=8,
        ),
        Panel(
            "Privileges of the connectors' user",
            ((f"cdc_mysql_user_privilege_ok{{{DB}}}", "{{database}} {{user}} {{privilege}}"),),
            "bool_yes_no",
            kind="table",
            width=8,
        ),
        Panel(
            "Failovers (24h)",
            ((f"increase(cdc_mysql_failovers_total{{{DB}}}[24h])", "{{database}}"),),
            "short",
            kind="stat",
            width=8,
            min_zero=True,
        ),
        Panel(
            "Checks the monitoring user may not run",
            ((f"cdc_mysql_check_unknown{{{DB}}} == 1", "{{database}} {{check}}"),),
            "short",
            kind="table",
            width=12,
            fault_only=True,
        ),
        Panel("Server id", ((f"cdc_mysql_server_id{{{DB}}}", "{{database}}"),), "none", kind="stat", width=12),
    ),
)

SELF = Dashboard(
    uid="cdc-watch-self",
    title="cdc_watch / cdc_watch itself",
    description="Is cdc_watch able to read its sources, how fast, and what it notified and restarted.",
    variables=(),
    panels=(
        Panel("Sources up", (("cdc_source_up", "{{source}}"),), "bool_yes_no", kind="stat", width=12, height=4),
        Panel(
            "Configuration reload OK",
            (("cdc_config_last_reload_successful", "reload ok"),),
            "bool_yes_no",
            kind="stat",
            width=12,
            height=4,
        ),
        Panel("Poll duration", (("cdc_source_poll_duration_seconds", "{{source}}"),), "s"),
        Panel(
            "Seconds since last successful poll",
            (("time() - cdc_source_last_success_timestamp_seconds", "{{source}}"),),
            "s",
        ),
        Panel(
            "Poll errors per second",
            (("sum by (source, reason) (rate(cdc_source_poll_errors_total[5m]))", "{{source}} {{reason}}"),),
            "reqps",
            fault_only=True,
        ),
        Panel("Polls per second", (("sum by (source) (rate(cdc_source_polls_total[5m]))", "{{source}}"),), "reqps"),
        Panel("Alerts pending", (("cdc_alerts_pending", "pending"),), "short", kind="stat", width=8, height=4),
        Panel(
            "Notification queue",
            (("cdc_notification_queue_length", "{{channel}}"),),
            "short",
            kind="stat",
            width=8,
            height=4,
        ),
        Panel(
            "Remediation mode", (("cdc_remediation_mode == 1", "{{mode}}"),), "short", kind="stat", width=8, height=4
        ),
        Panel(
            "Notifications per second",
            (
                ("sum by (channel) (rate(cdc_notifications_total[5m]))", "{{channel}} sent"),
                ("sum by (channel) (rate(cdc_notification_errors_total[5m]))", "{{channel}} errors"),
            ),
            "reqps",
            min_zero=True,
        ),
        Panel(
            "Automatic restarts (1h)",
            (
                (
                    "sum by (connector, result) (increase(cdc_remediation_restarts_total[1h]))",
                    "{{connector}} {{result}}",
                ),
            ),
            "short",
            fault_only=True,
            min_zero=True,
        ),
        Panel(
            "Restarts held back (1h)",
            (
                (
                    "sum by (connector, reason) (increase(cdc_remediation_suppressed_total[1h]))",
                    "{{connector}} {{reason}}",
                ),
            ),
            "short",
            fault_only=True,
            min_zero=True,
        ),
        Panel(
            "Restarts in the current failure streak",
            (("cdc_remediation_attempts", "{{connector}}"),),
            "short",
            fault_only=True,
            min_zero=True,
        ),
        Panel(
            "Next automatic restart allowed in",
            (("cdc_remediation_next_allowed_timestamp_seconds - time()", "{{connector}}"),),
            "s",
            fault_only=True,
        ),
    ),
)

ALL: tuple[Dashboard, ...] = (OVERVIEW, CONNECT_WORKERS, TASKS, DEBEZIUM, BINLOG, SELF)
