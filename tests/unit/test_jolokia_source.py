"""Jolokia source I/O against a fake transport that asserts the exact requests, and its metrics."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import MappingProxyType

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.config import parse_config
from cdc_watch.core.model import ErrorReason, PollResult, SourceFailure
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.exporter.jolokia import jolokia_metrics
from cdc_watch.exporter.render import render
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
    TaskStatus,
)
from cdc_watch.sources.jolokia import parse
from cdc_watch.sources.jolokia.poll import JolokiaSource

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "jolokia"
W1, W2 = "127.0.0.1:18083", "127.0.0.1:18084"


def reply(name: str) -> list:
    return json.loads((FIXTURES / name).read_text())["reply"]


class FakeJolokia:
    """Answers POST <url> with a recorded bulk reply; fails on anything unexpected."""

    def __init__(self, routes: dict[str, object]):
        self.routes = routes
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        with self.lock:
            self.seen.append(url)
        assert request.method == "POST", request.method
        assert url in self.routes, f"unexpected request to {url}"
        assert json.loads(request.content) == parse.bulk_request()
        answer = self.routes[url]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, text="nope")
        return httpx.Response(200, text=json.dumps(answer), headers={"Content-Type": "text/plain;charset=utf-8"})


def config(jolokia: dict):
    return parse_config({"connect_clusters": [{"name": "dev", "url": "http://connect:8083", "jolokia": jolokia}]})


def connect_state(prefix: str = "dbserver1", worker: str = W1) -> ConnectClusterState:
    c = ConnectorStatus(
        "inventory-connector",
        "source",
        State.RUNNING,
        worker,
        (TaskStatus(0, State.RUNNING, worker),),
        ConnectorSettings(connector_class="io.debezium.connector.mysql.MySqlConnector", topic_prefix=prefix),
    )
    return ConnectClusterState("dev", "http://connect:8083", "3.9.0", "x", "k", MappingProxyType({c.name: c}))


def store_with(cfg, connect: ConnectClusterState | None) -> SnapshotStore:
    store = SnapshotStore()
    store.register([("connect:dev", "connect"), ("jolokia:dev", "jolokia")])
    if connect is not None:
        store.record(PollResult("connect:dev", "connect", 1000.0, 0.1, data=connect))
    return store


URL1, URL2 = "http://w1:8778/jolokia", "http://w2:8778/jolokia"


def test_one_bulk_post_per_endpoint_and_join():
    cfg = config({"urls": [URL1, URL2]})
    fake = FakeJolokia({URL1: reply("bulk_worker_with_debezium.json"), URL2: reply("bulk_worker_idle.json")})
    source = JolokiaSource(cfg.connect_clusters[0], httpx.MockTransport(fake))
    try:
        state = source.poll(store_with(cfg, connect_state()).current())
    finally:
        source.close()
    assert sorted(fake.seen) == [URL1, URL2]
    assert set(state.endpoints) == {URL1, URL2} and all(r.up for r in state.endpoints.values())
    assert state.streaming["inventory-connector"].connected is True
    assert state.streaming_mbean_present("inventory-connector") is True
    assert source.name == "jolokia:dev" and source.kind == "jolokia"


def test_one_endpoint_down_is_reported_per_endpoint_not_as_a_failed_source():
    cfg = config({"urls": [URL1, URL2]})
    fake = FakeJolokia({URL1: reply("bulk_worker_with_debezium.json"), URL2: httpx.ConnectError("refused")})
    source = JolokiaSource(cfg.connect_clusters[0], httpx.MockTransport(fake))
    state = source.poll(store_with(cfg, connect_state()).current())
    source.close()
    assert state.endpoints[URL1].up
    assert state.endpoints[URL2].error is not None and state.endpoints[URL2].error.reason is ErrorReason.CONNECT


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.ConnectError("refused"), ErrorReason.CONNECT),
        (httpx.ReadTimeout("slow"), ErrorReason.TIMEOUT),
        (401, ErrorReason.AUTH),
        (500, ErrorReason.HTTP_STATUS),
        ({"not": "a list"}, ErrorReason.DECODE),
    ],
)
def test_source_fails_only_when_every_endpoint_failed(answer, reason):
    cfg = config({"urls": [URL1, URL2]})
    source = JolokiaSource(cfg.connect_clusters[0], httpx.MockTransport(FakeJolokia({URL1: answer, URL2: answer})))
    with pytest.raises(SourceFailure) as caught:
        source.poll(store_with(cfg, connect_state()).current())
    source.close()
    assert caught.value.reason is reason
    assert "all 2 Jolokia endpoints failed" in caught.value.message


def test_credentials_never_in_labels_or_messages(monkeypatch):
    monkeypatch.setenv("JPW", "s3cr3t-pass")
    cfg = config({"urls": ["http://w1:8778/jolokia"], "auth": {"username": "mon", "password": "${JPW}"}})
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        raise httpx.ConnectError("refused s3cr3t-pass?")

    source = JolokiaSource(cfg.connect_clusters[0], httpx.MockTransport(handler))
    with pytest.raises(SourceFailure) as caught:
        source.poll(store_with(cfg, None).current())
    source.close()
    assert seen and seen[0].startswith("Basic ")  # basic auth is sent
    assert "s3cr3t" not in caught.value.message


def test_template_endpoints_come_from_the_connect_workers():
    cfg = config({"url_template": "http://{host}:8778/jolokia"})
    state_connect = connect_state(worker="w1:8083")
    fake = FakeJolokia({URL1: reply("bulk_worker_idle.json")})
    source = JolokiaSource(cfg.connect_clusters[0], httpx.MockTransport(fake))
    state = source.poll(store_with(cfg, state_connect).current())
    source.close()
    assert fake.seen == [URL1]
    assert list(state.endpoints) == ["w1:8083"]
    # the worker answered without the streaming MBean under a RUNNING task
    assert state.streaming_present == {"inventory-connector": {0: False}}


def test_template_without_any_connect_poll_fails_clearly():
    cfg = config({"url_template": "http://{host}:8778/jolokia"})
    source = JolokiaSource(cfg.connect_clusters[0], httpx.MockTransport(FakeJolokia({})))
    with pytest.raises(SourceFailure) as caught:
        source.poll(store_with(cfg, None).current())
    source.close()
    assert "url_template needs a Connect poll" in caught.value.message


def test_without_connect_data_poll_succeeds_and_defers_the_join():
    cfg = config({"urls": [URL1]})
    source = JolokiaSource(
        cfg.connect_clusters[0], httpx.MockTransport(FakeJolokia({URL1: reply("bulk_worker_with_debezium.json")}))
    )
    state = source.poll(store_with(cfg, None).current())
    source.close()
    assert not state.joined and state.unjoined == ("dbserver1",)


# --------------------------------------------------------------------------- metrics


def families(body: bytes) -> dict:
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def sample(fams: dict, name: str, **labels: str) -> float | None:
    base = name.removesuffix("_total")
    fam = fams.get(name) or fams.get(base)
    if fam is None:
        return None
    for s in fam.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_metrics_from_a_successful_poll():
    cfg = config({"urls": [URL1, URL2]})
    store = store_with(cfg, connect_state())
    source = JolokiaSource(
        cfg.connect_clusters[0],
        httpx.MockTransport(
            FakeJolokia({URL1: reply("bulk_worker_with_debezium.json"), URL2: reply("bulk_jolokia25_variant.json")})
        ),
    )
    state = source.poll(store.current())
    source.close()
    store.record(PollResult("jolokia:dev", "jolokia", 2000.0, 0.1, data=state))
    fams = families(render(store.current(), [jolokia_metrics(lambda: cfg)]))
    c = {"connect_cluster": "dev", "connector": "inventory-connector"}
    assert sample(fams, "cdc_jolokia_up", connect_cluster="dev", endpoint=URL1) == 1
    assert sample(fams, "cdc_debezium_streaming_connected", **c) == 1
    assert sample(fams, "cdc_debezium_streaming_mbean_present", task="0", **c) == 1
    assert sample(fams, "cdc_debezium_streaming_binlog_file_number", **c) == 1
    ms_since = state.streaming["inventory-connector"].ms_since_last_event
    assert sample(fams, "cdc_debezium_streaming_last_event_timestamp_seconds", **c) == pytest.approx(
        2000.0 - ms_since / 1000
    )
    assert sample(fams, "cdc_debezium_snapshot_rows_scanned", table="inventory.customers", **c) >= 1
    assert sample(fams, "cdc_debezium_schema_history_status", status="RUNNING", **c) == 1
    assert sample(fams, "cdc_debezium_schema_history_status", status="STOPPED", **c) == 0
    ratio = sample(fams, "cdc_task_offset_commit_success_ratio", task="0", **c)
    assert ratio is not None and 0 <= ratio <= 1
    # "db:1" (2.5 variant) has NaN averages: no sample rather than NaN
    assert sample(fams, "cdc_task_running_ratio", connect_cluster="dev", connector="db:1", task="0") == 1
    assert sample(fams, "cdc_task_offset_commit_avg_seconds", connect_cluster="dev", connector="db:1", task="0") is None
    # +Infinity time-since-last-rebalance on the 2.5 endpoint -> no timestamp for it
    assert sample(fams, "cdc_worker_last_rebalance_timestamp_seconds", connect_cluster="dev", endpoint=URL2) is None
    assert (
        sample(fams, "cdc_worker_last_rebalance_timestamp_seconds", connect_cluster="dev", endpoint=URL1) < 2000.0 + 1
    )


def test_failed_poll_exports_every_configured_endpoint_as_down():
    cfg = config({"urls": [URL1, URL2]})
    store = store_with(cfg, connect_state())
    from cdc_watch.core.model import SourceError

    store.record(PollResult("jolokia:dev", "jolokia", 2000.0, 0.1, error=SourceError(ErrorReason.CONNECT, "down")))
    fams = families(render(store.current(), [jolokia_metrics(lambda: cfg)]))
    assert sample(fams, "cdc_jolokia_up", connect_cluster="dev", endpoint=URL1) == 0
    assert sample(fams, "cdc_jolokia_up", connect_cluster="dev", endpoint=URL2) == 0
    assert "cdc_debezium_streaming_connected" not in fams


def test_missing_streaming_mbean_is_exported_as_zero():
    cfg = config({"urls": [URL1]})
    store = store_with(cfg, connect_state(prefix="purged-prefix"))
    source = JolokiaSource(
        cfg.connect_clusters[0], httpx.MockTransport(FakeJolokia({URL1: reply("bulk_worker_with_debezium.json")}))
    )
    state = source.poll(store.current())
    source.close()
    store.record(PollResult("jolokia:dev", "jolokia", 2000.0, 0.1, data=state))
    fams = families(render(store.current(), [jolokia_metrics(lambda: cfg)]))
    assert (
        sample(
            fams,
            "cdc_debezium_streaming_mbean_present",
            connect_cluster="dev",
            connector="inventory-connector",
            task="0",
        )
        == 0
    )
    assert sample(fams, "cdc_jolokia_unjoined_mbeans", connect_cluster="dev") == 1


def test_one_failed_connect_poll_keeps_the_join_on_the_last_good_data_for_a_while():
    from cdc_watch.core.clock import FakeClock
    from cdc_watch.core.model import SourceError
    from cdc_watch.sources.jolokia.poll import CONNECT_STALE_POLLS

    cfg = config({"urls": [URL1]})
    store = store_with(cfg, connect_state())  # good Connect poll at t=1000
    store.record(PollResult("connect:dev", "connect", 1015.0, 0.1, error=SourceError(ErrorReason.TIMEOUT, "timed out")))
    clock = FakeClock(start=1020.0)
    source = JolokiaSource(
        cfg.connect_clusters[0],
        httpx.MockTransport(FakeJolokia({URL1: reply("bulk_worker_with_debezium.json")})),
        clock,
    )
    state = source.poll(store.current())
    assert state.joined and state.streaming["inventory-connector"].connected is True
    assert state.streaming_mbean_present("inventory-connector") is True
    clock.advance(1000.0 + CONNECT_STALE_POLLS * cfg.connect_clusters[0].poll_interval + 1 - 1020.0)
    stale = source.poll(store.current())  # the last good Connect data is too old now
    source.close()
    assert not stale.joined and stale.streaming == {} and stale.unjoined == ("dbserver1",)
