"""The per-connector binlog join (pure): lag, availability, purge ETA, failover, first-seen times.

Inputs are immutable values: a `DatabaseState` per configured database (built by the MySQL
source), the Connect state, the Jolokia live positions and the committed offsets. Outputs are
`ConnectorBinlog` rows the exporter turns into metrics. Nothing here does I/O or reads a clock:
`now` is passed in. Rules follow shared/reference/protocols.md sections 4.5 and 4.6.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cdc_watch.model import ConnectorSettings, State
from cdc_watch.positions import ConnectorPosition, committed_position, connector_positions
from cdc_watch.sources.mysql_parse import (
    BinlogFile,
    Flavour,
    HeadPosition,
    PrivilegeCheck,
    ServerInfo,
    SettingCheck,
    binlog_base,
    binlog_seq,
    gtid_missing,
    gtid_subset,
    parse_mysql_gtid_set,
)

DEFAULT_PORT = 3306


# ------------------------------------------------------------------------------- database state
@dataclass(frozen=True, slots=True)
class Endpoint:
    """How connectors are matched to a configured database."""

    database: str
    host: str | None
    port: int
    hostnames: tuple[str, ...] = ()  # other names connectors use for the same server
    connectors: tuple[str, ...] = ()  # glob patterns on "connector" or "cluster/connector": override


@dataclass(frozen=True, slots=True)
class Identity:
    server_uuid: str
    server_id: str
    read_only: bool


@dataclass(frozen=True, slots=True)
class FileSeen:
    first_seen: float  # wall clock when cdc_watch first saw the file listed
    exact: bool  # True if the file appeared while cdc_watch was watching (first_seen ~ creation)


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """One successful poll of one database."""

    endpoint: Endpoint
    server: ServerInfo
    polled_at: float
    identity: Identity
    head: HeadPosition | None  # None: binlog off or status not readable
    files: tuple[BinlogFile, ...] | None  # None: SHOW BINARY LOGS not allowed / failed
    retention_seconds: float | None  # 0: never purged by age; None: unknown
    gtid_mode: bool  # MySQL gtid_mode ON (MariaDB: always False here, the file test is used)
    gtid_executed: str
    gtid_purged: str
    settings: tuple[SettingCheck, ...]
    privileges: Mapping[str, tuple[PrivilegeCheck, ...]]  # connector database user -> checks
    unknown_checks: Mapping[str, str]  # check -> grant the monitoring user lacks for it
    failovers: int  # identity changes seen behind this endpoint (kept in the state file)
    written_bytes: int  # binlog bytes written since cdc_watch started (head movement)
    write_rate: float | None  # bytes/s, smoothed; None until two polls
    seen: Mapping[str, FileSeen] = field(default_factory=lambda: MappingProxyType({}))
    previous_identity: Identity | None = None  # the server behind the endpoint before the last failover
    check_errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # check -> error that stopped it
    unchecked_users: int = 0  # connector users whose grants could not be read (placeholder, error)

    @property
    def total_size(self) -> int | None:
        return None if self.files is None else sum(f.size for f in self.files)

    def privilege_summary(self) -> dict[str, bool | None]:
        """Per privilege over every connector user of this database: False if one lacks it, True
        if every user was checked and has it, None when that cannot be told."""
        complete = self.unchecked_users == 0 and "grants" not in self.unknown_checks
        found: dict[str, bool] = {}
        for checks in self.privileges.values():
            for check in checks:
                found[check.privilege] = found.get(check.privilege, True) and check.ok
        return {p: False if not ok else (True if complete else None) for p, ok in found.items()}


# ------------------------------------------------------------------------------- matching
def _norm_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def pattern_match(endpoint: Endpoint, cluster: str, connector: str) -> bool:
    return any(fnmatch.fnmatchcase(connector, p) or fnmatch.fnmatchcase(f"{cluster}/{connector}", p) for p in endpoint.connectors)


def host_match(endpoint: Endpoint, settings: ConnectorSettings) -> bool:
    if not settings.database_hostname:
        return False
    names = {_norm_host(h) for h in (endpoint.host, *endpoint.hostnames) if h}
    port = settings.database_port or DEFAULT_PORT
    return _norm_host(settings.database_hostname) in names and port == endpoint.port


class DatabaseMatcher:
    """Connector -> configured database, built once per join: O(1) per connector by host:port."""

    def __init__(self, endpoints: Iterable[Endpoint]):
        self._patterned = [e for e in endpoints if e.connectors]
        self._by_address: dict[tuple[str, int], str] = {}
        for endpoint in endpoints:
            for host in (endpoint.host, *endpoint.hostnames):
                if host:
                    self._by_address.setdefault((_norm_host(host), endpoint.port), endpoint.database)

    def assign(self, cluster: str, connector: str, settings: ConnectorSettings | None) -> str | None:
        """The configured database a connector reads: explicit patterns first, then host and port."""
        for endpoint in self._patterned:
            if pattern_match(endpoint, cluster, connector):
                return endpoint.database
        if settings is None or not settings.is_debezium_mysql or not settings.database_hostname:
            return None
        return self._by_address.get((_norm_host(settings.database_hostname), settings.database_port or DEFAULT_PORT))


def assign_database(endpoints: Iterable[Endpoint], cluster: str, connector: str, settings: ConnectorSettings | None) -> str | None:
    """The configured database a connector reads: explicit patterns first, then host and port."""
    return DatabaseMatcher(list(endpoints)).assign(cluster, connector, settings)


# ------------------------------------------------------------------------------- byte distance
class PositionStatus(StrEnum):
    AVAILABLE = "available"
    PURGED = "purged"  # file older than the oldest listed file: gone
    UNKNOWN_FILE = "unknown_file"  # file missing but not older: server reset / failover
    BASENAME_CHANGED = "basename_changed"  # different binlog base name: another server
    GTIDS_PURGED = "gtids_purged"  # GTIDs the connector still needs were purged
    GTIDS_UNKNOWN = "gtids_unknown"  # the server does not know the connector's GTIDs
    OTHER_SERVER = "other_server"  # file/position recorded on the server before a failover
    UNKNOWN = "unknown"  # not enough data (no file list, binlog off)


POSITION_STATUSES = tuple(s.value for s in PositionStatus if s is not PositionStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class FileIndex:
    """SHOW BINARY LOGS indexed once per database, so the join is O(1) per connector."""

    files: tuple[BinlogFile, ...]
    position: Mapping[str, int]  # file name -> index in files
    seqs: tuple[int | None, ...]
    cumulative: tuple[int, ...]  # cumulative[i] = total size of files[:i]


def index_files(files: tuple[BinlogFile, ...]) -> FileIndex:
    cumulative = [0]
    for f in files:
        cumulative.append(cumulative[-1] + f.size)
    return FileIndex(files, {f.name: i for i, f in enumerate(files)}, tuple(binlog_seq(f.name) for f in files), tuple(cumulative))


def byte_distance(files: tuple[BinlogFile, ...] | FileIndex, from_file: str, from_pos: int, head: HeadPosition) -> int | None:
    """Bytes from (from_file, from_pos) to the head, across files; None when not computable."""
    seq_from, seq_head = binlog_seq(from_file), binlog_seq(head.file)
    if seq_from is None or seq_head is None or binlog_base(from_file) != binlog_base(head.file):
        return None
    if from_file == head.file:
        return max(0, head.position - from_pos)
    if seq_from > seq_head:
        return None
    index = files if isinstance(files, FileIndex) else index_files(files)
    at = index.position.get(from_file)
    if at is None:
        return None
    end = index.position.get(head.file)
    if end is None:  # head file not listed yet (rotation between the two statements)
        end = sum(1 for s in index.seqs if s is not None and s < seq_head)
    between = index.cumulative[end] - index.cumulative[at + 1] if end > at else 0
    return max(0, index.files[at].size - from_pos) + between + head.position


def file_status(files: tuple[BinlogFile, ...] | FileIndex, head: HeadPosition | None, name: str) -> PositionStatus:
    index = files if isinstance(files, FileIndex) else index_files(files)
    files = index.files
    if not files:
        return PositionStatus.UNKNOWN
    reference = head.file if head is not None else files[-1].name
    if binlog_base(name) != binlog_base(reference):
        return PositionStatus.BASENAME_CHANGED
    if name in index.position:
        return PositionStatus.AVAILABLE
    seq, oldest = binlog_seq(name), binlog_seq(files[0].name)
    newest = max(binlog_seq(files[-1].name) or 0, binlog_seq(reference) or 0)
    if seq is not None and oldest is not None and seq < oldest:
        return PositionStatus.PURGED
    if seq is not None and seq > newest:
        return PositionStatus.UNKNOWN  # newer than the last database poll saw: not a loss
    return PositionStatus.UNKNOWN_FILE


def gtid_status(db: DatabaseState, gtids: str) -> PositionStatus | None:
    """Debezium's GTID-mode test (MySQL only); None when it does not apply."""
    if db.server.flavour is Flavour.MARIADB or not db.gtid_mode or not gtids or not db.gtid_executed:
        return None
    try:
        have = parse_mysql_gtid_set(gtids)
        executed = parse_mysql_gtid_set(db.gtid_executed)
        purged = parse_mysql_gtid_set(db.gtid_purged)
    except ValueError:
        return None
    if not gtid_subset(have, executed):
        return PositionStatus.GTIDS_UNKNOWN
    if gtid_missing(purged, have):
        return PositionStatus.GTIDS_PURGED
    return PositionStatus.AVAILABLE


def recorded_before_failover(db: DatabaseState, position: ConnectorPosition) -> bool:
    """File/position mode: the offset's server_id is the one of the server this endpoint led to
    before the last identity change, so its file and position are that server's (§4.4, §4.6).

    Only after an observed failover: reading from a replica, offsets normally carry the
    primary's server_id.
    """
    old = db.previous_identity
    if old is None or position.gtids or position.server_id is None:
        return False
    return old.server_id != db.identity.server_id and str(position.server_id) == old.server_id


def position_status(db: DatabaseState, position: ConnectorPosition, index: FileIndex | None = None) -> PositionStatus:
    by_gtid = gtid_status(db, position.gtids)
    if by_gtid is not None:
        return by_gtid
    if recorded_before_failover(db, position):
        return PositionStatus.OTHER_SERVER
    if db.files is None:
        return PositionStatus.UNKNOWN
    return file_status(index or db.files, db.head, position.file)


# ------------------------------------------------------------------------------- purge ETA
def purge_eta(db: DatabaseState, file: str, now: float, index: FileIndex | None = None) -> float | None:
    """Seconds until `file` is old enough to be purged by age; +Inf: never (retention off); None: unknown.

    A file is purged by age once it has been closed (the next file started) for longer than
    the retention. Its close time is the first-seen time of the next file when cdc_watch saw
    that file appear; otherwise it is estimated from the binlog write rate (bytes written
    after the file divided by bytes per second). The active file is at least a full retention
    away; its ETA is reported as the retention (a lower bound).
    """
    retention = db.retention_seconds
    if retention is None or db.files is None:
        return None
    index = index or index_files(db.files)
    status = file_status(index, db.head, file)
    if status is PositionStatus.PURGED:
        return 0.0
    if status is not PositionStatus.AVAILABLE:
        return None  # e.g. GTID mode after a failover: the file name means nothing here
    if retention == 0:
        return math.inf  # never purged by age, distinct from "unknown"
    if db.head is not None and file == db.head.file:
        return retention
    at = index.position[file]
    if at + 1 >= len(index.files):
        return retention
    nxt = index.files[at + 1]
    seen = db.seen.get(nxt.name)
    closed_at: float | None = seen.first_seen if seen is not None and seen.exact else None
    if closed_at is None and db.write_rate and db.head is not None:
        after = byte_distance(index, nxt.name, 0, db.head)
        if after is not None:
            closed_at = now - after / db.write_rate
    if closed_at is None:
        return None
    return max(0.0, closed_at + retention - now)


# ------------------------------------------------------------------------------- first seen
def update_seen(
    previous: Mapping[str, FileSeen] | None,
    files: tuple[BinlogFile, ...],
    now: float,
    watching: bool,
    since: float | None = None,
) -> dict[str, FileSeen]:
    """Record when each listed file was first seen; forget purged files.

    `watching` is False on the first observation of a database, after a failover, or after a
    gap in the listings: new files then get exact=False, because when they appeared is not
    known. Their first_seen is `since` (the last listing before the gap: the earliest they can
    have appeared, the conservative choice) or else now.
    """
    seen: dict[str, FileSeen] = {}
    previous = previous or {}
    exact = watching and bool(previous)
    first = now if exact or since is None else since
    for f in files:
        old = previous.get(f.name)
        seen[f.name] = old if old is not None else FileSeen(first, exact)
    return seen


def seen_to_json(seen: Mapping[str, FileSeen]) -> dict[str, list[Any]]:
    return {name: [entry.first_seen, entry.exact] for name, entry in seen.items()}


def seen_from_json(raw: Any) -> dict[str, FileSeen]:
    found: dict[str, FileSeen] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            if isinstance(name, str) and isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float)):
                found[name] = FileSeen(float(value[0]), bool(value[1]))
    return found


def identity_changed(old: Identity | None, new: Identity) -> list[str]:
    """What changed behind the same endpoint: server_uuid, server_id, read_only."""
    if old is None:
        return []
    changed = []
    if old.server_uuid and new.server_uuid and old.server_uuid != new.server_uuid:
        changed.append("server_uuid")
    if old.server_id != new.server_id:
        changed.append("server_id")
    if old.read_only != new.read_only:
        changed.append("read_only")
    return changed


def head_movement(files: tuple[BinlogFile, ...], old: HeadPosition | None, new: HeadPosition | None) -> int | None:
    """Bytes written between two heads of the same server, or None if not computable."""
    if old is None or new is None:
        return None
    return byte_distance(files, old.file, old.position, new)


# ------------------------------------------------------------------------------- the join
@dataclass(frozen=True, slots=True)
class ConnectorBinlog:
    cluster: str
    connector: str
    database: str
    current: ConnectorPosition | None
    restart: ConnectorPosition | None
    lag_bytes: int | None
    committed_lag_bytes: int | None
    status: PositionStatus
    purge_eta: float | None

    @property
    def available(self) -> bool | None:
        if self.status is PositionStatus.UNKNOWN:
            return None
        return self.status is PositionStatus.AVAILABLE


def _lag(db: DatabaseState, position: ConnectorPosition | None, index: FileIndex | None) -> int | None:
    if position is None or db.head is None or db.files is None:
        return None
    return byte_distance(index or db.files, position.file, position.position, db.head)


def join_connector(
    db: DatabaseState,
    cluster: str,
    connector: str,
    jolokia_data: Any,
    offsets_data: Any,
    now: float,
    running: bool = True,
    index: FileIndex | None = None,
) -> ConnectorBinlog:
    if index is None and db.files is not None:
        index = index_files(db.files)
    positions = connector_positions(jolokia_data, offsets_data, connector, running)
    lag = _lag(db, positions.current, index)
    committed_lag = _lag(db, committed_position(offsets_data, connector), index)
    status = PositionStatus.UNKNOWN
    eta = None
    if positions.restart is not None:
        status = position_status(db, positions.restart, index)
        if status is PositionStatus.AVAILABLE:
            eta = purge_eta(db, positions.restart.file, now, index)
        elif status in (PositionStatus.PURGED, PositionStatus.GTIDS_PURGED):
            eta = 0.0
    return ConnectorBinlog(cluster, connector, db.endpoint.database, positions.current, positions.restart, lag, committed_lag, status, eta)


def join(
    databases: Mapping[str, DatabaseState],
    clusters: Iterable[tuple[str, Any, Any, Any]],
    now: float | None = None,
) -> list[ConnectorBinlog]:
    """Every connector of every cluster that reads a configured, reachable database.

    `clusters` yields (cluster name, ConnectClusterState, jolokia data, offsets data). `now`
    defaults to each database's poll time, so ETAs are as of the data they come from.
    Connectors whose database is not configured or was not reachable are skipped.
    """
    matcher = DatabaseMatcher([db.endpoint for db in databases.values()])
    indexes = {name: index_files(db.files) for name, db in databases.items() if db.files is not None}
    rows = []
    for cluster, state, jolokia_data, offsets_data in clusters:
        if state is None:
            continue
        for name, status in state.connectors.items():
            database = matcher.assign(cluster, name, status.settings)
            if database is None or database not in databases:
                continue
            db = databases[database]
            running = status.state is State.RUNNING and all(t.state is State.RUNNING for t in status.tasks)
            when = db.polled_at if now is None else now
            rows.append(join_connector(db, cluster, name, jolokia_data, offsets_data, when, running, indexes.get(database)))
    return rows
