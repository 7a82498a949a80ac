"""Exporter contributor for the MySQL / MariaDB binlog subsystem (per database and per connector).

Reads the `mysql:<database>` results, and for the join the Connect state, the Jolokia live
positions and the committed offsets of every cluster, all from one snapshot. Purge ETAs are
computed as of each database's last poll (the values are cached, as the HELP texts say).
"""

from __future__ import annotations

import contextlib

from cdc_watch.analysis.binlog import POSITION_STATUSES, PositionStatus, join
from cdc_watch.analysis.positions import Origin
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.sources.mysql.model import DatabaseState
from cdc_watch.sources.mysql.parse import binlog_seq


def mysql_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    databases: dict[str, DatabaseState] = {}
    for status in snapshot.by_kind("mysql"):
        name = status.source.split(":", 1)[1]
        db_labels = labels(("database", name))
        state = status.data
        out.add("cdc_mysql_up", db_labels, 1 if isinstance(state, DatabaseState) else 0)
        if isinstance(state, DatabaseState):
            databases[name] = state
            _database(name, db_labels, state, out)
    if not databases:
        return
    clusters = []
    for status in snapshot.by_kind("connect"):
        cluster = status.source.split(":", 1)[1]
        clusters.append(
            (
                cluster,
                snapshot.data(status.source),
                snapshot.data(f"jolokia:{cluster}"),
                snapshot.data(f"connect_offsets:{cluster}"),
            )
        )
    rows = join(databases, clusters)  # each connector's ETA as of its database's last poll
    for row in rows:
        base = labels(("connect_cluster", row.cluster), ("connector", row.connector))
        out.add("cdc_connector_database_info", f"{base},{labels(('database', row.database))}", 1)
        out.add("cdc_connector_binlog_lag_bytes", base, row.lag_bytes)
        out.add("cdc_connector_binlog_committed_lag_bytes", base, row.committed_lag_bytes)
        if row.current is not None:
            out.add("cdc_connector_binlog_position_live", base, 1 if row.current.origin is Origin.LIVE else 0)
            out.add("cdc_connector_binlog_file_number", base, binlog_seq(row.current.file))
        available = row.available
        out.add("cdc_connector_binlog_available", base, None if available is None else (1 if available else 0))
        if row.status is not PositionStatus.UNKNOWN:
            out.one_hot("cdc_connector_binlog_status", base, "status", row.status.value, POSITION_STATUSES)
        out.add("cdc_connector_binlog_purge_eta_seconds", base, row.purge_eta)


def _database(name: str, db_labels: str, state: DatabaseState, out: MetricsWriter) -> None:
    out.add(
        "cdc_mysql_info",
        labels(("database", name), ("flavour", state.server.flavour.value), ("version", state.server.version_text)),
        1,
    )
    with contextlib.suppress(ValueError):
        out.add("cdc_mysql_server_id", db_labels, int(state.identity.server_id))
    out.add("cdc_mysql_read_only", db_labels, 1 if state.identity.read_only else 0)
    out.add("cdc_mysql_failovers_total", db_labels, state.failovers)
    for setting in state.settings:
        if setting.ok is not None:
            out.add(
                "cdc_mysql_setting_ok", f"{db_labels},{labels(('setting', setting.setting))}", 1 if setting.ok else 0
            )
    for privilege, ok in sorted(state.privilege_summary().items()):
        if ok is not None:
            out.add("cdc_mysql_privilege_ok", f"{db_labels},{labels(('privilege', privilege))}", 1 if ok else 0)
    for user, checks in sorted(state.privileges.items()):
        user_labels = f"{db_labels},{labels(('user', user))}"
        for check in checks:
            out.add(
                "cdc_mysql_user_privilege_ok",
                f"{user_labels},{labels(('privilege', check.privilege))}",
                1 if check.ok else 0,
            )
    for unknown in sorted({*state.unknown_checks, *state.check_errors}):
        out.add("cdc_mysql_check_unknown", f"{db_labels},{labels(('check', unknown))}", 1)
    if state.head is not None:
        out.add("cdc_binlog_head_file_number", db_labels, binlog_seq(state.head.file))
        out.add("cdc_binlog_head_position_bytes", db_labels, state.head.position)
    if state.files is not None:
        out.add("cdc_binlog_files", db_labels, len(state.files))
        out.add("cdc_binlog_size_bytes", db_labels, state.total_size)
        if state.files:
            out.add("cdc_binlog_oldest_file_number", db_labels, binlog_seq(state.files[0].name))
    out.add("cdc_binlog_retention_seconds", db_labels, state.retention_seconds)
    out.add("cdc_binlog_written_bytes_total", db_labels, state.written_bytes)
