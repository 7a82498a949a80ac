"""Pure parsers and checks for MySQL / MariaDB / Aurora MySQL binlog introspection (no I/O).

Fed with the rows pymysql returns (tuples, plus column names where the shape differs between
versions), so the same functions serve the MySQL source, its recorded-reply tests and the
`preflight` command. Facts follow docs/protocols.md, "MySQL, MariaDB and Aurora MySQL":

- flavour and version from `@@version` / `@@aurora_version` (`detect_server`);
- which binlog status statement a server accepts (`binlog_status_statements`);
- `SHOW BINARY LOGS`, binlog status, variables, `SHOW GRANTS` in their MySQL 5.7 / 8.x and
  MariaDB forms (BINLOG MONITOR, roles);
- `check_settings` and `check_privileges` for what Debezium needs;
- MySQL GTID set arithmetic (subset, "is anything of A missing from B").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Flavour(StrEnum):
    MYSQL = "mysql"
    MARIADB = "mariadb"
    AURORA_MYSQL = "aurora_mysql"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    flavour: Flavour
    version: tuple[int, int, int]
    version_text: str  # as reported by @@version; no secrets, safe to show
    aurora_version: str = ""

    @property
    def is_mariadb(self) -> bool:
        return self.flavour is Flavour.MARIADB


# One statement reads every variable cdc_watch needs; names a server lacks are simply absent.
VARIABLE_NAMES: tuple[str, ...] = (
    "version",
    "log_bin",
    "log_bin_basename",
    "binlog_format",
    "binlog_row_image",
    "binlog_row_value_options",
    "binlog_expire_logs_seconds",
    "expire_logs_days",
    "binlog_expire_logs_auto_purge",
    "log_replica_updates",
    "log_slave_updates",
    "gtid_mode",
    "enforce_gtid_consistency",
    "gtid_executed",
    "gtid_purged",
    "server_id",
    "server_uuid",
    "read_only",
    "super_read_only",
    "gtid_binlog_pos",
    "gtid_current_pos",
    "gtid_domain_id",
    "binlog_encryption",
    "binlog_transaction_compression",
    "activate_all_roles_on_login",
    "aurora_version",
)

VARIABLES_QUERY = (
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + ", ".join(f"'{name}'" for name in VARIABLE_NAMES) + ")"
)
BINARY_LOGS_QUERY = "SHOW BINARY LOGS"
AURORA_CONFIG_QUERY = "CALL mysql.rds_show_configuration"
ACCOUNTS_QUERY = "SELECT User, Host FROM mysql.user WHERE User = %s"
# MySQL 8: SHOW GRANTS does not print default roles; they live in mysql.default_roles.
DEFAULT_ROLES_QUERY = "SELECT HOST, DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles WHERE USER = %s"
# Asked apart from VARIABLES_QUERY, and only on MySQL 8+, so that query stays the recorded one.
ROLE_VARIABLES_QUERY = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('mandatory_roles', 'activate_mandatory_roles')"

# MySQL / MariaDB error numbers that mean "this account may not run that".
ACCESS_DENIED_ERRORS = frozenset({1044, 1142, 1143, 1227, 1370, 1045})
SYNTAX_ERROR = 1064
NOT_USING_BINLOG = 1381

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def parse_variables(rows: Iterable[Sequence[Any]]) -> Mapping[str, str]:
    """Rows of (Variable_name, Value) -> {lower-case name: value as text}."""
    found: dict[str, str] = {}
    for row in rows:
        if len(row) >= 2 and row[0] is not None:
            found[text_value(row[0]).lower()] = text_value(row[1])
    return MappingProxyType(found)


def parse_version(text: str) -> tuple[int, int, int]:
    match = _VERSION.match(text or "")
    if not match:
        return (0, 0, 0)
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def detect_server(variables: Mapping[str, str]) -> ServerInfo:
    """Flavour and version from `version` (and `aurora_version`, non-empty only on Aurora)."""
    version_text = variables.get("version", "")
    aurora = variables.get("aurora_version", "").strip()
    if "mariadb" in version_text.lower():
        flavour = Flavour.MARIADB
    elif aurora:
        flavour = Flavour.AURORA_MYSQL
    else:
        flavour = Flavour.MYSQL
    return ServerInfo(flavour, parse_version(version_text), version_text[:64], aurora[:32])


def binlog_status_statements(server: ServerInfo) -> tuple[str, ...]:
    """Statements to try, in order, for the binlog head (file, position[, GTID set])."""
    if server.is_mariadb:
        return ("SHOW MASTER STATUS",)  # SHOW BINLOG STATUS is only an alias from 10.5.2
    if server.version >= (8, 4, 0):
        return ("SHOW BINARY LOG STATUS",)  # SHOW MASTER STATUS was removed
    if server.version >= (8, 2, 0):
        return ("SHOW BINARY LOG STATUS", "SHOW MASTER STATUS")
    return ("SHOW MASTER STATUS",)


@dataclass(frozen=True, slots=True)
class BinlogFile:
    name: str
    size: int
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class HeadPosition:
    file: str
    position: int
    gtid_set: str = ""  # MySQL Executed_Gtid_Set, newlines removed; MariaDB: empty


def binlog_seq(name: str) -> int | None:
    """'mysql-bin.000042' -> 42 (compared as numbers: widths grow past 6 digits)."""
    stem = name.removesuffix(".ibb")
    _, dot, suffix = stem.rpartition(".")
    if not dot:
        _, dash, suffix = stem.rpartition("-")
        if not dash:
            return None
    return int(suffix) if suffix.isdigit() else None


def binlog_base(name: str) -> str:
    stem = name.removesuffix(".ibb")
    base, dot, suffix = stem.rpartition(".")
    if dot and suffix.isdigit():
        return base
    base, dash, suffix = stem.rpartition("-")
    return base if dash and suffix.isdigit() else stem


def _column_index(columns: Sequence[str], *names: str) -> int | None:
    lowered = [c.lower() for c in columns]
    for name in names:
        if name.lower() in lowered:
            return lowered.index(name.lower())
    return None


def parse_binary_logs(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[BinlogFile, ...]:
    """`SHOW BINARY LOGS` (Log_name, File_size[, Encrypted]) -> files in binlog order."""
    name_at = _column_index(columns, "Log_name")
    size_at = _column_index(columns, "File_size")
    enc_at = _column_index(columns, "Encrypted")
    if name_at is None or size_at is None:
        raise ValueError("SHOW BINARY LOGS reply lacks Log_name/File_size")
    files = []
    for row in rows:
        name = text_value(row[name_at])
        try:
            size = int(row[size_at])
        except (TypeError, ValueError):
            continue
        encrypted = enc_at is not None and text_value(row[enc_at]).lower() == "yes"
        files.append(BinlogFile(name, size, encrypted))
    return tuple(sorted(files, key=lambda f: (binlog_seq(f.name) is None, binlog_seq(f.name) or 0, f.name)))


def parse_binlog_status(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> HeadPosition | None:
    """Binlog status row -> head position; None when binary logging is off (empty result)."""
    if not rows:
        return None
    file_at = _column_index(columns, "File")
    pos_at = _column_index(columns, "Position")
    gtid_at = _column_index(columns, "Executed_Gtid_Set")
    if file_at is None or pos_at is None:
        raise ValueError("binlog status reply lacks File/Position")
    row = rows[0]
    gtids = text_value(row[gtid_at]) if gtid_at is not None else ""
    return HeadPosition(text_value(row[file_at]), int(row[pos_at]), normalize_gtid_text(gtids))


def normalize_gtid_text(text: str) -> str:
    return "".join(text.split())


def parse_aurora_retention_hours(rows: Iterable[Sequence[Any]]) -> tuple[bool, float | None]:
    """`CALL mysql.rds_show_configuration` -> (row found, hours or None when NULL/default)."""
    for row in rows:
        if len(row) >= 2 and text_value(row[0]).strip().lower() == "binlog retention hours":
            value = row[1]
            if value is None or text_value(value).strip().upper() in ("", "NULL"):
                return True, None
            try:
                return True, float(text_value(value))
            except ValueError:
                return True, None
    return False, None


def _on(value: str | None) -> bool:
    return (value or "").strip().upper() in ("ON", "1", "YES", "TRUE")


def retention_seconds(
    variables: Mapping[str, str], server: ServerInfo, aurora_hours: float | None = None, aurora_known: bool = False
) -> float | None:
    """Time-based binlog retention: seconds, 0 when files are never purged by age, None unknown.

    Aurora: `binlog retention hours` (NULL = Aurora's own lazy cleanup, reported as unknown).
    MySQL 8: `binlog_expire_logs_seconds` wins when non-zero, else `expire_logs_days`; both off
    or `binlog_expire_logs_auto_purge=OFF` means never. MariaDB: the two are linked aliases.
    """
    if server.flavour is Flavour.AURORA_MYSQL:
        if not aurora_known or aurora_hours is None:
            return None
        return aurora_hours * 3600.0
    if not _on(variables.get("binlog_expire_logs_auto_purge", "ON")):
        return 0.0
    seconds = _float(variables.get("binlog_expire_logs_seconds"))
    days = _float(variables.get("expire_logs_days"))
    if seconds is None and days is None:
        return None
    if seconds:
        return seconds
    return (days or 0.0) * 86400.0


def _float(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


# ------------------------------------------------------------------------------- settings
@dataclass(frozen=True, slots=True)
class SettingCheck:
    setting: str  # bounded identifier, used as the `setting` label
    ok: bool | None  # None: the server did not report it
    detail: str  # human text for logs, the landing page and preflight; never a label


SETTINGS = ("log_bin", "binlog_format", "binlog_row_image", "binlog_row_value_options", "log_replica_updates")


def check_settings(variables: Mapping[str, str], server: ServerInfo) -> list[SettingCheck]:
    """Each setting Debezium needs, judged on this server's variables."""
    checks: list[SettingCheck] = []

    def expect(setting: str, value: str | None, wanted: str) -> None:
        if value is None:
            checks.append(SettingCheck(setting, None, f"{setting} not reported by the server"))
        else:
            ok = value.strip().upper() == wanted
            checks.append(
                SettingCheck(setting, ok, f"{setting}={value}" + ("" if ok else f", Debezium needs {wanted}"))
            )

    expect("log_bin", variables.get("log_bin"), "ON")
    expect("binlog_format", variables.get("binlog_format"), "ROW")
    expect("binlog_row_image", variables.get("binlog_row_image"), "FULL")
    if not server.is_mariadb:
        value = variables.get("binlog_row_value_options")
        if value is None:
            # 5.7 has no partial JSON updates: nothing to get wrong.
            checks.append(
                SettingCheck("binlog_row_value_options", True, "not present on this server (no partial JSON updates)")
            )
        else:
            ok = value.strip() == ""
            checks.append(
                SettingCheck(
                    "binlog_row_value_options",
                    ok,
                    f"binlog_row_value_options={value or '(empty)'}"
                    + ("" if ok else ", Debezium needs it empty (PARTIAL_JSON loses data)"),
                )
            )
    updates = variables.get("log_replica_updates", variables.get("log_slave_updates"))
    replica = _on(variables.get("read_only"))
    if updates is None:
        checks.append(SettingCheck("log_replica_updates", None, "log_replica_updates/log_slave_updates not reported"))
    elif _on(updates):
        checks.append(SettingCheck("log_replica_updates", True, "log_replica_updates=ON"))
    else:
        # Only a replica (read_only) needs it: a primary writes its own changes anyway.
        checks.append(
            SettingCheck(
                "log_replica_updates",
                not replica,
                "log_replica_updates=OFF"
                + (
                    " on a read-only replica: replicated changes are not in its binlog"
                    if replica
                    else " (fine on a primary)"
                ),
            )
        )
    return checks


# ------------------------------------------------------------------------------- grants
PRIVILEGES = ("select", "reload", "show_databases", "replication_slave", "replication_client")

_ALIASES = {
    "REPLICATION REPLICA": "REPLICATION SLAVE",
    "BINLOG MONITOR": "REPLICATION CLIENT",
    "SLAVE MONITOR": "REPLICA MONITOR",
}


Account = tuple[str, str]
"""(user or role name, host): MySQL role hosts default to '%'; MariaDB roles have none."""


@dataclass(frozen=True, slots=True)
class Privileges:
    """Global (ON *.*) privileges of one account, as upper-case names, plus its roles."""

    global_privileges: frozenset[str]
    database_select: frozenset[str] = frozenset()  # databases with SELECT at db level
    all_privileges: bool = False
    roles: tuple[Account, ...] = ()  # roles granted to the account
    default_roles: tuple[Account, ...] = ()  # roles active at login as printed by SHOW GRANTS (MariaDB)

    def merged(self, other: Privileges) -> Privileges:
        return Privileges(
            self.global_privileges | other.global_privileges,
            self.database_select | other.database_select,
            self.all_privileges or other.all_privileges,
            self.roles,
            self.default_roles,
        )

    def common(self, other: Privileges) -> Privileges:
        """What both accounts have (a connector may log in as either)."""
        if self.all_privileges and other.all_privileges:
            shared = self.global_privileges | other.global_privileges
        elif self.all_privileges:
            shared = other.global_privileges
        elif other.all_privileges:
            shared = self.global_privileges
        else:
            shared = self.global_privileges & other.global_privileges
        return Privileges(
            shared, self.database_select & other.database_select, self.all_privileges and other.all_privileges
        )

    def has(self, name: str) -> bool:
        name = name.upper()
        if self.all_privileges or name in self.global_privileges:
            return True
        return bool(name == "REPLICATION CLIENT" and "SUPER" in self.global_privileges)


_GRANT = re.compile(
    r"^\s*GRANT\s+(?P<privs>.+?)\s+ON\s+(?P<what>(?:PROCEDURE\s+|FUNCTION\s+)?\S+)\s+TO\s+", re.I | re.S
)
_ROLE_GRANT = re.compile(r"^\s*GRANT\s+(?P<roles>.+?)\s+TO\s+", re.I | re.S)
_DEFAULT_ROLE = re.compile(r"^\s*SET\s+DEFAULT\s+ROLE\s+(?P<roles>.+?)\s+FOR\s+", re.I | re.S)


def _split_outside_parens(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _name_part(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`'\"":
        return text[1:-1]
    return text


def parse_account(text: str) -> Account:
    """`` `role`@`%` ``, `'r'@'localhost'`, `r@h` or a bare `r` (host '%') -> (name, host)."""
    text = text.strip()
    for quote in "`'\"":
        if text.startswith(quote):
            end = text.find(quote, 1)
            if end > 0:
                name, rest = text[1:end], text[end + 1 :].strip()
                host = _name_part(rest[1:]) if rest.startswith("@") else "%"
                return name, host or "%"
    name, at, host = text.rpartition("@") if "@" in text else (text, "", "%")
    return _name_part(name), (_name_part(host) if at else "%") or "%"


def _accounts(text: str) -> list[Account]:
    return [parse_account(part) for part in _split_outside_parens(text)]


def _normalise_privilege(text: str) -> str:
    name = re.sub(r"\(.*\)", "", text)  # column list of a column grant
    name = " ".join(name.split()).upper()
    return _ALIASES.get(name, name)


def parse_grants(rows: Iterable[Sequence[Any] | str], flavour: Flavour) -> Privileges:
    """`SHOW GRANTS` rows (one statement each, MySQL 5.7/8.x or MariaDB form) -> Privileges.

    Only `ON *.*` rows count for global privileges; `ALL [PRIVILEGES]` implies every one;
    MariaDB's BINLOG MONITOR is read as REPLICATION CLIENT and REPLICATION REPLICA as
    REPLICATION SLAVE. Rows that grant roles are collected in `roles`.
    """
    del flavour  # both forms parse the same way; kept so callers state what they read
    privileges: set[str] = set()
    database_select: set[str] = set()
    all_privileges = False
    roles: list[Account] = []
    default_roles: list[Account] = []
    for row in rows:
        line = row if isinstance(row, str) else text_value(row[0])
        match = _GRANT.match(line)
        if match:
            what = match.group("what")
            if re.match(r"^(PROCEDURE|FUNCTION)\s", what, re.I):
                continue
            names = [_normalise_privilege(p) for p in _split_outside_parens(match.group("privs"))]
            target = what.replace("`", "").replace("'", "").replace('"', "")
            if target == "*.*":
                for name in names:
                    if name in ("ALL", "ALL PRIVILEGES"):
                        all_privileges = True
                    elif name != "USAGE":
                        privileges.add(name)
            elif target.endswith(".*") and any(n in ("SELECT", "ALL", "ALL PRIVILEGES") for n in names):
                database_select.add(target[:-2])
            continue
        match = _DEFAULT_ROLE.match(line)
        if match:
            default_roles.extend(_accounts(match.group("roles")))
            continue
        match = _ROLE_GRANT.match(line)
        if match and " ON " not in match.group("roles").upper():
            roles.extend(_accounts(match.group("roles")))
    return Privileges(
        frozenset(privileges), frozenset(database_select), all_privileges, tuple(roles), tuple(default_roles)
    )


@dataclass(frozen=True, slots=True)
class RoleSettings:
    """Server-wide settings that decide which MySQL 8 roles are active at login."""

    all_active: bool = False  # activate_all_roles_on_login: every granted role
    mandatory: tuple[Account, ...] = ()  # mandatory_roles: granted to every account
    mandatory_active: bool = False  # activate_mandatory_roles (MySQL 9.5+, default ON)


def _host_key(account: Account) -> Account:
    return account[0], account[1].lower()


def parse_mandatory_roles(text: str) -> tuple[Account, ...]:
    """`mandatory_roles`, e.g. "`r1`@`%`,r2,r3@localhost" -> accounts (host '%' when omitted)."""
    return tuple(dict.fromkeys(a for a in _accounts(text) if a[0]))


def role_settings(variables: Mapping[str, str], role_variables: Mapping[str, str]) -> RoleSettings:
    return RoleSettings(
        all_active=_on(variables.get("activate_all_roles_on_login")),
        mandatory=parse_mandatory_roles(role_variables.get("mandatory_roles", "")),
        mandatory_active=_on(role_variables.get("activate_mandatory_roles")),
    )


def parse_default_roles(rows: Iterable[Sequence[Any]]) -> Mapping[str, tuple[Account, ...]]:
    """`DEFAULT_ROLES_QUERY` rows (HOST, DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST) -> account host -> roles."""
    found: dict[str, list[Account]] = {}
    for row in rows:
        if len(row) >= 3:
            found.setdefault(text_value(row[0]).lower(), []).append((text_value(row[1]), text_value(row[2]) or "%"))
    return MappingProxyType({host: tuple(roles) for host, roles in found.items()})


def active_roles(
    granted: Sequence[Account], defaults: Sequence[Account], settings: RoleSettings
) -> tuple[Account, ...]:
    """The roles in effect when the account logs in (MySQL 8).

    activate_all_roles_on_login: every granted role, mandatory ones included. Otherwise the
    default roles that are granted (the server skips the others), plus the mandatory roles when
    activate_mandatory_roles is ON.
    """
    available = {_host_key(a): a for a in (*granted, *settings.mandatory)}
    if settings.all_active:
        return tuple(available.values())
    chosen = [available[_host_key(a)] for a in defaults if _host_key(a) in available]
    if settings.mandatory_active:
        chosen += settings.mandatory
    return tuple({_host_key(a): a for a in chosen}.values())


def is_placeholder(user: str) -> bool:
    """A connector config value Connect resolves through a config provider (`${file:...}`)."""
    return "${" in user


@dataclass(frozen=True, slots=True)
class PrivilegeCheck:
    privilege: str  # bounded identifier, used as the `privilege` label
    ok: bool
    detail: str


_PRIVILEGE_NAMES = {
    "select": "SELECT",
    "reload": "RELOAD",
    "show_databases": "SHOW DATABASES",
    "replication_slave": "REPLICATION SLAVE",
    "replication_client": "REPLICATION CLIENT",
}


def privilege_display(privilege: str, flavour: Flavour) -> str:
    """The grant name as an operator writes it on this flavour."""
    if privilege == "replication_client" and flavour is Flavour.MARIADB:
        return "BINLOG MONITOR"
    return _PRIVILEGE_NAMES[privilege]


def check_privileges(privileges: Privileges, flavour: Flavour) -> list[PrivilegeCheck]:
    """Each global privilege Debezium needs (SELECT may also be granted per database)."""
    checks = []
    for key in PRIVILEGES:
        ok = privileges.has(_PRIVILEGE_NAMES[key])
        if key == "select" and not ok and privileges.database_select:
            ok = True  # snapshots only need SELECT on the captured databases
        shown = privilege_display(key, flavour)
        checks.append(PrivilegeCheck(key, ok, f"{shown} {'granted' if ok else 'missing'}"))
    return checks


# ------------------------------------------------------------------------------- MySQL GTID sets
GtidSet = Mapping[str, tuple[tuple[int, int], ...]]

_INTERVAL = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_mysql_gtid_set(text: str) -> GtidSet:
    """'uuid:1-5:7,uuid2:tag:1-3' -> {'uuid': ((1,5),(7,7)), 'uuid2:tag': ((1,3),)}.

    Raises ValueError on text that is not a MySQL GTID set (e.g. MariaDB's 'domain-server-seq').
    """
    result: dict[str, list[tuple[int, int]]] = {}
    compact = normalize_gtid_text(text)
    if not compact:
        return MappingProxyType({})
    for member in compact.split(","):
        if not member:
            continue
        parts = member.split(":")
        if len(parts) < 2 or not re.fullmatch(r"[0-9a-fA-F-]{36}", parts[0]):
            raise ValueError("not a MySQL GTID set")
        key = parts[0].lower()
        intervals = result.setdefault(key, [])
        for part in parts[1:]:
            match = _INTERVAL.match(part)
            if match is None:
                key = f"{parts[0].lower()}:{part.lower()}"  # a tag (MySQL >= 8.3) starts a new key
                intervals = result.setdefault(key, [])
                continue
            start = int(match.group(1))
            end = int(match.group(2) or start)
            intervals.append((start, end))
    return MappingProxyType({k: _merge(v) for k, v in result.items() if v})


def _merge(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _covered(start: int, end: int, by: tuple[tuple[int, int], ...]) -> bool:
    return any(s <= start and end <= e for s, e in by)


def gtid_subset(a: GtidSet, b: GtidSet) -> bool:
    """GTID_SUBSET(a, b): every transaction of a is in b."""
    for key, intervals in a.items():
        other = b.get(key, ())
        if not all(_covered(s, e, other) for s, e in intervals):
            return False
    return True


def gtid_missing(needed_absent: GtidSet, have: GtidSet) -> bool:
    """GTID_SUBTRACT(needed_absent, have) <> '' : something of the first set is not in the second."""
    return not gtid_subset(needed_absent, have)


def mysql_error_code(exc: BaseException) -> int | None:
    """The server error number carried by a pymysql error, if any."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None
