"""MySQL / MariaDB / Aurora MySQL source: polls one database's binlog state with pymysql.

Per poll, on one kept connection (reconnected once when the server dropped it):
`SHOW GLOBAL VARIABLES WHERE ...` (version, settings, GTID state, identity), the binlog status
statement the flavour accepts, `SHOW BINARY LOGS`, on Aurora `CALL mysql.rds_show_configuration`,
and the grants of each connector's database user (`SHOW GRANTS FOR` each of its accounts, with
the roles active at login: MySQL 8 default roles from `mysql.default_roles` and
`mandatory_roles`, MariaDB default roles from SHOW GRANTS). A check the monitoring user may not
run is reported as unknown with the grant it lacks, and any other SQL error of one check (or
one user's grants) as unknown with the error; only a failure of the connection or of the
variables query fails the poll.

Everything decided from the replies lives in `mysql_parse` and `binlog`; this module only
talks to the server and keeps what must survive between polls (in the state file: first-seen
times of binlog files, the time of the last listing, the identity, the identity before the last
failover and the failover count; in memory: the last head).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import pymysql
import pymysql.cursors
import pymysql.err

from cdc_watch.config import Database
from cdc_watch.core.clock import Clock, SystemClock
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.redact import scrub
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.core.statefile import StateFile
from cdc_watch.sources.mysql import matching, parse, tracking
from cdc_watch.sources.mysql.model import DatabaseState, Endpoint, FileSeen, Identity

log = logging.getLogger(__name__)

# Client-side errors meaning the connection is gone: reconnect once and retry.
CONNECTION_LOST = frozenset({2006, 2013, 2014, 2055})
RATE_SMOOTHING = 0.3
# A listing more than this many poll intervals after the previous one leaves a gap: files that
# appeared meanwhile have no exact first-seen time.
LISTING_GAP_POLLS = 2.0
# Rows read of one statement's result. The largest results are SHOW BINARY LOGS (one row per
# binlog file: 100,000 files is some 20 MB as Python tuples) and SHOW GRANTS of a user with
# table-level grants; past this the poll fails with reason too_large instead of reading on.
MAX_ROWS = 100_000

Rows = tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]
Connector = Callable[[], Any]


def endpoint_of(db: Database) -> Endpoint:
    return Endpoint(db.name, db.host, db.port, tuple(db.hostnames), tuple(db.connectors))


def state_section(database: str) -> str:
    return f"binlog_first_seen.{database}"


def _ssl_context(db: Database) -> ssl.SSLContext | None:
    if db.tls is None:
        return None
    context = ssl.create_default_context(cafile=str(db.tls.ca_file) if db.tls.ca_file else None)
    if not db.tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if db.tls.cert_file is not None:
        context.load_cert_chain(str(db.tls.cert_file), str(db.tls.key_file) if db.tls.key_file else None)
    return context


def open_connection(db: Database, user: str, password: Any, program_name: str = "cdc_watch") -> Any:
    """A pymysql connection to `db` as `user` (`password`: a SecretStr or None), autocommit, with
    the database's host or socket, TLS and timeouts."""
    return pymysql.connect(
        host=db.host or "localhost",
        port=db.port,
        unix_socket=str(db.socket) if db.socket else None,
        user=user,
        password=password.get_secret_value() if password else "",
        connect_timeout=max(1, round(db.connect_timeout)),
        read_timeout=max(1, round(db.read_timeout)),
        write_timeout=max(1, round(db.read_timeout)),
        ssl=_ssl_context(db),
        autocommit=True,
        charset="utf8mb4",
        program_name=program_name,
    )


def _identity_from_json(raw: Any) -> Identity | None:
    if isinstance(raw, list) and len(raw) == 3:
        return Identity(str(raw[0]), str(raw[1]), bool(raw[2]))
    return None


def _identity_to_json(identity: Identity | None) -> list[Any] | None:
    return None if identity is None else [identity.server_uuid, identity.server_id, identity.read_only]


class _Checks:
    """Checks of one poll that could not be made: missing grants, and other SQL errors."""

    def __init__(self) -> None:
        self.unknown: dict[str, str] = {}  # check -> grant the monitoring user lacks
        self.errors: dict[str, str] = {}  # check -> what went wrong

    def failed(self, check: str, grant: str, exc: BaseException, who: str = "") -> None:
        code = parse.mysql_error_code(exc)
        if code in parse.ACCESS_DENIED_ERRORS:
            self.unknown[check] = grant
            return
        problem = f"{who + ': ' if who else ''}{describe_error(exc)}"
        self.errors[check] = f"{self.errors[check]}; {problem}" if check in self.errors else problem


def describe_error(exc: BaseException) -> str:
    """A server error as safe short text: `error 1146 Table 'mysql.default_roles' doesn't exist`."""
    code = parse.mysql_error_code(exc)
    text = scrub(" ".join(str(exc.args[1]).split()))[:160] if len(getattr(exc, "args", ())) > 1 else type(exc).__name__
    return f"error {code} {text}" if code is not None else text


def classify(exc: BaseException, where: str) -> SourceFailure:
    """A pymysql / socket error -> SourceFailure with a safe message (never the password)."""
    code = parse.mysql_error_code(exc)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return SourceFailure(ErrorReason.TIMEOUT, f"{where}: timed out")
    if isinstance(exc, ssl.SSLError):
        return SourceFailure(ErrorReason.TLS, f"{where}: TLS error {type(exc).__name__}")
    text = ""
    if len(getattr(exc, "args", ())) > 1:
        text = scrub(" ".join(str(exc.args[1]).split()))[:160]
    if code == 1045:
        return SourceFailure(ErrorReason.AUTH, f"{where}: access denied (error 1045)")
    if code == 2003 or code == 2002:
        if "timed out" in text.lower():
            return SourceFailure(ErrorReason.TIMEOUT, f"{where}: connect timed out (error {code})")
        return SourceFailure(ErrorReason.CONNECT, f"{where}: cannot connect (error {code})")
    if code == 2013 and "timed out" in text.lower():
        return SourceFailure(ErrorReason.TIMEOUT, f"{where}: read timed out (error 2013)")
    if code in CONNECTION_LOST:
        return SourceFailure(ErrorReason.CONNECT, f"{where}: connection lost (error {code})")
    if isinstance(exc, pymysql.err.MySQLError) and code is not None:
        return SourceFailure(ErrorReason.QUERY, f"{where}: error {code} {text}".rstrip())
    if isinstance(exc, OSError):
        return SourceFailure(ErrorReason.CONNECT, f"{where}: {type(exc).__name__}")
    return SourceFailure(ErrorReason.QUERY, f"{where}: {type(exc).__name__}")


class MySQLSource:
    """Polls one configured database; `poll` returns a `mysql_model.DatabaseState`."""

    kind = "mysql"

    def __init__(
        self,
        db: Database,
        state_file: StateFile | None = None,
        clock: Clock | None = None,
        endpoints: Sequence[Endpoint] | None = None,
        connect: Connector | None = None,
    ):
        self.db = db
        self.name = f"mysql:{db.name}"
        self.interval = db.poll_interval
        self.endpoint = endpoint_of(db)
        self.endpoints = tuple(endpoints) if endpoints is not None else (self.endpoint,)
        self.clock = clock or SystemClock()
        self.state_file = state_file or StateFile(None)
        self._connect = connect or self._pymysql_connect
        self._conn: Any = None
        self._written = 0
        self._rate: float | None = None
        self._last_head: parse.HeadPosition | None = None
        self._last_at: float | None = None
        self._last_unknown: dict[str, str] = {}
        # Roles in effect at login for the user being checked, set by _privileges: kept out of
        # _account_privileges' signature, which the preflight command overrides.
        self._login_roles: tuple[parse.RoleSettings, Mapping[str, tuple[parse.Account, ...]]] = (
            parse.RoleSettings(),
            {},
        )
        saved = self.state_file.section(state_section(db.name)) or {}
        self._seen: dict[str, FileSeen] = tracking.seen_from_json(saved.get("files"))
        self._identity = _identity_from_json(saved.get("identity"))
        self._previous_identity = _identity_from_json(saved.get("previous_identity"))
        failovers, listed_at = saved.get("failovers"), saved.get("listed_at")
        self._failovers = failovers if isinstance(failovers, int) and failovers >= 0 else 0
        self._listed_at: float | None = float(listed_at) if isinstance(listed_at, (int, float)) else None

    # ------------------------------------------------------------------ connection
    def _pymysql_connect(self) -> Any:
        return open_connection(self.db, self.db.user, self.db.password)

    def _where(self) -> str:
        target = f"{self.db.host}:{self.db.port}" if self.db.host else str(self.db.socket)
        return f"mysql {self.db.name} ({target})"

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _ensure(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except Exception as exc:
                raise classify(exc, self._where()) from None
        return self._conn

    def _query(self, sql: str, args: Iterable[Any] | None = None) -> Rows:
        """Run one statement; a lost connection is reopened once. Server errors propagate."""
        for attempt in (0, 1):
            conn = self._ensure()
            try:
                # Unbuffered, so a result past MAX_ROWS is never held whole (closing drains the rest).
                with conn.cursor(pymysql.cursors.SSCursor) as cur:
                    cur.execute(sql, tuple(args) if args is not None else None)
                    columns = tuple(d[0] for d in cur.description) if cur.description else ()
                    rows = tuple(tuple(r) for r in cur.fetchmany(MAX_ROWS + 1)) if cur.description else ()
                    if len(rows) > MAX_ROWS:
                        raise SourceFailure(
                            ErrorReason.TOO_LARGE,
                            f"{self._where()}: {' '.join(sql.split()[:3])} returned more than {MAX_ROWS} rows",
                        )
                    while cur.nextset():  # CALL returns an extra status result
                        pass
                    return columns, rows
            except pymysql.err.MySQLError as exc:
                code = parse.mysql_error_code(exc)
                if code in CONNECTION_LOST or code is None or isinstance(exc, pymysql.err.InterfaceError):
                    self.close()
                    if attempt == 0 and code in (2006, 2013, 2014, 2055) and not self._first_query_timed_out(exc):
                        continue
                    raise classify(exc, self._where()) from None
                raise
            except (TimeoutError, OSError) as exc:
                self.close()
                raise classify(exc, self._where()) from None
        raise SourceFailure(ErrorReason.CONNECT, f"{self._where()}: connection lost twice")

    @staticmethod
    def _first_query_timed_out(exc: BaseException) -> bool:
        args: tuple[Any, ...] = getattr(exc, "args", ())
        return len(args) > 1 and "timed out" in str(args[1]).lower()

    # ------------------------------------------------------------------ poll
    def poll(self, snapshot: Snapshot | None = None) -> DatabaseState:
        now = self.clock.now()
        try:
            _, rows = self._query(parse.VARIABLES_QUERY)
        except pymysql.err.MySQLError as exc:
            raise classify(exc, self._where()) from None
        variables = parse.parse_variables(rows)
        server = parse.detect_server(variables)
        checks = _Checks()
        monitor = parse.privilege_display("replication_client", server.flavour)

        head = self._head(server, checks, monitor)
        files = self._binary_logs(checks, monitor)
        aurora_known, aurora_hours = False, None
        if server.flavour is parse.Flavour.AURORA_MYSQL:
            try:
                _, config_rows = self._query(parse.AURORA_CONFIG_QUERY)
                aurora_known, aurora_hours = parse.parse_aurora_retention_hours(config_rows)
            except pymysql.err.MySQLError as exc:
                checks.failed("retention", "EXECUTE ON PROCEDURE mysql.rds_show_configuration", exc)
        retention = parse.retention_seconds(variables, server, aurora_hours, aurora_known)
        privileges, unchecked = self._privileges(snapshot, server, variables, checks)

        identity = Identity(
            variables.get("server_uuid", ""),
            variables.get("server_id", ""),
            variables.get("read_only", "").upper() in ("ON", "1"),
        )
        changed = tracking.identity_changed(self._identity, identity)
        reset = False
        if changed:
            self._failovers += 1
            log.warning(
                "database identity changed behind the same endpoint (failover?)",
                extra={"source": self.name, "database": self.db.name, "changed": ",".join(changed)},
            )
            if "server_uuid" in changed or "server_id" in changed:
                self._previous_identity = self._identity
                self._seen, self._last_head, self._rate, reset = {}, None, None, True

        if files is not None:
            self._track_writes(files, head, now)
            # Watching: the previous listing was recent, so a file not in it appeared since.
            listed = None if reset else self._listed_at
            watching = listed is not None and now - listed <= LISTING_GAP_POLLS * self.interval
            seen = tracking.update_seen(self._seen, files, now, watching, listed)
            self._listed_at = now
        else:
            seen = dict(self._seen)
        if files is not None or changed or identity != self._identity:
            self.state_file.save(
                state_section(self.db.name),
                {
                    "files": tracking.seen_to_json(seen),
                    "identity": _identity_to_json(identity),
                    "previous_identity": _identity_to_json(self._previous_identity),
                    "failovers": self._failovers,
                    "listed_at": self._listed_at,
                },
            )
        self._seen, self._identity = seen, identity
        self._log_checks(checks)

        return DatabaseState(
            endpoint=self.endpoint,
            server=server,
            polled_at=now,
            identity=identity,
            head=head,
            files=files,
            retention_seconds=retention,
            gtid_mode=variables.get("gtid_mode", "").upper() == "ON",
            gtid_executed=parse.normalize_gtid_text(
                variables.get("gtid_executed", "") or (head.gtid_set if head else "")
            ),
            gtid_purged=parse.normalize_gtid_text(variables.get("gtid_purged", "")),
            settings=tuple(parse.check_settings(variables, server)),
            privileges=MappingProxyType(privileges),
            unknown_checks=MappingProxyType(checks.unknown),
            failovers=self._failovers,
            written_bytes=self._written,
            write_rate=self._rate,
            seen=MappingProxyType(seen),
            previous_identity=self._previous_identity,
            check_errors=MappingProxyType(checks.errors),
            unchecked_users=unchecked,
        )

    def _log_checks(self, checks: _Checks) -> None:
        """Log a check that became unknown, or changed why, once rather than every poll."""
        now = {**{c: f"missing grant {g}" for c, g in checks.unknown.items()}, **checks.errors}
        for check, problem in now.items():
            if self._last_unknown.get(check) != problem:
                log.warning("check unknown", extra={"source": self.name, "check": check, "problem": problem})
        self._last_unknown = now

    def _head(self, server: parse.ServerInfo, checks: _Checks, monitor: str) -> parse.HeadPosition | None:
        statements = parse.binlog_status_statements(server)
        for index, statement in enumerate(statements):
            try:
                columns, rows = self._query(statement)
            except pymysql.err.MySQLError as exc:
                if parse.mysql_error_code(exc) == parse.SYNTAX_ERROR and index + 1 < len(statements):
                    continue
                checks.failed("binlog_status", monitor, exc)
                return None
            try:
                return parse.parse_binlog_status(columns, rows)
            except (ValueError, TypeError):
                raise SourceFailure(ErrorReason.DECODE, f"{self._where()}: unexpected {statement} reply") from None
        return None

    def _binary_logs(self, checks: _Checks, monitor: str) -> tuple[parse.BinlogFile, ...] | None:
        try:
            columns, rows = self._query(parse.BINARY_LOGS_QUERY)
        except pymysql.err.MySQLError as exc:
            if parse.mysql_error_code(exc) == parse.NOT_USING_BINLOG:
                return ()
            checks.failed("binary_logs", monitor, exc)
            return None
        try:
            return parse.parse_binary_logs(columns, rows)
        except (ValueError, TypeError):
            raise SourceFailure(ErrorReason.DECODE, f"{self._where()}: unexpected SHOW BINARY LOGS reply") from None

    def _track_writes(self, files: tuple[parse.BinlogFile, ...], head: parse.HeadPosition | None, now: float) -> None:
        moved = tracking.head_movement(files, self._last_head, head)
        if moved is not None and self._last_at is not None and now > self._last_at:
            self._written += moved
            instant = moved / (now - self._last_at)
            self._rate = instant if self._rate is None else RATE_SMOOTHING * instant + (1 - RATE_SMOOTHING) * self._rate
        if head is not None:
            self._last_head, self._last_at = head, now

    # ------------------------------------------------------------------ grants
    def connector_users(self, snapshot: Snapshot | None) -> list[str]:
        """Database users of the connectors that read this database, from the Connect snapshot,
        or the database's `connector_user` when the config names one."""
        if self.db.connector_user:
            return [self.db.connector_user]
        users: set[str] = set()
        if snapshot is None:
            return []
        matcher = matching.DatabaseMatcher(self.endpoints)
        for status in snapshot.by_kind("connect"):
            state = status.data
            if state is None:
                continue
            cluster = status.source.split(":", 1)[1]
            for name, connector in state.connectors.items():
                if matcher.assign(cluster, name, connector.settings) != self.db.name:
                    continue
                if connector.settings is not None and connector.settings.database_user:
                    users.add(connector.settings.database_user)
        return sorted(users)

    def _privileges(
        self,
        snapshot: Snapshot | None,
        server: parse.ServerInfo,
        variables: Any,
        checks: _Checks,
    ) -> tuple[dict[str, tuple[parse.PrivilegeCheck, ...]], int]:
        """Privilege checks per connector user, and how many users could not be checked."""
        result: dict[str, tuple[parse.PrivilegeCheck, ...]] = {}
        users = self.connector_users(snapshot)
        clean = [u for u in users if not parse.is_placeholder(u)]
        if len(clean) < len(users):
            checks.errors["grants"] = (
                "a connector's database.user is a config provider reference (${...}) cdc_watch cannot resolve; "
                "set connector_user for this database"
            )
        all_roles_active = variables.get("activate_all_roles_on_login", "").upper() == "ON"
        mysql_roles = not server.is_mariadb and server.version >= (8, 0, 0)
        settings = parse.RoleSettings(all_active=all_roles_active)
        if clean and mysql_roles:
            try:
                _, rows = self._query(parse.ROLE_VARIABLES_QUERY)
                settings = parse.role_settings(variables, parse.parse_variables(rows))
            except pymysql.err.MySQLError as exc:
                checks.failed("grants", "SELECT ON mysql.*", exc, "mandatory_roles")
                return result, len(users)
        for user in clean:
            try:
                _, accounts = self._query(parse.ACCOUNTS_QUERY, (user,))
                defaults: Mapping[str, tuple[parse.Account, ...]] = {}
                if mysql_roles:
                    _, rows = self._query(parse.DEFAULT_ROLES_QUERY, (user,))
                    defaults = parse.parse_default_roles(rows)
                self._login_roles = (settings, defaults)
                combined: parse.Privileges | None = None
                for account in accounts:
                    host = parse.text_value(account[1])
                    privileges = self._account_privileges(user, host, server, all_roles_active)
                    # Every account of the user must have a privilege: which one Connect
                    # matches depends on the worker's address.
                    combined = privileges if combined is None else combined.common(privileges)
            except pymysql.err.MySQLError as exc:
                checks.failed("grants", "SELECT ON mysql.*", exc, user)
                if "grants" in checks.unknown:  # the monitoring user lacks the grant: same for every user
                    break
                continue
            result[user] = tuple(parse.check_privileges(combined or parse.Privileges(frozenset()), server.flavour))
        return result, len(users) - len(result)

    def _account_privileges(
        self, user: str, host: str, server: parse.ServerInfo, all_roles_active: bool
    ) -> parse.Privileges:
        _, rows = self._query("SHOW GRANTS FOR %s@%s", (user, host))
        privileges = parse.parse_grants(rows, server.flavour)
        if server.is_mariadb:
            active = privileges.roles if all_roles_active else privileges.default_roles
            merged = privileges
            pending = [name for name, _ in active]
            done: set[str] = set()
            while pending and len(done) < 16:
                role = pending.pop()
                if role in done:
                    continue
                done.add(role)
                _, role_rows = self._query("SHOW GRANTS FOR %s", (role,))  # MariaDB roles have no host
                granted = parse.parse_grants(role_rows, server.flavour)
                merged = merged.merged(granted)
                pending.extend(name for name, _ in granted.roles if name not in done)
            return merged
        settings, defaults = self._login_roles
        active = parse.active_roles(privileges.roles, defaults.get(host.lower(), ()), settings)
        if not active:
            return privileges
        # MySQL 8: SHOW GRANTS ... USING expands the privileges of the named roles.
        placeholders = ", ".join(["%s@%s"] * len(active))
        args = [user, host] + [part for role in active for part in role]
        _, rows = self._query(f"SHOW GRANTS FOR %s@%s USING {placeholders}", args)
        return privileges.merged(parse.parse_grants(rows, server.flavour))
