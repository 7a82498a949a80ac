"""The schema history topic checks: pure judgments over what a broker reported of a topic.

Debezium replays its schema history topic from the start whenever a connector starts; a topic
that lost records (finite retention, compaction) or whose records are spread over several
partitions (no order between them) stops the connector at its next start with "The db history
topic is fully or partially missing". The topic must exist, have one partition, keep records
forever by time and by size, and never be compacted.

A topic's setting the broker does not report is taken from the broker's own default
(`log.retention.ms`, then `.minutes`, then `.hours`; `log.retention.bytes`; `log.cleanup.policy`)
when the broker reported those, and is otherwise unknown: a check that cannot be judged is
`None`, never a false alarm. Kafka reports every setting of a topic with its effective value;
some Kafka-compatible brokers (tansu) report only the settings given explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdc_watch.sources.kafka.model import Check, CheckResult, HistoryTopic

LONG_MAX = 2**63 - 1  # Debezium creates its history topic with retention.ms = Long.MAX_VALUE
_MS_PER = {"log.retention.ms": 1, "log.retention.minutes": 60_000, "log.retention.hours": 3_600_000}


@dataclass(frozen=True, slots=True)
class BrokerView:
    """What one poll read from the broker, as plain values (the recorded fixtures' form too)."""

    cluster_id: str
    brokers: int
    partitions: Mapping[str, int]  # every topic the broker listed -> its partition count
    configs: Mapping[str, Mapping[str, str]]  # topic -> the settings reported, for topics read this poll
    broker_configs: Mapping[str, str] | None  # one broker's settings; None when it did not answer


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _retention_ms(topic: Mapping[str, str], broker: Mapping[str, str] | None) -> tuple[int | None, str]:
    """(effective retention.ms, where it came from); None when unknown."""
    if "retention.ms" in topic:
        return _int(topic["retention.ms"]), f"retention.ms={topic['retention.ms']} (topic)"
    for key, factor in _MS_PER.items():
        if broker is not None and key in broker:
            value = _int(broker[key])
            if value is None:
                return None, f"{key}={broker[key]} (broker default, unreadable)"
            return (value if value < 0 else value * factor), f"{key}={broker[key]} (broker default)"
    return None, "retention.ms not reported by the topic nor the broker"


def _retention_bytes(topic: Mapping[str, str], broker: Mapping[str, str] | None) -> tuple[int | None, str]:
    if "retention.bytes" in topic:
        return _int(topic["retention.bytes"]), f"retention.bytes={topic['retention.bytes']} (topic)"
    if broker is not None and "log.retention.bytes" in broker:
        value = broker["log.retention.bytes"]
        return _int(value), f"log.retention.bytes={value} (broker default)"
    return None, "retention.bytes not reported by the topic nor the broker"


def retention(topic: Mapping[str, str], broker: Mapping[str, str] | None) -> CheckResult:
    """Unlimited by time (retention.ms -1, or Long.MAX_VALUE as Debezium sets it) and by size
    (retention.bytes -1): a finite value of either loses history."""
    ms, ms_found = _retention_ms(topic, broker)
    size, size_found = _retention_bytes(topic, broker)
    finite_time = ms is not None and 0 <= ms < LONG_MAX
    finite_size = size is not None and size >= 0
    if finite_time or finite_size:
        bad = [found for found, finite in ((ms_found, finite_time), (size_found, finite_size)) if finite]
        return CheckResult(Check.RETENTION, False, "; ".join(bad))
    if ms is None or size is None:
        return CheckResult(Check.RETENTION, None, ms_found if ms is None else size_found)
    return CheckResult(Check.RETENTION, True, f"{ms_found}; {size_found}")


def cleanup_policy(topic: Mapping[str, str], broker: Mapping[str, str] | None) -> CheckResult:
    """`delete` alone: `compact` (alone or with delete) drops all but the last record per key."""
    if "cleanup.policy" in topic:
        value, where = topic["cleanup.policy"], "topic"
    elif broker is not None and "log.cleanup.policy" in broker:
        value, where = broker["log.cleanup.policy"], "broker default"
    else:
        return CheckResult(Check.CLEANUP_POLICY, None, "cleanup.policy not reported by the topic nor the broker")
    policies = {p.strip().lower() for p in value.split(",") if p.strip()}
    return CheckResult(Check.CLEANUP_POLICY, policies == {"delete"}, f"cleanup.policy={value} ({where})")


def judge(
    connector: str,
    topic: str,
    view: BrokerView,
    configs: Mapping[str, str] | None,
    read_at: float | None = None,
) -> HistoryTopic:
    """The checks of one connector's history topic. `configs`: the topic's settings as the
    broker reported them (None when they could not be read: retention and cleanup unknown)."""
    partitions = view.partitions.get(topic)
    if partitions is None:
        return HistoryTopic(connector, topic, (CheckResult(Check.EXISTS, False, f"topic {topic} not listed"),))
    checks = [
        CheckResult(Check.EXISTS, True, f"topic {topic}"),
        CheckResult(Check.PARTITIONS, partitions == 1, f"{partitions} partitions"),
    ]
    if configs is None:
        checks += [
            CheckResult(Check.RETENTION, None, "topic settings not read"),
            CheckResult(Check.CLEANUP_POLICY, None, "topic settings not read"),
        ]
    else:
        checks += [retention(configs, view.broker_configs), cleanup_policy(configs, view.broker_configs)]
    return HistoryTopic(connector, topic, tuple(checks), partitions, read_at)
