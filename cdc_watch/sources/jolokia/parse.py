"""Pure Jolokia logic: which endpoints to ask, the bulk request, and reading its reply.

No I/O here. `bulk_request` builds the one POST body sent to every endpoint each cycle;
`parse_bulk_reply` turns the decoded reply into an `EndpointReading`; `join` merges the
readings of all endpoints and attaches Debezium MBeans (named by `server=<topic prefix>`) to the
Connect connectors that own them, using the Connect REST poll from the snapshot.

Version quirks handled (see docs/protocols.md, "Jolokia"): `canonicalNaming` and `includeStackTrace` differ
between Jolokia 1.x, 2.0-2.4 and 2.5+, so both are sent on every element; result keys are parsed
as ObjectNames (quoted values, any key order); each bulk element has its own status; "no MBean
matches this pattern" (404, or 1.x's 400 "No matching attributes") is an empty result; NaN,
Infinity and null are "no sample". A number no float can hold (an integer past 1.8e308, or one
of more digits than Python converts, which `sources.http` reads as an infinity) is skipped and
counted in `EndpointReading.skipped_values`: that attribute has no sample, the rest of the reply
stands.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cdc_watch.core.model import ErrorReason, SourceError
from cdc_watch.sources.connect.model import ConnectClusterState, State
from cdc_watch.sources.jolokia.mbeans import attributes
from cdc_watch.sources.jolokia.model import (
    DebeziumMBean,
    EndpointReading,
    Group,
    HistoryStatus,
    JolokiaClusterState,
    ObjectName,
    SchemaHistoryMetrics,
    SnapshotMetrics,
    StreamingMetrics,
    Values,
)

# ------------------------------------------------------------------------------ endpoints


@dataclass(frozen=True, slots=True)
class Endpoint:
    label: str  # bounded identifier used as the `endpoint` label
    url: str  # full URL to POST to (may carry no credentials: auth is sent separately)
    worker_id: str | None = None


def strip_userinfo(url: str) -> str:
    """The URL without any `user:password@` part, for labels and messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def worker_host_port(worker_id: str) -> tuple[str, str]:
    """Connect worker id `host:port` (IPv6 may be `[::1]:8083`) -> (host, port)."""
    host, sep, port = worker_id.rpartition(":")
    if not sep or not port.isdigit():
        return worker_id, ""
    return host.strip("[]"), port


def endpoints_for(urls: Sequence[str], url_template: str | None, workers: Iterable[str]) -> list[Endpoint]:
    """Configured URLs as they are, or one URL per known worker built from the template."""
    if url_template is None:
        return [Endpoint(strip_userinfo(u), u) for u in urls]
    found = []
    for worker in sorted(set(workers)):
        host, port = worker_host_port(worker)
        if not host:
            continue
        url_host = f"[{host}]" if ":" in host else host  # IPv6 literal
        found.append(Endpoint(worker, url_template.format(host=url_host, port=port), worker))
    return found


# ------------------------------------------------------------------------------ request

# Processing parameters sent on every element, whatever the agent's defaults.
PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "canonicalNaming": "true",
        "includeStackTrace": "false",
        "ignoreErrors": "true",
        "serializeException": "false",
        "includeRequest": "false",  # 2.1+; 1.x ignores it. Replies are matched by index.
    }
)

# The Connect attributes come from the one table in mbeans.py.
WORKER_ATTRS = attributes(Group.WORKER)
WORKER_CONNECTOR_ATTRS = attributes(Group.WORKER_CONNECTOR)
REBALANCE_ATTRS = attributes(Group.REBALANCE)
CONNECTOR_ATTRS = attributes(Group.CONNECTOR)
CONNECTOR_TASK_ATTRS = attributes(Group.CONNECTOR_TASK)
SOURCE_TASK_ATTRS = attributes(Group.SOURCE_TASK)
SINK_TASK_ATTRS = attributes(Group.SINK_TASK)
TASK_ERROR_ATTRS = attributes(Group.TASK_ERROR)
CLIENT_ATTRS = attributes(Group.CLIENT)

STREAMING_ATTRS = (
    "Connected",
    "MilliSecondsBehindSource",
    "MilliSecondsSinceLastEvent",
    "BinlogFilename",
    "BinlogPosition",
    "GtidSet",
    "IsGtidModeEnabled",
    "QueueRemainingCapacity",
    "QueueTotalCapacity",
    "CurrentQueueSizeInBytes",
    "MaxQueueSizeInBytes",
    "TotalNumberOfEventsSeen",
    "TotalNumberOfCreateEventsSeen",
    "TotalNumberOfUpdateEventsSeen",
    "TotalNumberOfDeleteEventsSeen",
    "NumberOfCommittedTransactions",
    "NumberOfRolledBackTransactions",
    "NumberOfDisconnects",
    "NumberOfErroneousEvents",
    "NumberOfEventsFiltered",
    "NumberOfSkippedEvents",
    "LastEvent",
)
# Events that open a binlog file (and heartbeats) carry the file's creation time, not a
# change's: right after a (re)connect Debezium's MilliSecondsBehindSource is the age of the
# file it resumed in (seen on the devstack: 394 s behind on an idle, healthy connector).
NON_CHANGE_EVENTS = frozenset(
    {
        "FORMAT_DESCRIPTION",
        "ROTATE",
        "HEARTBEAT",
        "HEARTBEAT_V2",
        "PREVIOUS_GTIDS",
        "MARIADB_GTID_LIST",
        "MARIADB_BINLOG_CHECKPOINT",
        "STOP",
    }
)
LEGACY_BINLOG_ATTRS = (*STREAMING_ATTRS, "SecondsBehindMaster", "SecondsSinceLastEvent")
SNAPSHOT_ATTRS = (
    "SnapshotRunning",
    "SnapshotCompleted",
    "SnapshotAborted",
    "SnapshotPaused",
    "TotalTableCount",
    "RemainingTableCount",
    "SnapshotDurationInSeconds",
    "RowsScanned",
)
SCHEMA_HISTORY_ATTRS = ("Status", "ChangesApplied", "ChangesRecovered", "MilliSecondsSinceLastAppliedChange")
DEBEZIUM_DOMAINS = ("debezium.mysql", "debezium.mariadb")


def _read(mbean: str, attributes: Sequence[str] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"type": "read", "mbean": mbean}
    if attributes is not None:
        request["attribute"] = list(attributes)
    request["config"] = dict(PARAMS)
    return request


def _build() -> tuple[tuple[Group, dict[str, Any]], ...]:
    parts: list[tuple[Group, dict[str, Any]]] = [
        (Group.VERSION, {"type": "version", "config": dict(PARAMS)}),
        (Group.APP_INFO, _read("kafka.connect:type=app-info,*", ["StartTimeMs"])),
        (Group.WORKER, _read("kafka.connect:type=connect-worker-metrics", WORKER_ATTRS)),
        (
            Group.WORKER_CONNECTOR,
            _read("kafka.connect:type=connect-worker-metrics,connector=*", WORKER_CONNECTOR_ATTRS),
        ),
        (Group.REBALANCE, _read("kafka.connect:type=connect-worker-rebalance-metrics", REBALANCE_ATTRS)),
        (Group.CONNECTOR, _read("kafka.connect:type=connector-metrics,connector=*", CONNECTOR_ATTRS)),
        (Group.CONNECTOR_TASK, _read("kafka.connect:type=connector-task-metrics,*", CONNECTOR_TASK_ATTRS)),
        (Group.SOURCE_TASK, _read("kafka.connect:type=source-task-metrics,*", SOURCE_TASK_ATTRS)),
        (Group.SINK_TASK, _read("kafka.connect:type=sink-task-metrics,*", SINK_TASK_ATTRS)),
        (Group.TASK_ERROR, _read("kafka.connect:type=task-error-metrics,*", TASK_ERROR_ATTRS)),
        (Group.CLIENT, _read("kafka.connect:type=connect-metrics,*", CLIENT_ATTRS)),
    ]
    for domain in DEBEZIUM_DOMAINS:
        # Property-list patterns, not server=*, so custom.metric.tags still match.
        parts.append(
            (Group.DEBEZIUM_STREAMING, _read(f"{domain}:type=connector-metrics,context=streaming,*", STREAMING_ATTRS))
        )
        parts.append(
            (Group.DEBEZIUM_SNAPSHOT, _read(f"{domain}:type=connector-metrics,context=snapshot,*", SNAPSHOT_ATTRS))
        )
        parts.append(
            (
                Group.DEBEZIUM_SCHEMA_HISTORY,
                _read(f"{domain}:type=connector-metrics,context=schema-history,*", SCHEMA_HISTORY_ATTRS),
            )
        )
    # Debezium MySQL 1.0-1.4 (and later with internal.implementation=legacy) said context=binlog.
    parts.append(
        (Group.DEBEZIUM_STREAMING, _read("debezium.mysql:type=connector-metrics,context=binlog,*", LEGACY_BINLOG_ATTRS))
    )
    return tuple(parts)


BULK: tuple[tuple[Group, dict[str, Any]], ...] = _build()


def bulk_request() -> list[dict[str, Any]]:
    """The JSON array POSTed to every endpoint (a fresh copy)."""
    return [dict(request, config=dict(request["config"])) for _, request in BULK]


# ------------------------------------------------------------------------------ values


def number(value: Any) -> float | None:
    """JSON value -> float; booleans are 0/1; NaN, Infinity, null, strings, numbers past the
    float range -> None."""
    if value is True:
        return 1.0
    if value is False:
        return 0.0
    if isinstance(value, (int, float)):
        try:
            f = float(value)
        except OverflowError:
            return None
        return f if math.isfinite(f) else None
    return None


_FLOAT_MAX = sys.float_info.max
_SCRUB_DEPTH = 3  # pattern reply -> MBean attributes -> one nested map (Debezium's RowsScanned)


def absurd(value: Any) -> bool:
    """A number no float can hold: an infinity (the decoder makes NaN of the literals, so one
    comes only from an overflowing number) or an integer past the float range."""
    if isinstance(value, float):
        return math.isinf(value)
    return isinstance(value, int) and not isinstance(value, bool) and not -_FLOAT_MAX <= value <= _FLOAT_MAX


def _scrub(value: Any, depth: int = _SCRUB_DEPTH) -> tuple[Any, int]:
    """`value` with every absurd number replaced by None (down to `depth` levels of objects),
    and how many were replaced. Copies only what it changes."""
    if absurd(value):
        return None, 1
    if depth == 0 or not isinstance(value, Mapping):
        return value, 0
    changed: dict[str, Any] | None = None
    total = 0
    for key, item in value.items():
        new, count = _scrub(item, depth - 1)
        if count:
            changed = dict(value) if changed is None else changed
            changed[key] = new
            total += count
    return (value, 0) if changed is None else (changed, total)


def _never(value: Any) -> float | None:
    """Debezium's `-1` means "never"; any negative is treated as no sample."""
    f = number(value)
    return None if f is None or f < 0 else f


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _numbers(attrs: Mapping[str, Any], names: Sequence[str]) -> Values:
    return MappingProxyType({name: number(attrs[name]) for name in names if name in attrs})


# ------------------------------------------------------------------------------ ObjectName

_UNQUOTE = re.compile(r"\\(.)")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return _UNQUOTE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value[1:-1])
    return value


def _split_properties(text: str) -> list[str]:
    """Split `k=v,k2="a,b"` at commas outside quoted values."""
    parts: list[str] = []
    start = 0
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ",":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_object_name(text: str) -> ObjectName:
    """`domain:k=v,k2="quoted"` in any key order -> ObjectName. Raises ValueError if malformed."""
    domain, sep, rest = text.partition(":")
    if not sep or not rest:
        raise ValueError("not an ObjectName")
    pieces = rest.split(",") if '"' not in rest else _split_properties(rest)
    props = []
    for piece in pieces:
        key, eq, value = piece.partition("=")
        if not eq or not key:
            raise ValueError("not an ObjectName")
        props.append((key, _unquote(value) if value[:1] == '"' else value))
    props.sort()
    return ObjectName(domain, tuple(props))


# ------------------------------------------------------------------------------ bulk reply


def _is_empty_match(element: Mapping[str, Any]) -> bool:
    """Pattern matched nothing: 404 InstanceNotFound (1.x, 2.x) or AttributeNotFound (2.x), or
    1.x's 400 IllegalArgumentException "No matching attributes" (our requests are well formed)."""
    status = element.get("status")
    error_type = str(element.get("error_type") or "")
    if status == 404:
        return True
    return status == 400 and error_type == "java.lang.IllegalArgumentException"


def _pattern_values(value: Any) -> Iterable[tuple[ObjectName, Mapping[str, Any]]]:
    if not isinstance(value, Mapping):
        return
    for key, attrs in value.items():
        if not isinstance(attrs, Mapping):
            continue
        try:
            yield parse_object_name(key), attrs
        except ValueError:
            continue


_CLIENT_SEQUENCE = re.compile(r"^connect-\d+$")


def _worker_id_from_app_info(names: Iterable[ObjectName]) -> str | None:
    """The worker id: the `id` of kafka.connect:type=app-info that looks like host:port.

    The worker's group member registers app-info too, as `connect-<n>` (Kafka <= 3.6) or
    `connect-<worker id>` (3.7+); only those are dropped, since a worker's own host may start
    with `connect-` (Kubernetes: `connect-0.connect:8083`).
    """
    ids = {i for n in names if (i := n.get("id"))}
    candidates = sorted(
        i
        for i in ids
        if worker_host_port(i)[1]
        and not _CLIENT_SEQUENCE.match(i)
        and not (i.startswith("connect-") and i[len("connect-") :] in ids)
    )
    return candidates[0] if len(candidates) == 1 else None


def parse_bulk_reply(endpoint: Endpoint, body: Any, absurd_numbers: bool = True) -> EndpointReading:
    """Decoded JSON of the bulk POST -> EndpointReading. A reply of the wrong shape is an error.

    `absurd_numbers=False` (the text was scanned and holds none) skips looking for them, which
    would otherwise double the cost of this function."""
    if not isinstance(body, list) or len(body) != len(BULK):
        got = f"a list of {len(body)}" if isinstance(body, list) else type(body).__name__
        return EndpointReading(
            endpoint.label,
            endpoint.worker_id,
            error=SourceError(
                ErrorReason.DECODE, f"{endpoint.label}: expected a list of {len(BULK)} replies, got {got}"
            ),
        )
    failed: list[Group] = []
    agent = protocol = None
    worker_id = endpoint.worker_id
    worker: Values | None = None
    rebalance: Values | None = None
    client: Values | None = None
    worker_connectors: dict[str, Values] = {}
    connectors: dict[str, Mapping[str, Any]] = {}
    tasks: dict[tuple[str, int], dict[Group, Values]] = {}
    debezium: list[DebeziumMBean] = []
    skipped = 0
    task_attrs = {
        Group.CONNECTOR_TASK: CONNECTOR_TASK_ATTRS,
        Group.SOURCE_TASK: SOURCE_TASK_ATTRS,
        Group.SINK_TASK: SINK_TASK_ATTRS,
        Group.TASK_ERROR: TASK_ERROR_ATTRS,
    }
    for (group, _request), element in zip(BULK, body, strict=False):
        if not isinstance(element, Mapping):
            failed.append(group)
            continue
        if element.get("status") != 200:
            if not _is_empty_match(element) or group is Group.VERSION:
                failed.append(group)
            continue
        value = element.get("value")
        if absurd_numbers:
            value, count = _scrub(value)
            skipped += count
        if group is Group.VERSION:
            if isinstance(value, Mapping):
                agent, protocol = _text(value.get("agent")), _text(value.get("protocol"))
        elif group is Group.APP_INFO:
            if worker_id is None:
                worker_id = _worker_id_from_app_info(name for name, _ in _pattern_values(value))
        elif group is Group.WORKER:
            worker = _numbers(value, WORKER_ATTRS) if isinstance(value, Mapping) else None
        elif group is Group.REBALANCE:
            rebalance = _numbers(value, REBALANCE_ATTRS) if isinstance(value, Mapping) else None
        elif group is Group.WORKER_CONNECTOR:
            for name, attrs in _pattern_values(value):
                connector = name.get("connector")
                if connector is not None:
                    worker_connectors[connector] = _numbers(attrs, WORKER_CONNECTOR_ATTRS)
        elif group is Group.CONNECTOR:
            for name, attrs in _pattern_values(value):
                connector = name.get("connector")
                if connector is not None:
                    connectors[connector] = MappingProxyType({k: attrs[k] for k in CONNECTOR_ATTRS if k in attrs})
        elif group in task_attrs:
            names = task_attrs[group]
            for name, attrs in _pattern_values(value):
                connector, task = name.get("connector"), name.get("task")
                if connector is None or task is None or not task.isdigit():
                    continue
                tasks.setdefault((connector, int(task)), {})[group] = _numbers(attrs, names)
        elif group is Group.CLIENT:
            # One group-member client per worker; sum if an agent somehow shows several.
            merged: dict[str, float | None] = {}
            for _, attrs in _pattern_values(value):
                for key, v in _numbers(attrs, CLIENT_ATTRS).items():
                    old = merged.get(key)
                    merged[key] = v if old is None else (old if v is None else old + v)
            client = MappingProxyType(merged) if merged else None
        else:
            for name, attrs in _pattern_values(value):
                server, context = name.get("server"), name.get("context")
                if server is None or context is None:
                    continue
                debezium.append(DebeziumMBean(name.domain, context, server, MappingProxyType(dict(attrs))))
    return EndpointReading(
        endpoint=endpoint.label,
        worker_id=worker_id,
        agent_version=agent,
        protocol=protocol,
        worker=worker,
        worker_connectors=MappingProxyType(worker_connectors),
        rebalance=rebalance,
        client=client,
        connectors=MappingProxyType(connectors),
        tasks=MappingProxyType({k: MappingProxyType(v) for k, v in tasks.items()}),
        debezium=tuple(debezium),
        failed_reads=tuple(dict.fromkeys(failed)),
        skipped_values=skipped,
    )


def failed_reading(endpoint: Endpoint, error: SourceError) -> EndpointReading:
    return EndpointReading(endpoint.label, endpoint.worker_id, error=error)


# ------------------------------------------------------------------------------ Debezium values


def _event_type(last_event: object) -> str | None:
    """`FORMAT_DESCRIPTION` of Debezium's LastEvent text `FORMAT_DESCRIPTION/1796162308000 from server 1`."""
    text = _text(last_event)
    return text.split("/", 1)[0].strip().upper() if text else None


def streaming_metrics(mbean: DebeziumMBean, endpoint: str) -> StreamingMetrics:
    a = mbean.attributes
    behind = _never(a.get("MilliSecondsBehindSource"))
    since = _never(a.get("MilliSecondsSinceLastEvent"))
    if mbean.context == "binlog":  # legacy 1.0-1.4 names, in seconds
        if behind is None and (s := _never(a.get("SecondsBehindMaster"))) is not None:
            behind = s * 1000.0
        if since is None and (s := _never(a.get("SecondsSinceLastEvent"))) is not None:
            since = s * 1000.0
    if _event_type(a.get("LastEvent")) in NON_CHANGE_EVENTS:
        behind = None  # not a lag: no change event read since the (re)connect
    position = number(a.get("BinlogPosition"))
    return StreamingMetrics(
        binlog_filename=_text(a.get("BinlogFilename")),
        binlog_position=int(position) if position is not None and position >= 0 else None,
        gtid_set=_text(a.get("GtidSet")),
        connected=_flag(a.get("Connected")),
        ms_behind_source=behind,
        ms_since_last_event=since,
        gtid_mode_enabled=_flag(a.get("IsGtidModeEnabled")),
        queue_remaining_capacity=number(a.get("QueueRemainingCapacity")),
        queue_total_capacity=number(a.get("QueueTotalCapacity")),
        queue_size_bytes=number(a.get("CurrentQueueSizeInBytes")),
        queue_max_size_bytes=number(a.get("MaxQueueSizeInBytes")),
        events_seen=number(a.get("TotalNumberOfEventsSeen")),
        create_events=number(a.get("TotalNumberOfCreateEventsSeen")),
        update_events=number(a.get("TotalNumberOfUpdateEventsSeen")),
        delete_events=number(a.get("TotalNumberOfDeleteEventsSeen")),
        committed_transactions=number(a.get("NumberOfCommittedTransactions")),
        rolled_back_transactions=number(a.get("NumberOfRolledBackTransactions")),
        disconnects=number(a.get("NumberOfDisconnects")),
        erroneous_events=number(a.get("NumberOfErroneousEvents")),
        filtered_events=number(a.get("NumberOfEventsFiltered")),
        skipped_events=number(a.get("NumberOfSkippedEvents")),
        endpoint=endpoint,
    )


def snapshot_metrics(mbean: DebeziumMBean) -> SnapshotMetrics:
    a = mbean.attributes
    rows = a.get("RowsScanned")
    scanned: dict[str, float] = {}
    if isinstance(rows, Mapping):
        for table, count in rows.items():
            n = number(count)
            if isinstance(table, str) and n is not None:
                scanned[table] = n
    return SnapshotMetrics(
        running=_flag(a.get("SnapshotRunning")),
        completed=_flag(a.get("SnapshotCompleted")),
        aborted=_flag(a.get("SnapshotAborted")),
        paused=_flag(a.get("SnapshotPaused")),
        total_tables=number(a.get("TotalTableCount")),
        remaining_tables=number(a.get("RemainingTableCount")),
        duration_seconds=number(a.get("SnapshotDurationInSeconds")),
        rows_scanned=MappingProxyType(dict(sorted(scanned.items()))),
    )


def schema_history_metrics(mbean: DebeziumMBean) -> SchemaHistoryMetrics:
    a = mbean.attributes
    raw = a.get("Status")
    try:
        status = HistoryStatus(raw.upper()) if isinstance(raw, str) else HistoryStatus.UNKNOWN
    except ValueError:
        status = HistoryStatus.UNKNOWN
    return SchemaHistoryMetrics(
        status=status,
        changes_applied=number(a.get("ChangesApplied")),
        changes_recovered=number(a.get("ChangesRecovered")),
        ms_since_last_applied=_never(a.get("MilliSecondsSinceLastAppliedChange")),
    )


# ------------------------------------------------------------------------------ join


def _url_host(label: str) -> str | None:
    try:
        host = urlsplit(label).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


class _Owners:
    """Which endpoint reading is the JVM of a Connect worker id.

    By the worker id the endpoint reported (URL template or app-info); failing that, by host,
    among endpoints that reported none, when exactly one has the worker's host. Otherwise the
    worker is not matched: nothing is said about the tasks it runs.
    """

    def __init__(self, readings: Sequence[EndpointReading]):
        self._by_worker: dict[str, EndpointReading] = {}
        self._by_host: dict[str, list[EndpointReading]] = {}
        for reading in readings:
            if reading.worker_id:
                self._by_worker.setdefault(reading.worker_id, reading)
            elif (host := _url_host(reading.endpoint)) is not None:
                self._by_host.setdefault(host, []).append(reading)

    def of(self, worker_id: str) -> EndpointReading | None:
        if not worker_id:
            return None
        if (reading := self._by_worker.get(worker_id)) is not None:
            return reading
        host = worker_host_port(worker_id)[0].lower().rstrip(".")
        candidates = self._by_host.get(host, ())
        return candidates[0] if len(candidates) == 1 else None


def join(
    cluster: str,
    readings: Sequence[EndpointReading],
    connect: ConnectClusterState | None,
) -> JolokiaClusterState:
    """Merge endpoint readings; attach Debezium MBeans to connectors by topic prefix.

    Debezium MBeans live in the JVM of the worker running the task, so each connector gets the
    MBeans of its prefix read from its task's worker, and a streaming MBean counts as present or
    missing only there. Without Connect data (`connect is None`) everything Kafka-side is still
    reported, but the Debezium MBeans cannot be attributed to connectors yet: they are listed
    as unjoined.
    """
    endpoints = {r.endpoint: r for r in readings}
    tasks: dict[tuple[str, int], Mapping[Group, Values]] = {}
    for reading in readings:
        for key, groups in reading.tasks.items():
            # a task reassigned mid-cycle shows on two workers: keep the fuller one
            if key in tasks and len(groups) <= len(tasks[key]):
                continue
            tasks[key] = groups
    # (domain-independent) prefix -> endpoint -> context -> mbean
    found: dict[str, dict[str, dict[str, DebeziumMBean]]] = {}
    for reading in readings:
        for mbean in reading.debezium:
            context = "streaming" if mbean.context == "binlog" else mbean.context
            found.setdefault(mbean.server, {}).setdefault(reading.endpoint, {}).setdefault(context, mbean)
    if connect is None:
        return JolokiaClusterState(
            cluster=cluster,
            endpoints=MappingProxyType(endpoints),
            tasks=MappingProxyType(tasks),
            unjoined=tuple(sorted(found)),
            joined=False,
        )
    by_prefix: dict[str, list[str]] = {}
    for name, connector in connect.connectors.items():
        settings = connector.settings
        if settings is not None and settings.is_debezium_mysql and settings.topic_prefix:
            by_prefix.setdefault(settings.topic_prefix, []).append(name)
    conflicts: dict[str, str] = {}
    for prefix, names in by_prefix.items():
        if len(names) < 2:
            continue
        # Only a problem when two of them run tasks in the same JVM (same worker).
        workers: dict[str, list[str]] = {}
        for name in names:
            for task in connect.connectors[name].tasks:
                if task.state is State.RUNNING and task.worker_id:
                    workers.setdefault(task.worker_id, []).append(name)
        for sharing in workers.values():
            if len(set(sharing)) > 1:
                for name in sharing:
                    conflicts[name] = prefix
    owners = _Owners(readings)
    streaming: dict[str, StreamingMetrics] = {}
    snapshots: dict[str, SnapshotMetrics] = {}
    history: dict[str, SchemaHistoryMetrics] = {}
    present: dict[str, Mapping[int, bool | None]] = {}
    for prefix, names in by_prefix.items():
        on_endpoints = found.get(prefix, {})
        for name in names:
            if name in conflicts:
                continue  # whose numbers these are cannot be told; reported as a conflict
            connector_tasks = connect.connectors[name].tasks
            home = next((t for t in connector_tasks if t.worker_id), None)  # MySQL connectors run one task
            owner = owners.of(home.worker_id) if home is not None else None
            endpoint: str | None = None
            if owner is not None:
                endpoint = owner.endpoint if owner.up else None
            elif home is not None and len(names) == 1 and len(on_endpoints) == 1:
                endpoint = next(iter(on_endpoints))  # worker not matched, but only one candidate
            contexts = on_endpoints.get(endpoint, {}) if endpoint is not None else {}
            if (streaming_mbean := contexts.get("streaming")) is not None:
                streaming[name] = streaming_metrics(streaming_mbean, endpoint or "")
            if (snapshot_mbean := contexts.get("snapshot")) is not None:
                snapshots[name] = snapshot_metrics(snapshot_mbean)
            if (history_mbean := contexts.get("schema-history")) is not None:
                history[name] = schema_history_metrics(history_mbean)
            per_task: dict[int, bool | None] = {}
            for task in connector_tasks:
                if task.state is State.RUNNING:
                    per_task[task.id] = _streaming_present(owners.of(task.worker_id), on_endpoints)
            if per_task:
                present[name] = MappingProxyType(per_task)
    return JolokiaClusterState(
        cluster=cluster,
        endpoints=MappingProxyType(endpoints),
        tasks=MappingProxyType(tasks),
        streaming=MappingProxyType(streaming),
        snapshots=MappingProxyType(snapshots),
        schema_history=MappingProxyType(history),
        streaming_present=MappingProxyType(present),
        prefix_conflicts=MappingProxyType(conflicts),
        unjoined=tuple(sorted(p for p in found if p not in by_prefix)),
        joined=True,
    )


def _streaming_present(
    owner: EndpointReading | None, on_endpoints: Mapping[str, Mapping[str, DebeziumMBean]]
) -> bool | None:
    """Whether the task's own JVM has the streaming MBean; None unless that JVM answered the read."""
    if owner is None or not owner.up or Group.DEBEZIUM_STREAMING in owner.failed_reads:
        return None
    return "streaming" in on_endpoints.get(owner.endpoint, {})
