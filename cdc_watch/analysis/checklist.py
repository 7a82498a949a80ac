"""The platform's MySQL / MariaDB / Aurora checklist for Debezium, as a pure evaluation.

`evaluate(facts, min_retention)` turns what the MySQL source read from one server (settings,
binlog retention, GTID mode, the connector users' privileges) into checklist lines, each
pass, warn or fail. `cdc-watch preflight` (cdc_watch/commands/preflight.py) gathers the facts
and prints the lines; any fail makes it exit 1. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cdc_watch.sources.mysql.parse import (
    Flavour,
    PrivilegeCheck,
    ServerInfo,
    SettingCheck,
)

DEFAULT_MIN_RETENTION_SECONDS = 24 * 3600.0


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Line:
    check: str  # bounded identifier, e.g. "binlog_format" or "privilege.replication_slave"
    status: Status
    detail: str  # human text; never a secret
    user: str | None = None  # the database user a privilege line is about


@dataclass(frozen=True, slots=True)
class Facts:
    """What preflight learned about one database (built by the command from a MySQL poll)."""

    database: str
    server: ServerInfo
    settings: tuple[SettingCheck, ...]
    read_only: bool
    retention_seconds: float | None  # 0: never purged by age; None: unknown or Aurora NULL
    gtid_mode: bool  # MySQL / Aurora gtid_mode=ON (MariaDB always has GTIDs)
    privileges: Mapping[str, tuple[PrivilegeCheck, ...]]  # user -> the five Debezium privileges
    lock_tables: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))  # user -> granted
    unknown_checks: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # check -> missing grant
    check_errors: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )  # check -> SQL error that stopped it
    users_note: str = ""  # why no user's privileges were checked, if none were


def _duration(seconds: float) -> str:
    if seconds >= 86400 and seconds % 3600 == 0:
        days, hours = divmod(int(seconds // 3600), 24)
        return f"{days}d" + (f"{hours}h" if hours else "")
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    return f"{seconds:g}s"


def _setting_lines(facts: Facts) -> list[Line]:
    lines = []
    for check in facts.settings:
        if check.ok is None:
            lines.append(Line(check.setting, Status.WARN, f"{check.detail}; cannot verify"))
        elif not check.ok:
            lines.append(Line(check.setting, Status.FAIL, check.detail))
        elif check.setting == "log_replica_updates" and "=OFF" in check.detail:
            # The parser accepts OFF on a primary; the platform checklist wants it on, so a
            # connector can be pointed at a replica or survive a failover to one.
            lines.append(
                Line(
                    check.setting,
                    Status.WARN,
                    "log_replica_updates=OFF: fine while Debezium reads this "
                    "primary, but a replica it may fail over to must have it ON",
                )
            )
        else:
            lines.append(Line(check.setting, Status.PASS, check.detail))
    return lines


def _retention_line(facts: Facts, min_retention: float) -> Line:
    aurora = facts.server.flavour is Flavour.AURORA_MYSQL
    missing = facts.unknown_checks.get("retention")
    if missing:
        return Line("binlog_retention", Status.WARN, f"cannot read the retention: the monitoring user needs {missing}")
    seconds = facts.retention_seconds
    error = facts.check_errors.get("retention")
    if error and seconds is None:
        return Line("binlog_retention", Status.WARN, f"cannot read the retention: {error}")
    if seconds is None:
        if aurora:
            return Line(
                "binlog_retention",
                Status.FAIL,
                "Aurora 'binlog retention hours' is NULL: binlogs are purged as soon as Aurora can; set it "
                f"with CALL mysql.rds_set_configuration('binlog retention hours', {max(24, round(min_retention / 3600))})",
            )
        return Line("binlog_retention", Status.WARN, "retention not reported by the server; cannot verify")
    if seconds == 0:
        return Line("binlog_retention", Status.PASS, "binlogs are not purged by age (watch the disk)")
    source = "binlog retention hours" if aurora else "binlog_expire_logs_seconds / expire_logs_days"
    if seconds < min_retention:
        return Line(
            "binlog_retention",
            Status.FAIL,
            f"binlogs kept {_duration(seconds)} ({source}), less than the {_duration(min_retention)} a connector "
            "must be able to be down for without losing its position",
        )
    return Line("binlog_retention", Status.PASS, f"binlogs kept {_duration(seconds)} ({source})")


def _gtid_line(facts: Facts) -> Line:
    if facts.server.is_mariadb:
        return Line("gtid", Status.PASS, "MariaDB always writes GTIDs")
    if facts.gtid_mode:
        return Line("gtid", Status.PASS, "gtid_mode=ON")
    return Line(
        "gtid", Status.WARN, "gtid_mode is not ON: recommended, so connectors can follow a failover to another server"
    )


def _privilege_lines(facts: Facts) -> list[Line]:
    lines: list[Line] = []
    missing = facts.unknown_checks.get("grants")
    if missing:
        lines.append(
            Line(
                "privileges",
                Status.WARN,
                f"cannot read the connector user's grants: the monitoring user needs {missing}",
            )
        )
        return lines
    error = facts.check_errors.get("grants")
    if error:
        # Users checked before the error still get their lines below.
        lines.append(Line("privileges", Status.WARN, f"cannot read every grant: {error}"))
    if not facts.privileges:
        if not error:
            lines.append(Line("privileges", Status.WARN, facts.users_note or "no connector user to check; pass --user"))
        return lines
    for user, checks in sorted(facts.privileges.items()):
        for check in checks:
            status = Status.PASS if check.ok else Status.FAIL
            lines.append(Line(f"privilege.{check.privilege}", status, f"{user}: {check.detail}", user))
        if user in facts.lock_tables:
            granted = facts.lock_tables[user]
            lines.append(
                Line(
                    "privilege.lock_tables",
                    Status.WARN if granted else Status.PASS,
                    f"{user}: LOCK TABLES "
                    + (
                        "granted: not recommended; snapshots then lock tables against writes "
                        "(only needed where FLUSH TABLES WITH READ LOCK is not allowed, e.g. RDS/Aurora)"
                        if granted
                        else "not granted (not recommended; only needed without the global read lock)"
                    ),
                    user,
                )
            )
    return lines


def _access_lines(facts: Facts) -> list[Line]:
    lines = []
    for check in ("binlog_status", "binary_logs"):
        grant = facts.unknown_checks.get(check)
        if grant:
            lines.append(
                Line(
                    f"monitor.{check}",
                    Status.WARN,
                    f"the monitoring user cannot run {check.replace('_', ' ')} checks: grant it {grant}",
                )
            )
        elif check in facts.check_errors:
            lines.append(
                Line(
                    f"monitor.{check}",
                    Status.WARN,
                    f"{check.replace('_', ' ')} could not be read: {facts.check_errors[check]}",
                )
            )
    return lines


def evaluate(facts: Facts, min_retention: float = DEFAULT_MIN_RETENTION_SECONDS) -> tuple[Line, ...]:
    """The checklist, in a fixed order: settings, retention, GTID, privileges, monitoring access."""
    return tuple(
        [
            *_setting_lines(facts),
            _retention_line(facts, min_retention),
            _gtid_line(facts),
            *_privilege_lines(facts),
            *_access_lines(facts),
        ]
    )


def failed(lines: Sequence[Line]) -> bool:
    return any(line.status is Status.FAIL for line in lines)


def summary(lines: Sequence[Line]) -> dict[str, int]:
    return {status.value: sum(1 for line in lines if line.status is status) for status in Status}


def render(facts: Facts, lines: Sequence[Line]) -> str:
    server = facts.server
    head = f"preflight {facts.database}: {server.flavour} {server.version_text}" + (
        " (read-only replica)" if facts.read_only else ""
    )
    width = max((len(line.check) for line in lines), default=0)
    out = [head, ""]
    out += [f"{line.status.upper():<4}  {line.check:<{width}}  {line.detail}" for line in lines]
    counts = summary(lines)
    verdict = "FAILED" if failed(lines) else "ok"
    out += ["", f"{verdict}: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail"]
    return "\n".join(out)


def to_view(facts: Facts, lines: Sequence[Line]) -> dict[str, Any]:
    return {
        "database": facts.database,
        "flavour": str(facts.server.flavour),
        "version": facts.server.version_text,
        "ok": not failed(lines),
        "summary": summary(lines),
        "checks": [
            {
                "check": line.check,
                "status": str(line.status),
                "detail": line.detail,
                **({"user": line.user} if line.user else {}),
            }
            for line in lines
        ],
    }
