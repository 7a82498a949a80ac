"""Exporter contributor for the schema history topic checks (`kafka:<cluster>` results)."""

from __future__ import annotations

from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.sources.kafka.model import KafkaClusterState


def schema_history_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    for status in snapshot.by_kind("kafka"):
        state = status.data
        if not isinstance(state, KafkaClusterState):
            continue  # unreadable: cdc_source_up says so; no stale verdicts are shown
        cluster = status.source.split(":", 1)[1]
        out.add("cdc_schema_history_topics_stale", labels(("connect_cluster", cluster)), len(state.stale))
        for connector, topic in state.history.items():
            base = labels(("connect_cluster", cluster), ("connector", connector))
            out.add("cdc_schema_history_topic_info", f"{base},{labels(('topic', topic.topic))}", 1)
            out.add("cdc_schema_history_topic_partitions", base, topic.partitions)
            for check in topic.checks:
                if check.ok is not None:
                    out.add(
                        "cdc_schema_history_topic_ok", f"{base},{labels(('check', check.check.value))}", int(check.ok)
                    )
