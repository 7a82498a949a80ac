"""What one poll of the Kafka source costs against the devstack broker.

    .venv/bin/python benchmarks/bench_kafka_history.py [connectors]

Creates `connectors` (default 300) one-partition history topics on the running devstack's
broker (once; names bench-hist-<i>), fakes a Connect state in which as many connectors name
them, and times consecutive polls of the real source with the real AdminClient: the first reads
the settings of MAX_TOPIC_CONFIGS_PER_POLL topics, the next ones the rest in turn. Prints wall
time and CPU time per poll and how many topics were left stale; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka.admin import AdminClient, NewTopic

from cdc_watch.config import ConnectCluster
from cdc_watch.core.model import PollResult, SourceStatus
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorSettings, ConnectorStatus, State
from cdc_watch.sources.kafka.poll import MAX_TOPIC_CONFIGS_PER_POLL, KafkaSource
from devstack import Stack


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    bootstrap = Stack().broker_bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"bench-hist-{i:05d}" for i in range(count)]
    listed = admin.list_topics(timeout=10).topics
    new = [
        NewTopic(n, 1, 1, config={"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"})
        for n in names
        if n not in listed
    ]
    for future in (admin.create_topics(new, request_timeout=30) if new else {}).values():
        future.result(30)
    connectors = {
        f"c{i}": ConnectorStatus(
            f"c{i}", "source", State.RUNNING, "w", (), ConnectorSettings("x", schema_history_topic=n)
        )
        for i, n in enumerate(names)
    }
    state = ConnectClusterState("bench", "http://w", "3.9.0", "c", "kc", MappingProxyType(connectors))
    connect = SourceStatus("connect:bench", "connect").with_result(PollResult("connect:bench", "connect", 0, 0, state))
    cluster = ConnectCluster.model_validate(
        {"name": "bench", "urls": ["http://w:8083"], "kafka": {"bootstrap_servers": bootstrap}}
    )
    source = KafkaSource(cluster)
    kafka = SourceStatus("kafka:bench", "kafka")
    print(f"{count} history topics, at most {MAX_TOPIC_CONFIGS_PER_POLL} described per poll")
    for poll in range(1, 2 + count // MAX_TOPIC_CONFIGS_PER_POLL):
        snapshot = Snapshot(MappingProxyType({"connect:bench": connect, "kafka:bench": kafka}))
        wall, cpu = time.perf_counter(), time.process_time()
        result = source.poll(snapshot)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        kafka = kafka.with_result(PollResult("kafka:bench", "kafka", time.time(), wall, result))
        unknown = sum(1 for t in result.history.values() if t.ok is None)
        print(
            f"poll {poll}: {wall * 1000:.1f} ms wall, {cpu * 1000:.1f} ms CPU, "
            f"{result.topics} topics listed, {len(result.stale)} stale, {unknown} not judged"
        )


if __name__ == "__main__":
    main()
