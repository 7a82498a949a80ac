"""Record what the devstack broker answers the Kafka source's AdminClient requests.

Usage (with the devstack env of your shell, e.g. CDC_DEVSTACK_DIR and ports):
    .venv/bin/python scripts/record_kafka.py

Creates four history-like topics if they are missing (one safe, one with a finite retention,
one compacted, one with three partitions), then writes tests/fixtures/kafka/<broker>.json: the
all-topics metadata (partition counts of the recorded topics and of the devstack's Debezium
history topic only) and the DescribeConfigs replies for those topics and for the broker. No
credentials are involved: the devstack broker is PLAINTEXT without SASL.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack import Stack

OUT = REPO / "tests" / "fixtures" / "kafka" / "tansu-0.6.0.json"
SAFE = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
TOPICS = {
    "rec-history-safe": (1, SAFE),
    "rec-history-finite": (1, {"retention.ms": "604800000", "cleanup.policy": "delete"}),
    "rec-history-compact": (1, {**SAFE, "cleanup.policy": "compact"}),
    "rec-history-partitions": (3, {}),
}


def main() -> None:
    stack = Stack()
    admin = AdminClient({"bootstrap.servers": stack.broker_bootstrap, "socket.timeout.ms": 10_000})
    listed = admin.list_topics(timeout=10)
    missing = [NewTopic(n, p, 1, config=c) for n, (p, c) in TOPICS.items() if n not in listed.topics]
    for future in (admin.create_topics(missing, request_timeout=10) if missing else {}).values():
        future.result(10)
    listed = admin.list_topics(timeout=10)
    debezium = sorted(n for n in listed.topics if n.startswith("schema-history."))[:1]
    keep = [*TOPICS, *debezium]
    resources = [ConfigResource(ResourceType.TOPIC, n) for n in keep]
    resources.append(ConfigResource(ResourceType.BROKER, str(listed.controller_id)))
    described = {}
    for resource, future in admin.describe_configs(resources, request_timeout=10).items():
        kind = "broker" if resource.restype == ResourceType.BROKER else "topic"
        described[f"{kind}:{resource.name}"] = {k: e.value for k, e in sorted(future.result(10).items())}
    record = {
        "_recorded": {
            "broker": "tansu 0.6.0 (devstack)",
            "client": "confluent-kafka AdminClient list_topics() and describe_configs()",
            "date": datetime.date.today().isoformat(),
            "note": "topics other than these were left out of the listing",
        },
        "cluster_id": listed.cluster_id,
        "controller_id": listed.controller_id,
        "brokers": sorted(listed.brokers),
        "topics": {n: len(listed.topics[n].partitions) for n in keep},
        "describe_configs": described,
    }
    OUT.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
