"""Pure parsers for Kafka Connect REST replies (no I/O; fed by recorded replies in tests).

Shapes follow Kafka Connect 2.0 - 4.1 (see docs/protocols.md, "Kafka Connect REST"). A reply
that does not have the expected shape raises `SourceFailure(DECODE, ...)`; an odd entry
inside an otherwise good reply is skipped and reported in `problems` instead, so one broken
connector never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.redact import scrub, secret_values
from cdc_watch.sources.connect.model import (
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


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_settings(config: Any) -> ConnectorSettings | None:
    """Keep the allow-listed keys of a connector config; drop the rest (passwords included)."""
    if not isinstance(config, Mapping):
        return None

    def text(key: str) -> str:
        value = config.get(key)
        return value if isinstance(value, str) else ""

    return ConnectorSettings(
        connector_class=text("connector.class"),
        topic_prefix=text("topic.prefix") or text("database.server.name"),
        database_hostname=text("database.hostname"),
        database_port=_as_int(config.get("database.port")),
        database_user=text("database.user"),
        tasks_max=_as_int(config.get("tasks.max")),
    )


def _parse_trace(entry: Mapping[str, Any], secrets: frozenset[str], memo: dict[str, str] | None) -> str | None:
    trace = entry.get("trace")
    if not isinstance(trace, str) or not trace:
        return None
    return scrub(trace, secrets, memo)


def parse_status(
    name: str, status: Any, secrets: frozenset[str] = frozenset(), memo: dict[str, str] | None = None
) -> tuple[State, str, str, str | None, tuple[TaskStatus, ...], list[str]]:
    """A `ConnectorStateInfo` -> (state, type, worker_id, trace, tasks, problems).

    `memo`: see `redact.scrub`; one dict per reply.
    """
    problems: list[str] = []
    if not isinstance(status, Mapping):
        return State.UNKNOWN, "unknown", "", None, (), [f"connector {name}: no status in reply"]
    connector = status.get("connector")
    if not isinstance(connector, Mapping):
        connector = {}
        problems.append(f"connector {name}: status has no connector entry")
    state = State.parse(connector.get("state"))
    if state is State.UNKNOWN and connector.get("state") is not None:
        problems.append(f"connector {name}: unknown state {str(connector.get('state'))[:40]!r}")
    tasks = []
    raw_tasks = status.get("tasks")
    for raw in raw_tasks if isinstance(raw_tasks, list) else []:
        task_id = _as_int(raw.get("id")) if isinstance(raw, Mapping) else None
        if task_id is None:
            problems.append(f"connector {name}: task entry without an id skipped")
            continue
        task_state = State.parse(raw.get("state"))
        if task_state is State.UNKNOWN:
            problems.append(f"connector {name}: task {task_id} has unknown state {str(raw.get('state'))[:40]!r}")
        tasks.append(TaskStatus(task_id, task_state, str(raw.get("worker_id") or ""), _parse_trace(raw, secrets, memo)))
    tasks.sort(key=lambda t: t.id)
    kind = status.get("type")
    return (
        state,
        kind if isinstance(kind, str) and kind else "unknown",
        str(connector.get("worker_id") or ""),
        _parse_trace(connector, secrets, memo),
        tuple(tasks),
        problems,
    )


def _has_trace(status: Any) -> bool:
    if not isinstance(status, Mapping):
        return False
    connector = status.get("connector")
    if isinstance(connector, Mapping) and connector.get("trace"):
        return True
    tasks = status.get("tasks")
    return isinstance(tasks, list) and any(isinstance(t, Mapping) and t.get("trace") for t in tasks)


def build_connector(
    name: str, status: Any, config: Any, memo: dict[str, str] | None = None
) -> tuple[ConnectorStatus, list[str]]:
    # Secret values are only needed to scrub traces; healthy connectors have none.
    secrets = secret_values(config) if isinstance(config, Mapping) and _has_trace(status) else frozenset()
    state, kind, worker, trace, tasks, problems = parse_status(name, status, secrets, memo)
    settings = parse_settings(config)
    if settings is None:
        problems.append(f"connector {name}: no config in reply")
    return ConnectorStatus(name, kind, state, worker, tasks, settings, trace), problems


def parse_expanded(
    body: Any,
    selects: Callable[[str], bool] = lambda _: True,
) -> tuple[dict[str, ConnectorStatus], int, list[str]]:
    """`GET /connectors?expand=status&expand=info` -> (connectors, excluded count, problems).

    Entries with `info: null` or a missing status are kept with what is known; entries that
    Connect left out entirely cannot be seen here (see `carry_incomplete`).
    """
    if not isinstance(body, Mapping):
        raise SourceFailure(ErrorReason.DECODE, "GET /connectors?expand=... did not return an object")
    connectors: dict[str, ConnectorStatus] = {}
    problems: list[str] = []
    excluded = 0
    memo: dict[str, str] = {}  # scrubbed traces of this reply
    for name, entry in body.items():
        if not isinstance(name, str):
            continue
        if not selects(name):
            excluded += 1
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"connector {name}: entry is not an object")
            continue
        info = entry.get("info")
        config = info.get("config") if isinstance(info, Mapping) else None
        connector, entry_problems = build_connector(name, entry.get("status"), config, memo)
        if connector.type == "unknown" and isinstance(info, Mapping) and isinstance(info.get("type"), str):
            connector = _with_type(connector, info["type"])
        connectors[name] = connector
        problems.extend(entry_problems)
    return dict(sorted(connectors.items())), excluded, problems


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
            name, status.type, status.state, status.worker_id, status.tasks, settings, status.trace
        )
    return dict(sorted(merged.items())), dict(sorted(incomplete.items()))


def _with_type(connector: ConnectorStatus, kind: str) -> ConnectorStatus:
    return ConnectorStatus(
        connector.name, kind, connector.state, connector.worker_id, connector.tasks, connector.settings, connector.trace
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
