"""The per-connector binlog join (pure): lag, availability, purge ETA, failover, first-seen times.

Inputs are immutable values: a `DatabaseState` per configured database (built by the MySQL
source), the Connect state, the Jolokia live positions and the committed offsets. Outputs are
`ConnectorBinlog` rows the exporter turns into metrics. Nothing here does I/O or reads a clock:
`now` is passed in. The arithmetic is described in docs/protocols.md
("Bytes behind and purge").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cdc_watch.analysis.positions import (
    ConnectorPosition,
    committed_position,
    connector_positions,
)
from cdc_watch.sources.connect.model import State
from cdc_watch.sources.mysql.matching import DatabaseMatcher
from cdc_watch.sources.mysql.model import DatabaseState
from cdc_watch.sources.mysql.parse import (
    BinlogFile,
    Flavour,
    HeadPosition,
    binlog_base,
    binlog_seq,
    gtid_missing,
    gtid_subset,
    parse_mysql_gtid_set,
)
from cdc_watch.sources.mysql.tracking import FileIndex, byte_distance, index_files


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
    before the last identity change, so its file and position are that server's (docs/protocols.md).

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
    return ConnectorBinlog(
        cluster, connector, db.endpoint.database, positions.current, positions.restart, lag, committed_lag, status, eta
    )


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
            rows.append(
                join_connector(db, cluster, name, jolokia_data, offsets_data, when, running, indexes.get(database))
            )
    return rows
