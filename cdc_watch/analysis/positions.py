"""Where a connector's binlog position comes from (pure): live from Jolokia, else committed.

- live: Debezium's streaming MBean as read by the Jolokia source,
  `snapshot.data("jolokia:<cluster>").streaming[connector]` with `binlog_filename`,
  `binlog_position`, `gtid_set`, `connected` (what the connector has read so far);
- committed: `GET /connectors/{c}/offsets` as polled by `ConnectOffsetsSource`,
  `snapshot.data("connect_offsets:<cluster>")[connector]` = ((partition, offset), ...) with
  `file`, `pos`, `gtids`, `server_id` (where a restart resumes).

The lag uses the live position when there is one and the connector and all its tasks are
RUNNING. Otherwise the committed one: Debezium's binlog reader keeps reading into its in-memory
queue while the connector is paused (seen on the devstack: the live position followed the head
for minutes while PAUSED), so a live position then says nothing about delivery. Availability
and purge risk use the *restart* position, the older of the two, because that is the file a
restart needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cdc_watch.sources.mysql.parse import binlog_seq, normalize_gtid_text


class Origin(StrEnum):
    LIVE = "live"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class ConnectorPosition:
    file: str
    position: int
    gtids: str  # "" when the connector does not use GTIDs (or the source did not say)
    origin: Origin
    server_id: int | None = None  # committed offsets only: server_id of the last event

    def key(self) -> tuple[int, int, str]:
        return (binlog_seq(self.file) or 0, self.position, self.file)


def live_position(jolokia_data: Any, connector: str) -> ConnectorPosition | None:
    streaming = getattr(jolokia_data, "streaming", None)
    if not isinstance(streaming, Mapping):
        return None
    entry = streaming.get(connector)
    if entry is None:
        return None
    filename = getattr(entry, "binlog_filename", None)
    position = getattr(entry, "binlog_position", None)
    if not isinstance(filename, str) or not filename or not isinstance(position, int) or isinstance(position, bool):
        return None
    gtids = getattr(entry, "gtid_set", None)
    return ConnectorPosition(
        filename, position, normalize_gtid_text(gtids) if isinstance(gtids, str) else "", Origin.LIVE
    )


def committed_position(offsets_data: Any, connector: str) -> ConnectorPosition | None:
    if not isinstance(offsets_data, Mapping):
        return None
    entries = offsets_data.get(connector) or ()
    for entry in entries:
        try:
            _partition, offset = entry
        except (TypeError, ValueError):
            continue
        if not isinstance(offset, Mapping):
            continue
        filename = offset.get("file")
        position = offset.get("pos")
        if not isinstance(filename, str) or not filename or position is None:
            continue
        try:
            pos = int(position)
        except (TypeError, ValueError):
            continue
        gtids = offset.get("gtids")
        server_id = offset.get("server_id")
        return ConnectorPosition(
            filename,
            pos,
            normalize_gtid_text(gtids) if isinstance(gtids, str) else "",
            Origin.COMMITTED,
            int(server_id) if isinstance(server_id, int) and not isinstance(server_id, bool) else None,
        )
    return None


@dataclass(frozen=True, slots=True)
class Positions:
    current: ConnectorPosition | None  # for the lag: live if known, else committed
    restart: ConnectorPosition | None  # for availability / purge risk: the older of the two


def connector_positions(jolokia_data: Any, offsets_data: Any, connector: str, running: bool = True) -> Positions:
    """`running`: the connector and all its tasks are RUNNING, so a live position means progress."""
    live = live_position(jolokia_data, connector)
    committed = committed_position(offsets_data, connector)
    current = (live or committed) if running else (committed or live)
    if live is None or committed is None:
        restart = current
    elif committed.file == live.file or (binlog_seq(committed.file) is not None and binlog_seq(live.file) is not None):
        restart = committed if committed.key() <= live.key() else live
    else:
        restart = committed
    # A restart resumes from the committed GTID set too: keep it when the live one lacks it.
    if restart is not None and restart is live and committed is not None and not live.gtids and committed.gtids:
        restart = ConnectorPosition(live.file, live.position, committed.gtids, Origin.LIVE)
    return Positions(current, restart)
