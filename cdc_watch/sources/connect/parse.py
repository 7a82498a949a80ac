"""Pure parsers for Kafka Connect REST replies (no I/O; fed by recorded replies in tests).

Shapes follow Kafka Connect 2.0 - 4.1 (see docs/protocols.md, "Kafka Connect REST"). A reply
that does not have the expected shape raises `SourceFailure(DECODE, ...)`; an odd entry
inside an otherwise good reply is skipped and reported in `problems` instead, so one broken
connector never hides the others.

The expanded reply (`GET /connectors?expand=status&expand=info`, megabytes at thousands of
connectors) is decoded by `decode_expanded` with msgspec rather than `json.loads`: the top level
into one undecoded slice per connector, then each selected connector on its own into small
typed entries that skip every field cdc_watch does not read and leave each trace undecoded
(`msgspec.Raw`, a view into the body). A trace is decoded, scrubbed and classified only when
it was not seen in the previous reply (`FailureMemo`), and only its `Failure` is kept. So the
reply body, the decoded tree and the model are never all in memory at once, and a steady
poll of thousands of FAILED tasks costs a hash per trace. Measured at 2,000 connectors x 4
tasks (benchmarks/bench_scale.py): decoding alone is 2-5x faster than `json.loads`, and peak
memory with every trace unique falls from 225 MB to under 120 MB. msgspec is well kept, ships
wheels for every supported Python, and checks nesting depth (too deep -> `decode`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec

from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.redact import excerpt, secret_values
from cdc_watch.sources.connect.failures import Failure, explain
from cdc_watch.sources.connect.model import (
    KNOWN_STATES,
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
    TaskStatus,
)

REBALANCE_MESSAGES = (
    "rebalance is expected",
    "rebalance was underway",
    "stale configuration",
    "conflicting operation",
)


def is_rebalance_error(status_code: int, body: Any) -> bool:
    """409, or the 500 "Request cannot be completed because a rebalance is expected" (3.5+)."""
    if status_code == 409:
        return True
    if status_code == 500 and isinstance(body, dict):
        message = str(body.get("message", "")).lower()
        return any(m in message for m in REBALANCE_MESSAGES)
    return False


def parse_root(body: Any) -> tuple[str, str, str]:
    """`GET /` -> (version, commit, kafka_cluster_id)."""
    if not isinstance(body, dict) or not isinstance(body.get("version"), str):
        raise SourceFailure(ErrorReason.DECODE, "GET / did not return a Kafka Connect worker info object")
    return body["version"], str(body.get("commit") or ""), str(body.get("kafka_cluster_id") or "")


def version_tuple(version: str) -> tuple[int, int]:
    """ "3.9.0" -> (3, 9); "7.6.0-ccs" -> (7, 6). Unparseable -> (0, 0)."""
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


# The Kafka Connect versions docs/compatibility.md covers as tested live (floor and ceiling).
TESTED_FLOOR = (3, 9)
TESTED_CEILING = (4, 3)


def apache_version_tuple(version: str) -> tuple[int, int]:
    """Like version_tuple, with Confluent Platform's numbering ("7.6.0-ccs") mapped to Apache Kafka's (3.6)."""
    major, minor = version_tuple(version)
    if ("-ccs" in version or "-ce" in version) and major >= 7:
        return major - 4, minor
    return major, minor


def untested_version_warning(version: str) -> str | None:
    """Why a cluster's Connect version is outside the tested matrix, or None when it is inside."""
    got = apache_version_tuple(version)
    if TESTED_FLOOR <= got <= TESTED_CEILING:
        return None
    text = (
        f"Kafka Connect {version} is outside the tested range {TESTED_FLOOR[0]}.{TESTED_FLOOR[1]} to "
        f"{TESTED_CEILING[0]}.{TESTED_CEILING[1]} (see docs/compatibility.md)"
    )
    if got < (3, 5):
        text += "; it has no offsets API, so a purged binlog position is seen only through the Jolokia position"
    return text


def _as_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(config: Mapping[str, Any], key: str) -> str:
    value = config.get(key)
    return value if isinstance(value, str) else ""


def parse_settings(config: Any) -> ConnectorSettings | None:
    """Keep the allow-listed keys of a connector config; drop the rest (passwords included)."""
    if not isinstance(config, (dict, Mapping)):
        return None
    return ConnectorSettings(
        _text(config, "connector.class"),
        _text(config, "topic.prefix") or _text(config, "database.server.name"),
        _text(config, "database.hostname"),
        _as_int(config.get("database.port")),
        _text(config, "database.user"),
        _as_int(config.get("tasks.max")),
        schema_history_topic(config),
    )


def schema_history_topic(config: Mapping[str, Any]) -> str:
    """The Kafka topic a Debezium connector keeps its schema history in, or "" (none named, or
    `schema.history.internal` / `database.history` names a store other than Kafka's)."""
    for store_key, topic_key in (
        ("schema.history.internal", "schema.history.internal.kafka.topic"),  # Debezium 2.x+
        ("database.history", "database.history.kafka.topic"),  # Debezium 1.x
    ):
        topic = _text(config, topic_key).strip()
        store = _text(config, store_key)
        if topic and (not store or "Kafka" in store):
            return topic
    return ""


# ------------------------------------------------------------------ decoding the reply


class _Entry(msgspec.Struct):
    """Base of the typed entries: `get` reads like a Mapping's, so one parser serves both these
    and plain decoded JSON (the per-connector replies, tests)."""

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


class _TaskEntry(_Entry):
    id: Any = None
    state: Any = None
    worker_id: Any = None
    trace: msgspec.Raw = msgspec.Raw()


class _ConnectorEntry(_Entry):
    state: Any = None
    worker_id: Any = None
    trace: msgspec.Raw = msgspec.Raw()


class _StatusEntry(_Entry):
    connector: _ConnectorEntry | None = None
    tasks: list[_TaskEntry] | None = None
    type: Any = None


class _InfoEntry(_Entry):
    config: msgspec.Raw = msgspec.Raw()  # decoded only when it changed (`FailureMemo.config`)
    type: Any = None


class _ExpandedEntry(_Entry):
    status: _StatusEntry | None = None
    info: _InfoEntry | None = None


_KNOWN_BY_NAME = {str(s): s for s in KNOWN_STATES}  # the fast path leaves any other state to the careful one
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENTRY = msgspec.json.Decoder(_ExpandedEntry)
_ANY = msgspec.json.Decoder()


def decode_expanded(content: bytes | bytearray, where: str) -> Any:
    """Body of `GET /connectors?expand=...` -> {name: undecoded entry}; a list (Connect < 2.3
    ignores `expand`) or any other JSON value is decoded as it is. Not JSON, or nested
    deeper than msgspec decodes -> `decode`."""
    if not content:
        return None
    try:
        try:
            return _TOP.decode(content)
        except msgspec.ValidationError:  # valid JSON, but not an object of connectors
            return _ANY.decode(content)
    except RecursionError:
        limit = sys.getrecursionlimit()  # msgspec's depth guard is the interpreter's
        raise SourceFailure(ErrorReason.DECODE, f"{where}: JSON nested deeper than {limit} levels") from None
    except msgspec.DecodeError:
        text = bytes(content[:480]).decode("utf-8", "replace")
        raise SourceFailure(ErrorReason.DECODE, f"{where}: non-JSON body: {excerpt(text, 120)}") from None


_UNDECODABLE = object()


def _decode_entry(raw: msgspec.Raw) -> Any:
    """One connector's slice -> typed entry; an odd shape -> plain JSON; not decodable -> _UNDECODABLE."""
    try:
        try:
            return _ENTRY.decode(raw)
        except msgspec.ValidationError:  # a field of another type than Connect sends
            return _ANY.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # e.g. a number out of range
        return _UNDECODABLE


def _is_object(value: Any) -> bool:
    return isinstance(value, (dict, _Entry, Mapping))


def _fast_connector(name: str, entry: _ExpandedEntry, memo: FailureMemo) -> ConnectorStatus | None:
    """The common shape of a typed entry, parsed without the checks of `build_connector`; None
    when anything is unusual (that entry then takes the careful path, which reports problems)."""
    status, info = entry.status, entry.info
    if status is None or info is None or status.connector is None or status.tasks is None:
        return None
    config = memo.config(info.config)
    if config is None:
        return None
    settings, secrets_key = config
    connector = status.connector
    state = _KNOWN_BY_NAME.get(connector.state)
    kind = status.type
    worker = connector.worker_id
    if state is None or type(kind) is not str or not kind or type(worker) is not str:
        return None
    secrets = _LazySecrets(info.config)
    tasks = []
    for task in status.tasks:
        task_id, task_state, task_worker = task.id, _KNOWN_BY_NAME.get(task.state), task.worker_id
        if type(task_id) is not int or task_state is None or type(task_worker) is not str:
            return None
        failure = memo.failure(task.trace, secrets, secrets_key) if len(task.trace) > 0 else None
        tasks.append(memo.task(task_id, task_state, task_worker, failure))
    tasks.sort(key=lambda t: t.id)
    failure = memo.failure(connector.trace, secrets, secrets_key) if len(connector.trace) > 0 else None
    return ConnectorStatus(
        name,
        kind,
        state,
        worker,
        tuple(tasks),
        settings,
        failure.excerpt if failure else None,
        failure,
    )


class _LazySecrets:
    """The secret values of an undecoded connector config, decoded on first use (only a trace
    not seen before needs them)."""

    __slots__ = ("_raw", "_values")

    def __init__(self, raw: msgspec.Raw):
        self._raw = raw
        self._values: frozenset[str] | None = None

    def __call__(self) -> frozenset[str]:
        if self._values is None:
            config = _decode_config(self._raw)
            self._values = secret_values(config) if isinstance(config, Mapping) else frozenset()
        return self._values


def _decode_config(raw: Any) -> Any:
    """An undecoded config -> its JSON value; missing -> None; not decodable (a number out of
    range) -> _UNDECODABLE, as the whole entry would have been."""
    if not isinstance(raw, msgspec.Raw):
        return raw
    if len(raw) == 0:
        return None
    try:
        return _ANY.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _UNDECODABLE


class FailureMemo:
    """What the previous reply and the one being parsed made of their traces and configs.

    A connector whose undecoded entry is byte for byte the one of the last reply is not decoded
    again: its `ConnectorStatus` is reused (keyed by name, hash and length of the entry; at
    20,000 connectors with four FAILED tasks a steady poll mostly hashes). Traces are keyed by
    (hash and length of the trace, keyed digest of the connector's secret values), so a trace
    is explained once while it stays in the replies. Configs are keyed by
    the hash and length of their undecoded JSON and give the allow-listed settings and that
    keyed digest, so an unchanged config is not decoded again (at 8,000 connectors this saved
    about a third of a steady poll's CPU). Neither traces, configs nor secrets are held.
    Bounded: only the entries of the last two replies are kept (`next_reply`).
    """

    __slots__ = (
        "_by_digest",
        "_configs",
        "_current",
        "_entries",
        "_key",
        "_previous",
        "_previous_configs",
        "_previous_entries",
        "_previous_tasks",
        "_tasks",
    )

    def __init__(self) -> None:
        self._previous: dict[tuple[Any, ...], Failure | None] = {}
        self._current: dict[tuple[Any, ...], Failure | None] = {}
        self._by_digest: dict[str, Failure] = {}
        self._previous_configs: dict[tuple[int, int], tuple[ConnectorSettings, bytes]] = {}
        self._configs: dict[tuple[int, int], tuple[ConnectorSettings, bytes]] = {}
        self._previous_tasks: dict[tuple[Any, ...], TaskStatus] = {}
        self._tasks: dict[tuple[Any, ...], TaskStatus] = {}
        self._previous_entries: dict[tuple[str, int, int], ConnectorStatus] = {}
        self._entries: dict[tuple[str, int, int], ConnectorStatus] = {}
        self._key = os.urandom(16)

    def next_reply(self) -> None:
        self._previous, self._current, self._by_digest = self._current, {}, {}
        self._previous_configs, self._configs = self._configs, {}
        self._previous_tasks, self._tasks = self._tasks, {}
        self._previous_entries, self._entries = self._entries, {}

    def entry(self, key: tuple[str, int, int]) -> ConnectorStatus | None:
        """What the fast path made of a byte-identical entry of the same connector in this or
        the last reply (`key`: name, hash and length of the undecoded entry)."""
        found = self._entries.get(key) or self._previous_entries.get(key)
        if found is not None:
            self._entries[key] = found
        return found

    def keep_entry(self, key: tuple[str, int, int], connector: ConnectorStatus) -> None:
        self._entries[key] = connector

    def config(self, raw: msgspec.Raw) -> tuple[ConnectorSettings, bytes] | None:
        """(settings, keyed digest of the secret values) of an undecoded config; None when it
        is missing or not an object."""
        data = bytes(raw)
        key = (hash(data), len(data))
        found = self._configs.get(key) or self._previous_configs.get(key)
        if found is None:
            config = _decode_config(raw)
            settings = parse_settings(config)
            if settings is None:
                return None
            found = (settings, self.secrets_key(secret_values(config)))
        self._configs[key] = found
        return found

    def task(self, task_id: int, state: State, worker: str, failure: Failure | None) -> TaskStatus:
        """An equal `TaskStatus` of this or the last reply, else a new one (a lookup costs a
        quarter of building the frozen record)."""
        key = (task_id, state, worker, id(failure))  # the record kept holds the failure, so its id stays its own
        found = self._tasks.get(key) or self._previous_tasks.get(key)
        if found is None:
            found = TaskStatus(task_id, state, worker, failure.excerpt if failure else None, failure)
        self._tasks[key] = found
        return found

    def secrets_key(self, secrets: frozenset[str]) -> bytes:
        if not secrets:
            return b""
        joined = "\0".join(sorted(secrets)).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(joined, key=self._key, digest_size=16).digest()

    def failure(
        self, trace: Any, secrets: frozenset[str] | Callable[[], frozenset[str]], secrets_key: bytes
    ) -> Failure | None:
        """The failure of a trace: a `str`, or the undecoded JSON value of one (`msgspec.Raw`).
        `secrets` may be a callable giving them, asked only for a trace not seen before."""
        if isinstance(trace, msgspec.Raw):
            data = bytes(trace)
            if len(data) < 3 or data[0] != 0x22:  # '"'
                return None  # missing, null, "" or not a string
            key: tuple[Any, ...] = (True, hash(data), len(data), secrets_key)
        elif isinstance(trace, str) and trace:
            data = None
            key = (False, hash(trace), len(trace), secrets_key)
        else:
            return None
        if key in self._current:
            return self._current[key]
        if key in self._previous:
            found = self._previous[key]
        else:
            text = trace if data is None else _ANY.decode(data)
            if callable(secrets):
                secrets = secrets()
            found = explain(text, secrets) if isinstance(text, str) else None
        if found is not None:  # equal failures share one object
            found = self._by_digest.setdefault(found.digest, found)
        self._current[key] = found
        return found


def _parse_trace(entry: Any, memo: FailureMemo, secrets: frozenset[str], secrets_key: bytes) -> Failure | None:
    return memo.failure(entry.get("trace"), secrets, secrets_key)


def parse_status(
    name: str,
    status: Any,
    secrets: frozenset[str] = frozenset(),
    memo: FailureMemo | None = None,
) -> tuple[State, str, str, str | None, tuple[TaskStatus, ...], list[str]]:
    """A `ConnectorStateInfo` -> (state, type, worker_id, trace excerpt, tasks, problems).

    `memo`: see `FailureMemo`; one per source (a fresh one when not given).
    """
    state, kind, worker, failure, tasks, problems = _parse_status(name, status, secrets, memo or FailureMemo())
    return state, kind, worker, failure.excerpt if failure else None, tasks, problems


def _parse_status(
    name: str, status: Any, secrets: frozenset[str], memo: FailureMemo
) -> tuple[State, str, str, Failure | None, tuple[TaskStatus, ...], list[str]]:
    problems: list[str] = []
    if not _is_object(status):
        return State.UNKNOWN, "unknown", "", None, (), [f"connector {name}: no status in reply"]
    secrets_key = memo.secrets_key(secrets)
    connector = status.get("connector")
    if not _is_object(connector):
        connector = {}
        problems.append(f"connector {name}: status has no connector entry")
    raw_state = connector.get("state")
    state = State.parse(raw_state)
    if state is State.UNKNOWN and raw_state is not None:
        problems.append(f"connector {name}: unknown state {str(raw_state)[:40]!r}")
    tasks = []
    raw_tasks = status.get("tasks")
    for raw in raw_tasks if isinstance(raw_tasks, list) else []:
        task_id = _as_int(raw.get("id")) if _is_object(raw) else None
        if task_id is None:
            problems.append(f"connector {name}: task entry without an id skipped")
            continue
        task_state = State.parse(raw.get("state"))
        if task_state is State.UNKNOWN:
            problems.append(f"connector {name}: task {task_id} has unknown state {str(raw.get('state'))[:40]!r}")
        failure = _parse_trace(raw, memo, secrets, secrets_key)
        tasks.append(
            TaskStatus(
                task_id, task_state, str(raw.get("worker_id") or ""), failure.excerpt if failure else None, failure
            )
        )
    tasks.sort(key=lambda t: t.id)
    kind = status.get("type")
    return (
        state,
        kind if isinstance(kind, str) and kind else "unknown",
        str(connector.get("worker_id") or ""),
        _parse_trace(connector, memo, secrets, secrets_key),
        tuple(tasks),
        problems,
    )


def _has_trace(status: Any) -> bool:
    if not _is_object(status):
        return False
    connector = status.get("connector")
    if _is_object(connector) and connector.get("trace"):
        return True
    tasks = status.get("tasks")
    return isinstance(tasks, list) and any(_is_object(t) and t.get("trace") for t in tasks)


def build_connector(
    name: str, status: Any, config: Any, memo: FailureMemo | None = None
) -> tuple[ConnectorStatus, list[str]]:
    # Secret values are only needed to scrub traces; healthy connectors have none.
    secrets = secret_values(config) if isinstance(config, Mapping) and _has_trace(status) else frozenset()
    state, kind, worker, failure, tasks, problems = _parse_status(name, status, secrets, memo or FailureMemo())
    settings = parse_settings(config)
    if settings is None:
        problems.append(f"connector {name}: no config in reply")
    trace = failure.excerpt if failure else None
    return ConnectorStatus(name, kind, state, worker, tasks, settings, trace, failure), problems


@dataclass(frozen=True, slots=True)
class ExpandedReply:
    """What `read_expanded` makes of an expanded reply."""

    connectors: dict[str, ConnectorStatus]
    excluded: int  # connectors hidden by include/exclude patterns
    problems: list[str]
    no_status: frozenset[str]  # selected connectors whose entry had no status
    no_info: frozenset[str]  # ... no info; entries that could not be decoded are in both


def read_expanded(
    body: Any,
    selects: Callable[[str], bool] = lambda _: True,
    memo: FailureMemo | None = None,
) -> ExpandedReply:
    """`GET /connectors?expand=status&expand=info` (as `decode_expanded` or `json.loads` gives it).

    Entries with `info: null` or a missing status are kept with what is known; entries that
    Connect left out entirely cannot be seen here (see `carry_incomplete`). Each entry is
    decoded, parsed and dropped in turn.
    """
    if not isinstance(body, Mapping):
        raise SourceFailure(ErrorReason.DECODE, "GET /connectors?expand=... did not return an object")
    memo = memo or FailureMemo()
    memo.next_reply()
    connectors: dict[str, ConnectorStatus] = {}
    problems: list[str] = []
    no_status: set[str] = set()
    no_info: set[str] = set()
    excluded = 0
    for name, value in body.items():
        if not isinstance(name, str):
            continue
        if not selects(name):
            excluded += 1
            continue
        key = None
        if isinstance(value, msgspec.Raw):
            data = bytes(value)
            key = (name, hash(data), len(data))
            known = memo.entry(key)
            if known is not None:  # unchanged since the last reply: not decoded again
                connectors[name] = known
                continue
        entry = _decode_entry(value) if isinstance(value, msgspec.Raw) else value
        if isinstance(entry, _ExpandedEntry):
            fast = _fast_connector(name, entry, memo)
            if fast is not None:
                connectors[name] = fast
                if key is not None:
                    memo.keep_entry(key, fast)
                continue
            if entry.info is not None and _decode_config(entry.info.config) is _UNDECODABLE:
                entry = _UNDECODABLE
        if entry is _UNDECODABLE:
            problems.append(f"connector {name}: entry cannot be decoded")
            no_status.add(name)
            no_info.add(name)
            continue
        if not _is_object(entry):
            problems.append(f"connector {name}: entry is not an object")
            continue
        status = entry.get("status")
        info = entry.get("info")
        if not _is_object(status):
            no_status.add(name)
        if not _is_object(info):
            no_info.add(name)
        config = _decode_config(info.get("config")) if _is_object(info) else None
        connector, entry_problems = build_connector(name, status, config, memo)
        if connector.type == "unknown" and _is_object(info) and isinstance(info.get("type"), str):
            connector = _with_type(connector, info.get("type"))
        connectors[name] = connector
        problems.extend(entry_problems)
    return ExpandedReply(dict(sorted(connectors.items())), excluded, problems, frozenset(no_status), frozenset(no_info))


def parse_expanded(
    body: Any,
    selects: Callable[[str], bool] = lambda _: True,
    memo: FailureMemo | None = None,
) -> tuple[dict[str, ConnectorStatus], int, list[str]]:
    """`read_expanded` -> (connectors, excluded count, problems)."""
    reply = read_expanded(body, selects, memo)
    return reply.connectors, reply.excluded, reply.problems


def incomplete_entries(
    body: Any, selects: Callable[[str], bool] = lambda _: True
) -> tuple[frozenset[str], frozenset[str]]:
    """Selected connectors of an expanded reply without a status, and those without info."""
    no_status, no_info = set(), set()
    if isinstance(body, Mapping):
        for name, entry in body.items():
            if isinstance(name, str) and isinstance(entry, Mapping) and selects(name):
                if not isinstance(entry.get("status"), Mapping):
                    no_status.add(name)
                if not isinstance(entry.get("info"), Mapping):
                    no_info.add(name)
    return frozenset(no_status), frozenset(no_info)


INCOMPLETE_GRACE_POLLS = 3


def carry_incomplete(
    connectors: dict[str, ConnectorStatus],
    no_status: frozenset[str],
    no_info: frozenset[str],
    previous: ConnectClusterState | None,
) -> tuple[dict[str, ConnectorStatus], dict[str, int]]:
    """Fill what a reply left out from the previous poll -> (connectors, incomplete counts).

    Connect omits a connector's whole entry when looking up its status fails, and `info` is
    null when it vanished mid-request. A connector known from `previous` keeps its last known
    status and/or info for `INCOMPLETE_GRACE_POLLS` polls in a row; after that it is shown with
    what the reply has (an omitted one vanishes). Left-out entries go in both sets.
    """
    gaps = no_status | no_info
    if not gaps:
        return connectors, {}
    before = previous.connectors if previous is not None else {}
    counted = previous.incomplete if previous is not None else {}
    merged = dict(connectors)
    incomplete: dict[str, int] = {}
    for name in gaps:
        polls = incomplete[name] = counted.get(name, 0) + 1
        old = before.get(name)
        if old is None or polls > INCOMPLETE_GRACE_POLLS:
            continue
        new = merged.get(name)
        if new is None:
            merged[name] = old
            continue
        status = old if name in no_status else new
        settings = old.settings if name in no_info else new.settings
        merged[name] = ConnectorStatus(
            name, status.type, status.state, status.worker_id, status.tasks, settings, status.trace, status.failure
        )
    return dict(sorted(merged.items())), dict(sorted(incomplete.items()))


def _with_type(connector: ConnectorStatus, kind: str) -> ConnectorStatus:
    return ConnectorStatus(
        connector.name,
        kind,
        connector.state,
        connector.worker_id,
        connector.tasks,
        connector.settings,
        connector.trace,
        connector.failure,
    )


def build_cluster_state(
    cluster: str,
    worker_url: str,
    root: tuple[str, str, str],
    connectors: dict[str, ConnectorStatus],
    excluded: int,
    problems: list[str],
    incomplete: Mapping[str, int] | None = None,
    deleted: frozenset[str] = frozenset(),
) -> ConnectClusterState:
    version, commit, kafka_cluster_id = root
    return ConnectClusterState(
        cluster=cluster,
        worker_url=worker_url,
        version=version,
        commit=commit,
        kafka_cluster_id=kafka_cluster_id,
        connectors=MappingProxyType(connectors),
        excluded=excluded,
        problems=tuple(problems),
        incomplete=MappingProxyType(dict(incomplete or {})),
        deleted=deleted,
    )


def parse_offsets(body: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """`GET /connectors/{c}/offsets` -> [(partition, offset)]; entries of the wrong shape are skipped."""
    if not isinstance(body, Mapping) or not isinstance(body.get("offsets"), list):
        raise SourceFailure(ErrorReason.DECODE, "offsets reply has no offsets list")
    pairs = []
    for item in body["offsets"]:
        if (
            isinstance(item, Mapping)
            and isinstance(item.get("partition"), Mapping)
            and isinstance(item.get("offset"), Mapping)
        ):
            pairs.append((dict(item["partition"]), dict(item["offset"])))
    return pairs


OffsetEntries = tuple[tuple[dict[str, Any], dict[str, Any]], ...]


@dataclass(frozen=True, slots=True)
class ConnectOffsets(Mapping[str, OffsetEntries]):
    """One offsets poll of a cluster, read as {connector: ((partition, offset), ...)}.

    `stale`: connectors whose offsets could not be read in this poll; the entry of each (if it
    has one) is carried over from the last poll that read it.
    """

    offsets: Mapping[str, OffsetEntries] = field(default_factory=lambda: MappingProxyType({}))
    stale: frozenset[str] = frozenset()

    def __getitem__(self, connector: str) -> OffsetEntries:
        return self.offsets[connector]

    def __iter__(self) -> Iterator[str]:
        return iter(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets)


def merge_offsets(read: Mapping[str, OffsetEntries], failed: frozenset[str], previous: Any) -> ConnectOffsets:
    """This poll's offsets plus, for each connector that failed, its entry from `previous`."""
    merged = dict(read)
    if isinstance(previous, Mapping):
        for name in failed:
            entries = previous.get(name)
            if entries is not None:
                merged[name] = entries
    return ConnectOffsets(MappingProxyType(dict(sorted(merged.items()))), failed)
