"""The Kafka Connect MBean attributes cdc_watch reads, and the metric each one becomes.

This is the one table to edit to read and export another Connect JMX attribute: the Jolokia
bulk request asks for every attribute listed here (in this order, per group), and the
exporter turns every row that names a metric into that metric, scaled (milliseconds to
seconds). Rows without a metric are read for other uses (joins, derived metrics written by
hand in `exporter/jolokia.py`, or kept for the recorded replies). A test checks each named
metric against the catalogue. Debezium's MBeans are parsed into typed values instead
(`model.StreamingMetrics` and friends), since the rules read them field by field.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdc_watch.sources.jolokia.model import Group

MS = 0.001


@dataclass(frozen=True, slots=True)
class Attribute:
    group: Group
    name: str  # the JMX attribute
    metric: str | None = None  # the cdc_ metric it is exported as, if one-to-one
    scale: float = 1.0
    help: str = ""  # the metric's HELP text (the catalogue takes it from here)


ATTRIBUTES: tuple[Attribute, ...] = (
    # worker
    Attribute(
        Group.WORKER,
        "connector-count",
        "cdc_worker_connectors",
        help="Connectors running on this worker (JMX connector-count). Cached from the last background poll.",
    ),
    Attribute(
        Group.WORKER,
        "task-count",
        "cdc_worker_tasks",
        help="Tasks running on this worker (JMX task-count). Cached from the last background poll.",
    ),
    Attribute(
        Group.WORKER,
        "connector-startup-attempts-total",
        "cdc_worker_connector_startup_attempts_total",
        help="Connector start attempts on this worker since it started. Cached from the last background poll.",
    ),
    Attribute(
        Group.WORKER,
        "connector-startup-failure-total",
        "cdc_worker_connector_startup_failures_total",
        help="Connector starts that failed on this worker since it started. Cached from the last background poll.",
    ),
    Attribute(
        Group.WORKER,
        "task-startup-attempts-total",
        "cdc_worker_task_startup_attempts_total",
        help="Task start attempts on this worker since it started. Cached from the last background poll.",
    ),
    Attribute(
        Group.WORKER,
        "task-startup-failure-total",
        "cdc_worker_task_startup_failures_total",
        help="Task starts that failed on this worker since it started. Cached from the last background poll.",
    ),
    # worker-connector: one-hot by state in cdc_worker_connector_tasks (exporter/jolokia.py)
    Attribute(Group.WORKER_CONNECTOR, "connector-total-task-count"),
    Attribute(Group.WORKER_CONNECTOR, "connector-running-task-count"),
    Attribute(Group.WORKER_CONNECTOR, "connector-paused-task-count"),
    Attribute(Group.WORKER_CONNECTOR, "connector-failed-task-count"),
    Attribute(Group.WORKER_CONNECTOR, "connector-unassigned-task-count"),
    Attribute(Group.WORKER_CONNECTOR, "connector-destroyed-task-count"),
    Attribute(Group.WORKER_CONNECTOR, "connector-restarting-task-count"),
    # rebalance
    Attribute(
        Group.REBALANCE,
        "rebalancing",
        "cdc_worker_rebalancing",
        help="1 while this worker is rebalancing. Cached from the last background poll.",
    ),
    Attribute(
        Group.REBALANCE,
        "completed-rebalances-total",
        "cdc_worker_rebalances_total",
        help="Rebalances completed by this worker. Cached from the last background poll.",
    ),
    Attribute(Group.REBALANCE, "time-since-last-rebalance-ms"),  # -> cdc_worker_last_rebalance_timestamp_seconds
    Attribute(
        Group.REBALANCE,
        "rebalance-avg-time-ms",
        "cdc_worker_rebalance_avg_seconds",
        MS,
        help="Average rebalance duration on this worker (Kafka's sample window). Cached from the last background poll.",
    ),
    Attribute(
        Group.REBALANCE,
        "rebalance-max-time-ms",
        "cdc_worker_rebalance_max_seconds",
        MS,
        help="Longest rebalance on this worker (Kafka's sample window). Cached from the last background poll.",
    ),
    Attribute(Group.REBALANCE, "epoch"),
    # connector
    Attribute(Group.CONNECTOR, "status"),  # kept with the reading; Connect REST gives the state
    Attribute(Group.CONNECTOR, "connector-type"),
    # connector-task
    Attribute(
        Group.CONNECTOR_TASK,
        "running-ratio",
        "cdc_task_running_ratio",
        help="Fraction of time the task spent running. Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "pause-ratio",
        "cdc_task_pause_ratio",
        help="Fraction of time the task spent paused. Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "offset-commit-max-time-ms",
        "cdc_task_offset_commit_max_seconds",
        MS,
        help="Longest offset commit of the task. Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "offset-commit-avg-time-ms",
        "cdc_task_offset_commit_avg_seconds",
        MS,
        help="Average offset commit time of the task. Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "offset-commit-success-percentage",
        "cdc_task_offset_commit_success_ratio",
        help="Share of the task's offset commits that succeeded, 0..1. Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "offset-commit-failure-percentage",
        "cdc_task_offset_commit_failure_ratio",
        help="Share of the task's offset commits that failed, 0..1. Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "batch-size-max",
        "cdc_task_batch_size_max",
        help="Largest batch of the task (Kafka's sample window). Cached from the last background poll.",
    ),
    Attribute(
        Group.CONNECTOR_TASK,
        "batch-size-avg",
        "cdc_task_batch_size_avg",
        help="Average records per batch of the task (Kafka's sample window). Cached from the last background poll.",
    ),
    # source-task
    Attribute(
        Group.SOURCE_TASK,
        "source-record-poll-total",
        "cdc_task_source_records_polled_total",
        help="Records the source task's poll() returned since the task started (before transforms). Cached from the last background poll.",
    ),
    Attribute(
        Group.SOURCE_TASK,
        "source-record-write-total",
        "cdc_task_source_records_written_total",
        help="Records the source task wrote to Kafka since the task started (after transforms). Cached from the last background poll.",
    ),
    Attribute(Group.SOURCE_TASK, "source-record-poll-rate"),
    Attribute(Group.SOURCE_TASK, "source-record-write-rate"),
    Attribute(
        Group.SOURCE_TASK,
        "poll-batch-avg-time-ms",
        "cdc_task_source_poll_batch_avg_seconds",
        MS,
        help="Average time of a source task poll batch. Cached from the last background poll.",
    ),
    Attribute(Group.SOURCE_TASK, "poll-batch-max-time-ms"),
    Attribute(
        Group.SOURCE_TASK,
        "source-record-active-count",
        "cdc_task_source_records_active",
        help="Records polled by the source task but not yet acknowledged by Kafka. Cached from the last background poll.",
    ),
    # sink-task
    Attribute(
        Group.SINK_TASK,
        "sink-record-read-total",
        "cdc_task_sink_records_read_total",
        help="Records the sink task read from Kafka. Cached from the last background poll.",
    ),
    Attribute(
        Group.SINK_TASK,
        "sink-record-send-total",
        "cdc_task_sink_records_sent_total",
        help="Records the sink task passed to put() after transforms. Cached from the last background poll.",
    ),
    Attribute(Group.SINK_TASK, "sink-record-read-rate"),
    Attribute(Group.SINK_TASK, "sink-record-send-rate"),
    Attribute(
        Group.SINK_TASK,
        "sink-record-lag-max",
        "cdc_task_sink_record_lag_max",
        help="Largest consumer lag in records of the sink task's partitions. Cached from the last background poll.",
    ),
    Attribute(Group.SINK_TASK, "partition-count"),
    Attribute(
        Group.SINK_TASK,
        "offset-commit-completion-total",
        "cdc_task_sink_offset_commits_total",
        help="Offset commits the sink task completed. Cached from the last background poll.",
    ),
    Attribute(
        Group.SINK_TASK,
        "offset-commit-skip-total",
        "cdc_task_sink_offset_commit_skips_total",
        help="Offset commits the sink task skipped. Cached from the last background poll.",
    ),
    Attribute(
        Group.SINK_TASK,
        "put-batch-avg-time-ms",
        "cdc_task_sink_put_batch_avg_seconds",
        MS,
        help="Average time of the sink task's put(). Cached from the last background poll.",
    ),
    Attribute(
        Group.SINK_TASK,
        "put-batch-max-time-ms",
        "cdc_task_sink_put_batch_max_seconds",
        MS,
        help="Longest put() of the sink task. Cached from the last background poll.",
    ),
    Attribute(Group.SINK_TASK, "sink-record-active-count"),
    # task-error
    Attribute(
        Group.TASK_ERROR,
        "total-record-failures",
        "cdc_task_record_failures_total",
        help="Record processing failures of the task (converters, transforms). Cached from the last background poll.",
    ),
    Attribute(
        Group.TASK_ERROR,
        "total-record-errors",
        "cdc_task_record_errors_total",
        help="Records that failed processing after retries. Cached from the last background poll.",
    ),
    Attribute(
        Group.TASK_ERROR,
        "total-records-skipped",
        "cdc_task_records_skipped_total",
        help="Records skipped by errors.tolerance=all. Cached from the last background poll.",
    ),
    Attribute(
        Group.TASK_ERROR,
        "total-retries",
        "cdc_task_retries_total",
        help="Retried record operations of the task. Cached from the last background poll.",
    ),
    Attribute(
        Group.TASK_ERROR,
        "total-errors-logged",
        "cdc_task_errors_logged_total",
        help="Errors the task logged (errors.log.enable). Cached from the last background poll.",
    ),
    Attribute(
        Group.TASK_ERROR,
        "deadletterqueue-produce-requests",
        "cdc_task_dlq_produce_requests_total",
        help="Records the task tried to write to its dead letter queue. Cached from the last background poll.",
    ),
    Attribute(
        Group.TASK_ERROR,
        "deadletterqueue-produce-failures",
        "cdc_task_dlq_produce_failures_total",
        help="Dead letter queue writes of the task that failed. Cached from the last background poll.",
    ),
    Attribute(Group.TASK_ERROR, "last-error-timestamp"),  # -> cdc_task_last_error_timestamp_seconds
    # client
    Attribute(
        Group.CLIENT,
        "connection-count",
        "cdc_worker_group_connections",
        help="Open connections of the worker's group-membership client to the brokers. Cached from the last background poll.",
    ),
    Attribute(
        Group.CLIENT,
        "request-total",
        "cdc_worker_group_requests_total",
        help="Requests sent by the worker's group-membership client. Cached from the last background poll.",
    ),
    Attribute(
        Group.CLIENT,
        "response-total",
        "cdc_worker_group_responses_total",
        help="Responses received by the worker's group-membership client. Cached from the last background poll.",
    ),
    Attribute(Group.CLIENT, "request-rate"),
    Attribute(Group.CLIENT, "response-rate"),
    Attribute(
        Group.CLIENT,
        "incoming-byte-total",
        "cdc_worker_group_received_bytes_total",
        help="Bytes received by the worker's group-membership client. Cached from the last background poll.",
    ),
    Attribute(
        Group.CLIENT,
        "outgoing-byte-total",
        "cdc_worker_group_sent_bytes_total",
        help="Bytes sent by the worker's group-membership client. Cached from the last background poll.",
    ),
    Attribute(
        Group.CLIENT,
        "io-ratio",
        "cdc_worker_group_io_ratio",
        help="Fraction of time the worker's group-membership client spent on I/O. Cached from the last background poll.",
    ),
    Attribute(Group.CLIENT, "io-wait-ratio"),
)

# Where the metric of each group's rows is exported, by its labels beyond connect_cluster.
TASK_GROUPS = frozenset({Group.CONNECTOR_TASK, Group.SOURCE_TASK, Group.SINK_TASK, Group.TASK_ERROR})
ENDPOINT_GROUPS = frozenset({Group.WORKER, Group.REBALANCE, Group.CLIENT})


def attributes(group: Group) -> tuple[str, ...]:
    """The attributes the bulk request asks for in `group`'s read, in table order."""
    return tuple(a.name for a in ATTRIBUTES if a.group is group)


@dataclass(frozen=True, slots=True)
class Exported:
    """A row that becomes a metric one-to-one: read `name` in `group`, write `metric`."""

    group: Group
    name: str
    metric: str
    scale: float


def exported(group: Group) -> tuple[Exported, ...]:
    """The rows of `group` that become a metric one-to-one, in table order."""
    return tuple(Exported(a.group, a.name, a.metric, a.scale) for a in ATTRIBUTES if a.group is group and a.metric)
