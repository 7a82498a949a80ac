"""Typed values the MySQL source builds per database: endpoint, server identity, first-seen binlog
files and the whole `DatabaseState` it puts in the snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cdc_watch.sources.mysql.parse import (
    BinlogFile,
    HeadPosition,
    PrivilegeCheck,
    ServerInfo,
    SettingCheck,
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
    check_errors: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )  # check -> error that stopped it
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
