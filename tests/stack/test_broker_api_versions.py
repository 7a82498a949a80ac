"""The broker (tansu 0.6.0) speaks a common protocol version with every Connect version's clients.

Kafka 4.x clients no longer speak request versions older than Kafka 2.1's (KIP-896: e.g.
Produce >= 3, Fetch >= 4, OffsetCommit >= 2); a broker that offered only older ones would be
refused. Checked against each version's own kafka-clients jar and the running broker.
"""

from __future__ import annotations

import pytest

from devstack import CONNECT_VERSIONS, kafka_api

pytestmark = pytest.mark.stack

# What a distributed Connect worker and Debezium's schema history ask of the broker.
CONNECT_NEEDS = (
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "ApiVersions",
    "CreateTopics",
    "InitProducerId",
    "DescribeConfigs",
    "DescribeCluster",
)


@pytest.mark.parametrize("key", list(CONNECT_VERSIONS))
def test_broker_serves_a_common_version_of_every_api_the_clients_know(stack, key):
    version = CONNECT_VERSIONS[key]
    broker = kafka_api.broker_api_versions("127.0.0.1", stack.ports.broker)
    client = kafka_api.client_api_versions(version)
    gaps = kafka_api.gaps(client, broker)
    assert {name: why for name, why in gaps.items() if why != "not served"} == {}
    assert [name for name in CONNECT_NEEDS if name in gaps] == []
    if version.connect.startswith("4."):
        # KIP-896 floor really is in these clients, so the check above means something.
        by_name = {r.name: r for r in client.values()}
        assert (by_name["Produce"].oldest, by_name["Fetch"].oldest, by_name["OffsetCommit"].oldest) == (3, 4, 2)
    # Not served, and not used by Connect: the KIP-848 consumer group protocol (Connect's
    # workers use the classic group protocol) and share groups.
    assert gaps.get("ConsumerGroupHeartbeat") == "not served"
