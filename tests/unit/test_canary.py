"""The freshness canary's decisions: which connectors a round probes, the pre-write status check
(on replies recorded from the real stack), results across rounds, the CdcCanaryStale rule and the
exported series. The round itself (MariaDB writes, the broker read) is in tests/e2e/test_canary_e2e.py."""

from __future__ import annotations

import time
from types import MappingProxyType

import httpx
import pytest

from cdc_watch.config import Config, ConfigError, RulesConfig, parse_config
from cdc_watch.core.model import ErrorReason, PollResult, SourceError, SourceFailure, SourceStatus
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.canary import canary_metrics
from cdc_watch.exporter.render import render
from cdc_watch.notify.service import config_secrets
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import make_labels
from cdc_watch.sources.kafka.canary import (
    CanarySource,
    CanaryState,
    ProbeResult,
    Target,
    found_tokens,
    new_token,
    plan_round,
    topic_of,
)
from cdc_watch.sources.mysql.poll import endpoint_of
from generate.snapshots import canary_state, cluster_state
from tests.support.recorded import recorded

BASE = {
    "connect_clusters": [
        {"name": "prod", "url": "http://w1:8083", "kafka": {"bootstrap_servers": "k1:9092"}},
        {"name": "other", "url": "http://w9:8083"},  # no kafka: never probed
    ],
    "databases": [
        {
            "name": "db1",
            "host": "db1.example",
            "user": "mon",
            "canary": {"user": "cdc_canary", "password": "${CDC_UNIT_CANARY_PW}", "interval": "10s", "timeout": "5s"},
        }
    ],
}


@pytest.fixture(autouse=True)
def _canary_password(monkeypatch):
    monkeypatch.setenv("CDC_UNIT_CANARY_PW", "canary-pw-123")


def config(**canary) -> Config:
    data = {**BASE, "databases": [{**BASE["databases"][0], "canary": {**BASE["databases"][0]["canary"], **canary}}]}
    return parse_config(data)


def snapshot(**clusters) -> Snapshot:
    sources = {}
    for name, connectors in clusters.items():
        key = f"connect:{name}"
        if connectors is None:
            result = PollResult(key, "connect", 0.0, 0.1, error=SourceError(ErrorReason.CONNECT, "refused"))
        else:
            result = PollResult(key, "connect", 0.0, 0.1, data=cluster_state(name, connectors))
        sources[key] = SourceStatus(key, "connect").with_result(result)
    return Snapshot(MappingProxyType(sources))


RUNNING = ("RUNNING", {0: "RUNNING@w1:8083"})


def plan(cfg: Config, snap: Snapshot):
    db = cfg.databases[0]
    assert db.canary is not None
    return plan_round(db.canary, db.name, [endpoint_of(db)], cfg.connect_clusters, snap)


# --------------------------------------------------------------------------- config


def test_config_refuses_a_canary_without_a_kafka_cluster_and_a_timeout_past_its_interval():
    data = {**BASE, "connect_clusters": [{"name": "prod", "url": "http://w1:8083"}]}
    with pytest.raises(ConfigError, match=r"connect_clusters\[\]\.kafka"):
        parse_config(data)
    with pytest.raises(ConfigError, match="shorter than its interval"):
        config(timeout="10s")
    with pytest.raises(ConfigError, match="topic template"):
        config(topic="{topic_prefix}.{database}")
    with pytest.raises(ConfigError, match="table"):
        config(table="no-schema")


def test_the_canary_password_is_a_secret_scrubbed_everywhere():
    assert "canary-pw-123" in config_secrets(config())
    assert "canary-pw-123" not in repr(config())


def test_topic_template_fills_prefix_schema_and_table():
    cfg = config(table="ops.beat", topic="cdc.{topic_prefix}.{schema}_{table}")
    assert topic_of(cfg.databases[0].canary, "orders") == "cdc.orders.ops_beat"
    assert topic_of(config().databases[0].canary, "orders") == "orders.cdc_watch.cdc_canary"


# --------------------------------------------------------------------------- planning


def test_a_round_probes_only_running_selected_connectors_of_its_database():
    cfg = config(connectors=["orders", "pay*"])
    got = plan(
        cfg,
        snapshot(
            prod={
                "orders": RUNNING,
                "payments": ("RUNNING", {0: "FAILED@w1:8083"}),
                "paused-one": ("PAUSED", {0: "PAUSED@w1:8083"}),
                "unselected": RUNNING,
            },
            other={"orders": RUNNING},
        ),
    )
    assert [(t.cluster, t.connector, t.topic) for t in got.targets] == [
        ("prod", "orders", "orders.cdc_watch.cdc_canary")
    ]
    # pattern-selected but not running: skipped with the reason; unselected ones and the cluster
    # without kafka are not the canary's at all
    assert dict(got.skipped) == {("prod", "payments"): "task 0 FAILED"}
    assert got.blind_clusters == frozenset()


def test_paused_and_stopped_connectors_are_skipped_not_probed():
    got = plan(config(), snapshot(prod={"a": ("PAUSED", {0: "PAUSED@w1:8083"}), "b": ("STOPPED", {})}))
    assert got.targets == ()
    assert dict(got.skipped) == {("prod", "a"): "connector PAUSED", ("prod", "b"): "connector STOPPED"}


def test_max_connectors_bounds_a_round():
    got = plan(config(max_connectors=2), snapshot(prod={f"c{i}": RUNNING for i in range(5)}))
    assert len(got.targets) == 2
    assert sorted(v for v in got.skipped.values()) == ["over max_connectors (2)"] * 3


def test_an_unreadable_connect_cluster_is_blind_and_nothing_is_written_for_it():
    got = plan(config(), snapshot(prod=None))
    assert got.targets == () and got.blind_clusters == frozenset({"prod"})


def test_tokens_are_found_in_any_record_value_and_only_once():
    a, b = new_token(), new_token()
    assert a != b and len(a) == 37
    pending = {a.encode(): 1, b.encode(): 2}
    values = [None, b"", b'{"after":{"token":"' + b.encode() + b'"}}', b"x" + b.encode(), b"unrelated"]
    assert found_tokens(values, pending) == [b.encode()]


# --------------------------------------------------------------------------- the pre-write check


def _source(cfg: Config, replies: dict[str, str]) -> CanarySource:
    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.split("/")[2]
        reply = recorded("connect", replies[name])
        return httpx.Response(reply["status_code"], json=reply["body"])

    db = cfg.databases[0]
    return CanarySource(db, cfg.connect_clusters, transport_for=lambda _n: httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("connector_status_running", (None, True)),
        ("connector_status_paused", ("connector PAUSED", True)),
        ("connector_status_stopped", ("connector STOPPED", True)),
        ("connector_status_failed_retriable", ("task 0 FAILED", True)),
        ("error_404_status_unknown_connector", ("connector deleted", True)),
    ],
)
def test_the_status_read_right_before_writing_decides(reply, expected):
    """Recorded on the real stack: a connector paused since the last Connect poll is not written for."""
    source = _source(config(), {"orders": reply})
    target = Target("prod", "orders", "orders.cdc_watch.cdc_canary", "http://w1:8083")
    why, readable = source._recheck(target, time.monotonic() + 5)
    if expected[0] == "task 0 FAILED":
        assert why is not None and why.startswith("task ") and why.endswith(" FAILED")
    else:
        assert (why, readable) == expected
    source.close()


def test_an_unreadable_status_holds_instead_of_skipping():
    def refuse(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    cfg = config()
    source = CanarySource(cfg.databases[0], cfg.connect_clusters, transport_for=lambda _n: httpx.MockTransport(refuse))
    assert source._recheck(Target("prod", "orders", "t", "http://w1:8083"), time.monotonic() + 5) == (None, False)
    source.close()


# --------------------------------------------------------------------------- results across rounds


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t


def test_results_track_success_runs_and_totals_across_rounds():
    cfg = config()
    clock = _Clock()
    source = CanarySource(cfg.databases[0], cfg.connect_clusters, clock=clock)  # type: ignore[arg-type]
    key = ("prod", "orders")
    target = Target("prod", "orders", "orders.cdc_watch.cdc_canary", "http://w1:8083")

    first = source._results([target], {}, {key: 0.42}, {}, frozenset(), set(), 0)
    source._last = first
    probe = first.probes[key]
    assert (probe.outcome, probe.latency, probe.last_success_at, probe.active_since) == ("ok", 0.42, 1000.0, 1000.0)

    clock.t = 1060.0
    second = source._results([target], {}, {}, {key: "not on t within 5s"}, frozenset(), set(), 0)
    source._last = second
    probe = second.probes[key]
    assert probe.outcome == "lost" and probe.reason == "not on t within 5s"
    assert probe.latency == 0.42 and probe.last_success_at == 1000.0  # the last success stays
    assert dict(probe.totals) == {"ok": 1, "lost": 1}

    clock.t = 1120.0
    third = source._results([], {key: "connector PAUSED"}, {}, {}, frozenset(), set(), 0)
    source._last = third
    probe = third.probes[key]
    assert probe.outcome == "skipped" and not probe.active and probe.fresh_since is None
    assert probe.topic == "orders.cdc_watch.cdc_canary"

    clock.t = 1500.0  # resumed: a new run of probes, judged from its own start
    fourth = source._results([target], {}, {}, {key: "lost"}, frozenset(), set(), 0)
    source._last = fourth
    assert fourth.probes[key].fresh_since == 1500.0

    # Connect unreadable: the last verdict stands, marked blind
    clock.t = 1560.0
    fifth = source._results([], {}, {}, {}, frozenset({"prod"}), set(), 0)
    assert fifth.probes[key] == fourth.probes[key] and fifth.blind == frozenset({key})

    # gone from Connect: forgotten
    source._last = fifth
    sixth = source._results([], {}, {}, {}, frozenset(), set(), 0)
    assert sixth.probes == {} and key not in source._totals


# --------------------------------------------------------------------------- the rule and the series


def _canary_snapshot(state: CanaryState | None, last_good: CanaryState | None = None) -> Snapshot:
    status = SourceStatus("canary:db1", "canary")
    if last_good is not None:
        status = status.with_result(PollResult("canary:db1", "canary", 0.0, 0.1, data=last_good))
    if state is None:
        status = status.with_result(
            PollResult("canary:db1", "canary", 1.0, 0.1, error=SourceError(ErrorReason.CONNECT, "broker not reachable"))
        )
    else:
        status = status.with_result(PollResult("canary:db1", "canary", 1.0, 0.1, data=state))
    return Snapshot(MappingProxyType({"canary:db1": status}))


ORDERS = make_labels(connect_cluster="prod", connector="orders")


def _detect(snap: Snapshot, now: float, stale: float = 300.0):
    return rules.BY_NAME["CdcCanaryStale"].detect(snap, RulesConfig(canary_stale=f"{stale:g}s"), None, now)


def test_stale_fires_past_the_bound_and_names_the_topic_and_last_probe():
    state = canary_state("db1", {"orders": {"outcome": "lost", "last_success": 0, "since": 0}}, 0.0)
    assert _detect(_canary_snapshot(state), 300.0).verdicts[ORDERS] is None
    evidence = _detect(_canary_snapshot(state), 301.0).verdicts[ORDERS]
    assert evidence is not None
    facts = dict(evidence.facts)
    assert facts["topic"] == "orders.cdc_watch.cdc_canary"
    assert facts["last probe"].startswith("lost")
    assert facts["last canary on the topic"] == "5m1s ago"


def test_a_connector_never_seen_on_its_topic_is_stale_from_the_start_of_its_probes():
    state = canary_state("db1", {"orders": {"outcome": "lost", "since": 100}}, 0.0)
    assert _detect(_canary_snapshot(state), 400.0).verdicts[ORDERS] is None
    evidence = _detect(_canary_snapshot(state), 401.0).verdicts[ORDERS]
    assert evidence is not None and dict(evidence.facts)["last canary on the topic"] == "never"


def test_a_skipped_connector_is_not_stale():
    state = canary_state("db1", {"orders": {"outcome": "skipped", "last_success": 0}}, 0.0)
    assert _detect(_canary_snapshot(state), 10_000.0).verdicts[ORDERS] is None


def test_a_failed_round_holds_the_connectors_it_probed_last():
    good = canary_state("db1", {"orders": {"outcome": "lost", "last_success": 0, "since": 0}}, 0.0)
    observation = _detect(_canary_snapshot(None, last_good=good), 10_000.0)
    assert observation.verdicts == {} and ORDERS in observation.blind


def test_series_per_connector_and_none_while_rounds_fail():
    state = canary_state("db1", {"orders": {"outcome": "ok", "last_success": 50, "since": 0, "latency": 0.6}}, 1000.0)
    body = render(_canary_snapshot(state), [canary_metrics]).decode()
    assert 'cdc_canary_active{connect_cluster="prod",connector="orders"} 1' in body
    assert 'cdc_canary_latency_seconds{connect_cluster="prod",connector="orders"} 0.6' in body
    assert 'cdc_canary_last_success_timestamp_seconds{connect_cluster="prod",connector="orders"} 1050' in body
    assert 'cdc_canary_probes_total{connect_cluster="prod",connector="orders",outcome="ok"} 1' in body
    assert 'cdc_canary_probes_total{connect_cluster="prod",connector="orders",outcome="lost"} 0' in body
    failed = render(_canary_snapshot(None, last_good=state), [canary_metrics]).decode()
    assert "cdc_canary_" not in failed.replace("# HELP cdc_canary_", "").replace("# TYPE cdc_canary_", "")


def test_probe_result_fresh_since_is_the_later_of_success_and_run_start():
    probe = ProbeResult("prod", "orders", "t", "lost", last_success_at=10.0, active_since=50.0)
    assert probe.fresh_since == 50.0
    assert ProbeResult("prod", "orders", "t", "ok", last_success_at=90.0, active_since=50.0).fresh_since == 90.0


def test_an_unreachable_broker_fails_the_round_as_connect_and_drops_its_consumer():
    """A real librdkafka consumer against a port nothing listens on."""
    data = {
        **BASE,
        "connect_clusters": [
            {"name": "prod", "url": "http://w1:8083", "kafka": {"bootstrap_servers": "127.0.0.1:1", "timeout": "1s"}}
        ],
    }
    cfg = parse_config(data)
    source = CanarySource(cfg.databases[0], cfg.connect_clusters)
    target = Target("prod", "orders", "orders.cdc_watch.cdc_canary", "http://w1:8083")
    started = time.monotonic()
    with pytest.raises(SourceFailure) as failure:
        source._probe([target], time.monotonic() + 3)
    assert failure.value.reason in (ErrorReason.CONNECT, ErrorReason.TIMEOUT)
    assert "kafka 127.0.0.1:1 PLAINTEXT" in failure.value.message
    assert time.monotonic() - started < 5
    assert source._consumers == {}  # nothing of the failed round is kept
    source.close()
