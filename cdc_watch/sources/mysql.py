"""MySQL / MariaDB / Aurora MySQL source: polls one database's binlog state with pymysql.

Per poll, on one kept connection (reconnected once when the server dropped it):
`SHOW GLOBAL VARIABLES WHERE ...` (version, settings, GTID state, identity), the binlog status
statement the flavour accepts, `SHOW BINARY LOGS`, on Aurora `CALL mysql.rds_show_configuration`,
and the grants of each connector's database user (`SHOW GRANTS FOR` each of its accounts and
default roles). A check the monitoring user may not run is reported as unknown with the grant
it lacks; only a failure of the connection or of the variables query fails the poll.

Everything decided from the replies lives in `mysql_parse` and `binlog`; this module only
talks to the server and keeps what must survive between polls (first-seen times of binlog
files in the state file, the last head and identity in memory).
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from types import MappingProxyType
from typing import Any

import pymysql
import pymysql.err

from cdc_watch import binlog
from cdc_watch.binlog import DatabaseState, Endpoint, FileSeen, Identity
from cdc_watch.clock import Clock, SystemClock
from cdc_watch.config import Database
from cdc_watch.model import ErrorReason, SourceFailure
from cdc_watch.redact import scrub
from cdc_watch.snapshot import Snapshot
from cdc_watch.sources import mysql_parse as parse
from cdc_watch.statefile import StateFile

log = logging.getLogger(__name__)

# Client-side errors meaning the connection is gone: reconnect once and retry.
CONNECTION_LOST = frozenset({2006, 2013, 2014, 2055})
RATE_SMOOTHING = 0.3
MAX_ROLE_DEPTH = 3

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
    """Polls one configured database; `poll` returns a `binlog.DatabaseState`."""

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
        self._failovers = 0
        self._written = 0
        self._rate: float | None = None
        self._last_head: parse.HeadPosition | None = None
        self._last_at: float | None = None
        self._first_poll = True
        self._last_unknown: dict[str, str] = {}
        saved = self.state_file.section(state_section(db.name)) or {}
        self._seen: dict[str, FileSeen] = binlog.seen_from_json(saved.get("files"))
        raw_identity = saved.get("identity")
        self._identity: Identity | None = None
        if isinstance(raw_identity, list) and len(raw_identity) == 3:
            self._identity = Identity(str(raw_identity[0]), str(raw_identity[1]), bool(raw_identity[2]))

    # ------------------------------------------------------------------ connection
    def _pymysql_connect(self) -> Any:
        db = self.db
        return pymysql.connect(
            host=db.host or "localhost",
            port=db.port,
            unix_socket=str(db.socket) if db.socket else None,
            user=db.user,
            password=db.password.get_secret_value() if db.password else "",
            connect_timeout=max(1, round(db.connect_timeout)),
            read_timeout=max(1, round(db.read_timeout)),
            write_timeout=max(1, round(db.read_timeout)),
            ssl=_ssl_context(db),
            autocommit=True,
            charset="utf8mb4",
            program_name="cdc_watch",
        )

    def _where(self) -> str:
        target = f"{self.db.host}:{self.db.port}" if self.db.host else str(self.db.socket)
        return f"mysql {self.db.name} ({target})"

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken; nothing to tell
                pass

    def _ensure(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - classified into a typed failure
                raise classify(exc, self._where()) from None
        return self._conn

    def _query(self, sql: str, args: Iterable[Any] | None = None) -> Rows:
        """Run one statement; a lost connection is reopened once. Server errors propagate."""
        for attempt in (0, 1):
            conn = self._ensure()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, tuple(args) if args is not None else None)
                    columns = tuple(d[0] for d in cur.description) if cur.description else ()
                    rows = tuple(tuple(r) for r in cur.fetchall()) if cur.description else ()
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
            except (OSError, socket.timeout) as exc:
                self.close()
                raise classify(exc, self._where()) from None
        raise SourceFailure(ErrorReason.CONNECT, f"{self._where()}: connection lost twice")

    @staticmethod
    def _first_query_timed_out(exc: BaseException) -> bool:
        args = getattr(exc, "args", ())
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
        unknown: dict[str, str] = {}
        monitor = parse.privilege_display("replication_client", server.flavour)

        head = self._head(server, unknown, monitor)
        files = self._binary_logs(unknown, monitor)
        aurora_known, aurora_hours = False, None
        if server.flavour is parse.Flavour.AURORA_MYSQL:
            try:
                _, config_rows = self._query(parse.AURORA_CONFIG_QUERY)
                aurora_known, aurora_hours = parse.parse_aurora_retention_hours(config_rows)
            except pymysql.err.MySQLError as exc:
                self._unknown(unknown, "retention", "EXECUTE ON PROCEDURE mysql.rds_show_configuration", exc)
        retention = parse.retention_seconds(variables, server, aurora_hours, aurora_known)
        privileges = self._privileges(snapshot, server, variables, unknown)

        identity = Identity(
            variables.get("server_uuid", ""),
            variables.get("server_id", ""),
            variables.get("read_only", "").upper() in ("ON", "1"),
        )
        changed = binlog.identity_changed(self._identity, identity)
        watching = not self._first_poll
        if changed:
            self._failovers += 1
            log.warning(
                "database identity changed behind the same endpoint (failover?)",
                extra={"source": self.name, "database": self.db.name, "changed": ",".join(changed)},
            )
            if "server_uuid" in changed or "server_id" in changed:
                self._seen, self._last_head, self._rate, watching = {}, None, None, False

        if files is not None:
            self._track_writes(files, head, now)
            seen = binlog.update_seen(self._seen, files, now, watching)
        else:
            seen = dict(self._seen)
        if seen != self._seen or identity != self._identity:
            self.state_file.save(
                state_section(self.db.name),
                {"files": binlog.seen_to_json(seen), "identity": [identity.server_uuid, identity.server_id, identity.read_only]},
            )
        self._seen, self._identity, self._first_poll = seen, identity, False
        for check, grant in unknown.items():
            if self._last_unknown.get(check) != grant:  # log a change once, not every poll
                log.warning("check not allowed for the monitoring user", extra={"source": self.name, "check": check, "missing_grant": grant})
        self._last_unknown = dict(unknown)

        return DatabaseState(
            endpoint=self.endpoint,
            server=server,
            polled_at=now,
            identity=identity,
            head=head,
            files=files,
            retention_seconds=retention,
            gtid_mode=variables.get("gtid_mode", "").upper() == "ON",
            gtid_executed=parse.normalize_gtid_text(variables.get("gtid_executed", "") or (head.gtid_set if head else "")),
            gtid_purged=parse.normalize_gtid_text(variables.get("gtid_purged", "")),
            settings=tuple(parse.check_settings(variables, server)),
            privileges=MappingProxyType(privileges),
            unknown_checks=MappingProxyType(unknown),
            failovers=self._failovers,
            written_bytes=self._written,
            write_rate=self._rate,
            seen=MappingProxyType(seen),
        )

    def _unknown(self, unknown: dict[str, str], check: str, grant: str, exc: BaseException) -> None:
        code = parse.mysql_error_code(exc)
        if code in parse.ACCESS_DENIED_ERRORS:
            unknown[check] = grant
            return
        raise classify(exc, self._where())

    def _head(self, server: parse.ServerInfo, unknown: dict[str, str], monitor: str) -> parse.HeadPosition | None:
        statements = parse.binlog_status_statements(server)
        for index, statement in enumerate(statements):
            try:
                columns, rows = self._query(statement)
            except pymysql.err.MySQLError as exc:
                if parse.mysql_error_code(exc) == parse.SYNTAX_ERROR and index + 1 < len(statements):
                    continue
                self._unknown(unknown, "binlog_status", monitor, exc)
                return None
            try:
                return parse.parse_binlog_status(columns, rows)
            except (ValueError, TypeError):
                raise SourceFailure(ErrorReason.DECODE, f"{self._where()}: unexpected {statement} reply") from None
        return None

    def _binary_logs(self, unknown: dict[str, str], monitor: str) -> tuple[parse.BinlogFile, ...] | None:
        try:
            columns, rows = self._query(parse.BINARY_LOGS_QUERY)
        except pymysql.err.MySQLError as exc:
            if parse.mysql_error_code(exc) == parse.NOT_USING_BINLOG:
                return ()
            self._unknown(unknown, "binary_logs", monitor, exc)
            return None
        try:
            return parse.parse_binary_logs(columns, rows)
        except (ValueError, TypeError):
            raise SourceFailure(ErrorReason.DECODE, f"{self._where()}: unexpected SHOW BINARY LOGS reply") from None

    def _track_writes(self, files: tuple[parse.BinlogFile, ...], head: parse.HeadPosition | None, now: float) -> None:
        moved = binlog.head_movement(files, self._last_head, head)
        if moved is not None and self._last_at is not None and now > self._last_at:
            self._written += moved
            instant = moved / (now - self._last_at)
            self._rate = instant if self._rate is None else RATE_SMOOTHING * instant + (1 - RATE_SMOOTHING) * self._rate
        if head is not None:
            self._last_head, self._last_at = head, now

    # ------------------------------------------------------------------ grants
    def connector_users(self, snapshot: Snapshot | None) -> list[str]:
        """Database users of the connectors that read this database, from the Connect snapshot."""
        users: set[str] = set()
        if snapshot is None:
            return []
        matcher = binlog.DatabaseMatcher(self.endpoints)
        for status in snapshot.by_kind("connect"):
            state = status.last.data if status.up and status.last is not None else None
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
        unknown: dict[str, str],
    ) -> dict[str, tuple[parse.PrivilegeCheck, ...]]:
        result: dict[str, tuple[parse.PrivilegeCheck, ...]] = {}
        all_roles_active = variables.get("activate_all_roles_on_login", "").upper() == "ON"
        for user in self.connector_users(snapshot):
            try:
                _, accounts = self._query(parse.ACCOUNTS_QUERY, (user,))
                combined: parse.Privileges | None = None
                for account in accounts:
                    host = parse.text_value(account[1])
                    privileges = self._account_privileges(user, host, server, all_roles_active)
                    # Every account of the user must have a privilege: which one Connect
                    # matches depends on the worker's address.
                    if combined is None:
                        combined = privileges
                    else:
                        combined = combined.common(privileges)
            except pymysql.err.MySQLError as exc:
                self._unknown(unknown, "grants", "SELECT ON mysql.*", exc)
                return result
            result[user] = tuple(parse.check_privileges(combined or parse.Privileges(frozenset()), server.flavour))
        return result

    def _account_privileges(self, user: str, host: str, server: parse.ServerInfo, all_roles_active: bool) -> parse.Privileges:
        _, rows = self._query("SHOW GRANTS FOR %s@%s", (user, host))
        privileges = parse.parse_grants(rows, server.flavour)
        active = privileges.roles if all_roles_active else privileges.default_roles
        if not active:
            return privileges
        if server.is_mariadb:
            merged = privileges
            pending, done = list(active), set()
            while pending and len(done) < 16:
                role = pending.pop()
                if role in done:
                    continue
                done.add(role)
                _, role_rows = self._query("SHOW GRANTS FOR %s", (role,))
                granted = parse.parse_grants(role_rows, server.flavour)
                merged = merged.merged(granted)
                pending.extend(r for r in granted.roles if r not in done)
            return merged
        # MySQL 8: SHOW GRANTS ... USING expands the privileges of the named roles.
        placeholders = ", ".join(["%s@%s"] * len(active))
        args: list[str] = [user, host]
        for role in active:
            args += [role, "%"]
        _, rows = self._query(f"SHOW GRANTS FOR %s@%s USING {placeholders}", args)
        return privileges.merged(parse.parse_grants(rows, server.flavour))
