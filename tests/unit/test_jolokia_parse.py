"""Pure Jolokia parsing: ObjectNames, bulk replies (1.7 recorded, 2.5 written from the reference), join."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from types import MappingProxyType

import pytest

from cdc_watch.core.model import ErrorReason, SourceError
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
    TaskStatus,
)
from cdc_watch.sources.jolokia import parse
from cdc_watch.sources.jolokia.model import Group, HistoryStatus

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "jolokia"
W1 = "127.0.0.1:18083"
W2 = "127.0.0.1:18084"
MYSQL = "io.debezium.connector.mysql.MySqlConnector"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def reading(name: str, label: str = "ep1", worker: str | None = None):
    return parse.parse_bulk_reply(parse.Endpoint(label, "http://x/jolokia", worker), load(name)["reply"])


def connector(
    name: str, prefix: str, worker: str = W1, state: State = State.RUNNING, cls: str = MYSQL
) -> ConnectorStatus:
    return ConnectorStatus(
        name=name,
        type="source",
        state=State.RUNNING,
        worker_id=worker,
        tasks=(TaskStatus(0, state, worker),),
        settings=ConnectorSettings(connector_class=cls, topic_prefix=prefix),
    )


def cluster(*connectors: ConnectorStatus) -> ConnectClusterState:
    return ConnectClusterState(
        cluster="dev",
        worker_url="http://w1",
        version="3.9.0",
        commit="x",
        kafka_cluster_id="k",
        connectors=MappingProxyType({c.name: c for c in connectors}),
    )


# --------------------------------------------------------------------------- ObjectName


def test_object_name_any_key_order_is_the_same_name():
    a = parse.parse_object_name("debezium.mysql:context=streaming,server=dbserver1,type=connector-metrics")
    b = parse.parse_object_name("debezium.mysql:type=connector-metrics,context=streaming,server=dbserver1")
    assert a == b
    assert a.get("server") == "dbserver1" and a.domain == "debezium.mysql"


def test_object_name_quoted_values_with_commas_colons_and_escapes():
    name = parse.parse_object_name(r'kafka.connect:type=app-info,id="10.0.1.12:8083",x="a,b=c \"q\" \\ \*"')
    assert name.get("id") == "10.0.1.12:8083"
    assert name.get("x") == 'a,b=c "q" \\ *'


@pytest.mark.parametrize("text", ["no-colon", "d:", "d:novalue", "d:=v"])
def test_object_name_malformed(text):
    with pytest.raises(ValueError):
        parse.parse_object_name(text)


# --------------------------------------------------------------------------- request


def test_bulk_request_sends_version_independent_parameters_on_every_element():
    body = parse.bulk_request()
    assert len(body) == len(parse.BULK)
    for element in body:
        assert element["config"]["canonicalNaming"] == "true"
        assert element["config"]["includeStackTrace"] == "false"
        assert element["config"]["ignoreErrors"] == "true"
    reads = [e for e in body if e["type"] == "read"]
    assert all(isinstance(e["attribute"], list) and e["attribute"] for e in reads)
    mbeans = {e["mbean"] for e in reads}
    assert "debezium.mysql:type=connector-metrics,context=streaming,*" in mbeans
    assert "debezium.mariadb:type=connector-metrics,context=snapshot,*" in mbeans
    assert "debezium.mysql:type=connector-metrics,context=binlog,*" in mbeans  # legacy 1.x
    body[0]["config"]["canonicalNaming"] = "false"
    assert parse.bulk_request()[0]["config"]["canonicalNaming"] == "true"  # fresh copies


def test_recordings_were_made_with_the_current_request():
    for name in ("bulk_worker_with_debezium.json", "bulk_worker_idle.json", "bulk_jolokia25_variant.json"):
        assert load(name)["request"] == parse.bulk_request(), name


# --------------------------------------------------------------------------- recorded 1.7 replies


def test_recorded_worker_with_debezium():
    r = reading("bulk_worker_with_debezium.json")
    assert r.up and r.agent_version == "1.7.1" and r.protocol == "7.2"
    assert r.worker_id == W1  # from kafka.connect:type=app-info,id="127.0.0.1:18083"
    assert r.failed_reads == ()
    assert r.worker is not None and r.worker["connector-count"] == 1.0
    assert r.rebalance is not None and r.rebalance["rebalancing"] == 0.0
    assert r.client is not None and r.client["connection-count"] >= 1
    task = r.tasks[("inventory-connector", 0)]
    assert set(task) == {Group.CONNECTOR_TASK, Group.SOURCE_TASK, Group.TASK_ERROR}  # no sink metrics: 404 = empty
    assert 0.0 <= task[Group.CONNECTOR_TASK]["offset-commit-success-percentage"] <= 1.0  # already a ratio
    contexts = {(m.context, m.server) for m in r.debezium}
    assert contexts == {("streaming", "dbserver1"), ("snapshot", "dbserver1"), ("schema-history", "dbserver1")}


def test_recorded_idle_worker_has_empty_results_not_failures():
    r = reading("bulk_worker_idle.json")
    assert r.up and r.failed_reads == ()
    assert r.worker_id == W2
    assert r.tasks == {} and r.debezium == ()
    assert r.worker is not None and r.worker["task-count"] == 0.0


def test_recorded_1x_defaults_include_stack_traces_which_we_turn_off():
    plain = load("errors_default_params.json")["reply"]
    assert "stacktrace" in plain[0]  # Jolokia 1.x default
    assert plain[1]["status"] == 400 and plain[1]["error_type"] == "java.lang.IllegalArgumentException"
    for element in load("bulk_worker_with_debezium.json")["reply"]:
        assert "stacktrace" not in element


# --------------------------------------------------------------------------- 2.5 variant (from the reference)


def test_jolokia25_variant_parses_like_the_recording():
    old = reading("bulk_worker_with_debezium.json")
    new = reading("bulk_jolokia25_variant.json")
    assert new.agent_version == "2.5.0" and new.protocol == "8.2"
    assert new.failed_reads == ()  # 2.x AttributeNotFound 404 on a pattern is "empty"
    assert new.worker_id == old.worker_id
    assert {(m.context, m.server) for m in new.debezium} == {(m.context, m.server) for m in old.debezium}
    assert new.tasks[("inventory-connector", 0)] == old.tasks[("inventory-connector", 0)]


def test_quoted_connector_name_and_nan_become_no_sample():
    r = reading("bulk_jolokia25_variant.json")
    values = r.tasks[("db:1", 0)][Group.CONNECTOR_TASK]
    assert values["running-ratio"] == 1.0
    assert values["offset-commit-avg-time-ms"] is None and values["batch-size-max"] is None
    assert r.rebalance is not None and r.rebalance["time-since-last-rebalance-ms"] is None


# --------------------------------------------------------------------------- element status and shape


def _reply_with(index: int, element: dict) -> list:
    reply = list(load("bulk_worker_with_debezium.json")["reply"])
    reply[index] = element
    return reply


def _index(group: Group) -> int:
    return next(i for i, (g, _) in enumerate(parse.BULK) if g is group)


def test_each_element_status_is_honoured():
    reply = _reply_with(
        _index(Group.CONNECTOR_TASK), {"status": 403, "error_type": "java.lang.SecurityException", "error": "denied"}
    )
    r = parse.parse_bulk_reply(parse.Endpoint("ep", "u"), reply)
    assert r.up
    assert r.failed_reads == (Group.CONNECTOR_TASK,)
    assert Group.CONNECTOR_TASK not in r.tasks[("inventory-connector", 0)]
    assert Group.SOURCE_TASK in r.tasks[("inventory-connector", 0)]


def test_reply_of_wrong_shape_is_a_decode_error():
    r = parse.parse_bulk_reply(parse.Endpoint("ep", "u"), {"status": 200})
    assert r.error is not None and r.error.reason is ErrorReason.DECODE
    r = parse.parse_bulk_reply(parse.Endpoint("ep", "u"), [])
    assert r.error is not None and "got a list of 0" in r.error.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, 1.0),
        (2.5, 2.5),
        (True, 1.0),
        (False, 0.0),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        ("NaN", None),
        ("x", None),
    ],
)
def test_number(raw, expected):
    assert parse.number(raw) == expected


def test_debezium_minus_one_means_no_sample():
    mbean = parse.DebeziumMBean(
        "debezium.mysql",
        "streaming",
        "p",
        {"MilliSecondsBehindSource": -1, "MilliSecondsSinceLastEvent": -1, "Connected": False},
    )
    s = parse.streaming_metrics(mbean, "ep")
    assert s.ms_behind_source is None and s.ms_since_last_event is None and s.connected is False


@pytest.mark.parametrize(
    ("last_event", "behind"),
    [
        # Values read off the devstack's streaming MBean right after a connector connected, then
        # after one INSERT.
        ("FORMAT_DESCRIPTION/1796162308000 from server 1", None),
        ("ROTATE/0 from server 1", None),
        ("EXT_WRITE_ROWS/1796162702000 from server 1", 394205.0),
        ("XID/1796162702000 from server 1", 394205.0),
        (None, 394205.0),
    ],
)
def test_behind_source_after_a_file_opening_event_is_no_sample(last_event, behind):
    attributes = {
        "MilliSecondsBehindSource": 394205,
        "MilliSecondsSinceLastEvent": 0,
        "Connected": True,
        "LastEvent": last_event,
    }
    s = parse.streaming_metrics(parse.DebeziumMBean("debezium.mysql", "streaming", "p", attributes), "ep")
    assert s.ms_behind_source == behind and s.ms_since_last_event == 0.0


def test_legacy_binlog_context_uses_seconds_attributes():
    mbean = parse.DebeziumMBean(
        "debezium.mysql",
        "binlog",
        "p",
        {"SecondsBehindMaster": 3, "SecondsSinceLastEvent": 7, "BinlogFilename": "mysql-bin.000042"},
    )
    s = parse.streaming_metrics(mbean, "ep")
    assert s.ms_behind_source == 3000.0 and s.ms_since_last_event == 7000.0 and s.binlog_file_number == 42


# --------------------------------------------------------------------------- endpoints


def test_endpoints_from_urls_strip_credentials_from_labels():
    eps = parse.endpoints_for(("http://u:secret@h:8778/jolokia",), None, ["ignored:1"])
    assert eps == [parse.Endpoint("http://h:8778/jolokia", "http://u:secret@h:8778/jolokia")]


def test_endpoints_from_template_follow_the_workers():
    eps = parse.endpoints_for((), "https://{host}:8778/jolokia", ["10.0.0.2:8083", "10.0.0.1:8083", "[::1]:8083"])
    assert [(e.label, e.url, e.worker_id) for e in eps] == [
        ("10.0.0.1:8083", "https://10.0.0.1:8778/jolokia", "10.0.0.1:8083"),
        ("10.0.0.2:8083", "https://10.0.0.2:8778/jolokia", "10.0.0.2:8083"),
        ("[::1]:8083", "https://[::1]:8778/jolokia", "[::1]:8083"),
    ]


# --------------------------------------------------------------------------- join


def test_join_attaches_debezium_mbeans_by_topic_prefix():
    state = parse.join(
        "dev",
        [reading("bulk_worker_with_debezium.json"), reading("bulk_worker_idle.json", "ep2")],
        cluster(connector("inventory-connector", "dbserver1")),
    )
    assert state.joined and state.unjoined == ()
    s = state.streaming["inventory-connector"]
    assert (
        s.connected is True and s.binlog_filename == "mysql-bin.000001" and s.binlog_position and s.binlog_position > 0
    )
    assert s.endpoint == "ep1"
    assert state.snapshots["inventory-connector"].completed is True
    assert state.snapshots["inventory-connector"].rows_scanned["inventory.customers"] >= 1
    assert state.schema_history["inventory-connector"].status is HistoryStatus.RUNNING
    assert state.streaming_present == {"inventory-connector": {0: True}}
    assert state.streaming_mbean_present("inventory-connector") is True


def test_join_without_connect_data_reports_mbeans_unjoined():
    state = parse.join("dev", [reading("bulk_worker_with_debezium.json")], None)
    assert not state.joined and state.streaming == {} and state.unjoined == ("dbserver1",)
    assert ("inventory-connector", 0) in state.tasks  # Kafka-side metrics need no join


def test_streaming_mbean_absent_under_running_task_on_an_answering_worker():
    r = reading("bulk_worker_idle.json", "ep1")  # worker 2 answered, no Debezium MBean
    state = parse.join("dev", [r], cluster(connector("c", "gone", worker=W2)))
    assert state.streaming_present == {"c": {0: False}}
    assert state.streaming_mbean_present("c") is False
    assert "c" not in state.streaming


def test_streaming_presence_unknown_when_the_owning_worker_did_not_answer():
    up = reading("bulk_worker_idle.json", "ep2")  # worker 2
    down = parse.failed_reading(parse.Endpoint("ep1", "u"), SourceError(ErrorReason.CONNECT, "refused"))
    state = parse.join("dev", [up, down], cluster(connector("c", "gone", worker=W1)))
    assert state.streaming_present == {"c": {0: None}}
    assert state.streaming_mbean_present("c") is None


def test_streaming_presence_only_for_running_tasks():
    state = parse.join(
        "dev", [reading("bulk_worker_idle.json")], cluster(connector("c", "gone", worker=W2, state=State.FAILED))
    )
    assert state.streaming_present == {}


def test_two_connectors_sharing_a_prefix_in_one_jvm_are_reported_not_guessed():
    state = parse.join(
        "dev",
        [reading("bulk_worker_with_debezium.json")],
        cluster(connector("a", "dbserver1"), connector("b", "dbserver1"), connector("other", "elsewhere", worker=W2)),
    )
    assert state.prefix_conflicts == {"a": "dbserver1", "b": "dbserver1"}
    assert "a" not in state.streaming and "b" not in state.streaming
    assert "a" not in state.streaming_present


def test_same_prefix_on_different_workers_is_not_a_conflict():
    state = parse.join(
        "dev",
        [reading("bulk_worker_with_debezium.json"), reading("bulk_worker_idle.json", "ep2")],
        cluster(connector("a", "dbserver1", worker=W1), connector("b", "dbserver1", worker=W2)),
    )
    assert state.prefix_conflicts == {}
    # Worker 1's MBean is a's; worker 2 answered without one: b's task has none, whatever a has.
    assert state.streaming["a"].endpoint == "ep1" and "b" not in state.streaming
    assert "b" not in state.snapshots and "b" not in state.schema_history
    assert state.streaming_present == {"a": {0: True}, "b": {0: False}}


def _reshaped(name: str, worker: str | None, position: int | None = None) -> list:
    """A recorded reply with its app-info ids (None: no app-info MBeans) and BinlogPosition changed."""
    reply = copy.deepcopy(load(name)["reply"])
    info = reply[_index(Group.APP_INFO)]
    info["value"] = (
        {}
        if worker is None
        else {
            f'kafka.connect:id="{worker}",type=app-info': {"StartTimeMs": 1},
            f'kafka.connect:id="connect-{worker}",type=app-info': {"StartTimeMs": 2},
        }
    )
    if position is not None:
        (attrs,) = reply[_index(Group.DEBEZIUM_STREAMING)]["value"].values()
        attrs["BinlogPosition"] = position
    return reply


def test_same_prefix_on_two_workers_each_connector_gets_its_own_workers_numbers():
    r1 = parse.parse_bulk_reply(parse.Endpoint("ep1", "u1"), _reshaped("bulk_worker_with_debezium.json", W1, 111))
    r2 = parse.parse_bulk_reply(parse.Endpoint("ep2", "u2"), _reshaped("bulk_worker_with_debezium.json", W2, 222))
    for order in ([r1, r2], [r2, r1]):
        state = parse.join(
            "dev", order, cluster(connector("a", "dbserver1", worker=W1), connector("b", "dbserver1", worker=W2))
        )
        assert (state.streaming["a"].binlog_position, state.streaming["a"].endpoint) == (111, "ep1")
        assert (state.streaming["b"].binlog_position, state.streaming["b"].endpoint) == (222, "ep2")
        assert state.streaming_present == {"a": {0: True}, "b": {0: True}}


def test_presence_is_unknown_when_the_tasks_worker_answered_its_streaming_read_with_an_error():
    reply = load("bulk_worker_idle.json")["reply"]
    reply[_index(Group.DEBEZIUM_STREAMING)] = {
        "status": 403,
        "error_type": "java.lang.SecurityException",
        "error": "denied",
    }
    r = parse.parse_bulk_reply(parse.Endpoint("ep2", "u"), reply)
    state = parse.join("dev", [r], cluster(connector("c", "gone", worker=W2)))
    assert state.streaming_present == {"c": {0: None}}


# --------------------------------------------------------------------------- worker ids


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (("127.0.0.1:28083", "connect-127.0.0.1:28083"), "127.0.0.1:28083"),  # Kafka 3.7+
        (("connect-0.connect:8083", "connect-connect-0.connect:8083"), "connect-0.connect:8083"),  # Kubernetes host
        (("connect-0.connect:8083", "connect-1"), "connect-0.connect:8083"),  # Kafka <= 3.6 client id
        (("connect-0.connect:8083",), "connect-0.connect:8083"),
        (("10.0.0.1:8083", "10.0.0.2:8083"), None),  # two candidates: cannot tell
        (("connect-1",), None),
    ],
)
def test_worker_id_from_app_info(ids, expected):
    names = [parse.parse_object_name(f'kafka.connect:type=app-info,id="{i}"') for i in ids]
    assert parse._worker_id_from_app_info(names) == expected


def test_kubernetes_worker_named_connect_is_identified_and_joined():
    k8s = "connect-0.connect:8083"
    r = parse.parse_bulk_reply(
        parse.Endpoint("http://connect-0.connect:8778/jolokia", "u"), _reshaped("bulk_worker_with_debezium.json", k8s)
    )
    assert r.worker_id == k8s
    state = parse.join("dev", [r], cluster(connector("inventory-connector", "dbserver1", worker=k8s)))
    assert state.streaming_present == {"inventory-connector": {0: True}}


def test_task_on_a_worker_no_endpoint_matches_is_unknown_not_missing():
    # Every endpoint answered, none reported a worker id, and the task runs on a worker whose
    # host is not in the URL list: nothing can be said about its MBean.
    r = parse.parse_bulk_reply(
        parse.Endpoint("http://w1.example:8778/jolokia", "u"), _reshaped("bulk_worker_idle.json", None)
    )
    assert r.up and r.worker_id is None
    state = parse.join("dev", [r], cluster(connector("c", "dbserver1", worker="w9.example:8083")))
    assert state.streaming_present == {"c": {0: None}}
    assert state.streaming_mbean_present("c") is None


def test_endpoint_without_worker_id_is_matched_to_the_worker_by_host():
    idle = parse.parse_bulk_reply(
        parse.Endpoint("http://W2.example:8778/jolokia", "u2"), _reshaped("bulk_worker_idle.json", None)
    )
    busy = parse.parse_bulk_reply(
        parse.Endpoint("http://w1.example:8778/jolokia", "u1"), _reshaped("bulk_worker_with_debezium.json", None)
    )
    state = parse.join(
        "dev",
        [idle, busy],
        cluster(
            connector("a", "dbserver1", worker="w1.example:8083"), connector("b", "gone", worker="w2.example:8083")
        ),
    )
    assert state.streaming_present == {"a": {0: True}, "b": {0: False}}
    assert state.streaming["a"].endpoint == "http://w1.example:8778/jolokia"


def test_unmatched_worker_still_gets_an_unambiguous_mbean_but_no_presence():
    r = parse.parse_bulk_reply(
        parse.Endpoint("http://lb.example:8778/jolokia", "u"), _reshaped("bulk_worker_with_debezium.json", None)
    )
    state = parse.join("dev", [r], cluster(connector("inventory-connector", "dbserver1", worker="10.0.0.9:8083")))
    assert state.streaming["inventory-connector"].binlog_filename == "mysql-bin.000001"
    assert state.streaming_present == {"inventory-connector": {0: None}}
    # Two connectors with that prefix and neither worker matched: the MBean is nobody's.
    state = parse.join(
        "dev",
        [r],
        cluster(
            connector("a", "dbserver1", worker="10.0.0.9:8083"), connector("b", "dbserver1", worker="10.0.0.8:8083")
        ),
    )
    assert state.streaming == {}


def test_non_debezium_connectors_are_not_joined():
    state = parse.join(
        "dev",
        [reading("bulk_worker_with_debezium.json")],
        cluster(connector("inventory-connector", "dbserver1", cls="org.example.Other")),
    )
    assert state.streaming == {} and state.unjoined == ("dbserver1",)


def test_values_never_nan():
    state = parse.join("dev", [reading("bulk_jolokia25_variant.json")], None)
    for groups in state.tasks.values():
        for values in groups.values():
            assert all(v is None or math.isfinite(v) for v in values.values())


def test_contract_for_the_mysql_source():
    """snapshot.data("jolokia:<c>").streaming[connector] exposes exactly these typed attributes."""
    state = parse.join(
        "dev", [reading("bulk_worker_with_debezium.json")], cluster(connector("inventory-connector", "dbserver1"))
    )
    s = state.streaming["inventory-connector"]
    assert isinstance(s.binlog_filename, str)
    assert isinstance(s.binlog_position, int)
    assert s.gtid_set is None  # MariaDB without GTID mode in Debezium's view
    assert s.connected is True
    # Recorded right after the snapshot: the last event read opened the binlog file, so Debezium's
    # "behind source" is that file's age, not a lag, and is no sample.
    assert s.ms_behind_source is None and isinstance(s.ms_since_last_event, float)
    with pytest.raises(AttributeError):
        s.connected = False  # frozen
    assert state.streaming_mbean_present("inventory-connector") is True
