"""`cdc-watch preflight --database NAME [--user USER]`: the MySQL checklist for Debezium.

I/O only: reads the database through the MySQL source (one poll, as the configured monitoring
user), finds whose privileges to check (`--user`, or the database users of the connectors the
config's Connect clusters run against this database), and prints what the pure
`cdc_watch.preflight` made of it. Exit codes: 0 no failing line, 1 a line failed, 2 usage or
config error (or the database refused the monitoring user's credentials), 3 the database (or
no Connect cluster, when users are looked up there) could not be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from cdc_watch.analysis import checklist
from cdc_watch.commands import CommandError, ExitCode
from cdc_watch.commands.connect_views import exit_code_for, to_json
from cdc_watch.config import Config, ConfigError, Database, load_config, parse_duration
from cdc_watch.core.model import SourceFailure
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.rules.table import ALERT_NAMES
from cdc_watch.sources.connect.poll import ConnectSource
from cdc_watch.sources.mysql import matching, parse
from cdc_watch.sources.mysql.poll import MySQLSource, endpoint_of

Common = Callable[[argparse.ArgumentParser], None]


def add_parser(commands: argparse._SubParsersAction, add_common: Common) -> None:
    parser = commands.add_parser(
        "preflight",
        help="check a MySQL/MariaDB/Aurora server's binlog settings and grants for Debezium",
        description="The Debezium MySQL checklist: log_bin, binlog_format, binlog_row_image, log_replica_updates, "
        "binlog retention, GTIDs, and the connector user's privileges; pass/warn/fail per line. Exit codes: 0 no "
        "failure, 1 a check failed, 2 usage or config error, 3 cannot reach the database.",
    )
    add_common(parser)
    parser.add_argument("--database", required=True, help="name of the databases entry in the config")
    parser.add_argument(
        "--user",
        action="append",
        default=None,
        help="database user whose grants to check (repeatable; default: the users of the connectors "
        "that read this database, found through the config's Connect clusters)",
    )
    parser.add_argument(
        "--min-retention",
        default="24h",
        metavar="DURATION",
        help="binlog retention below this fails (default: %(default)s)",
    )
    parser.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format (default: %(default)s)"
    )


class PreflightSource(MySQLSource):
    """The MySQL source with a fixed list of users whose privileges to read, plus LOCK TABLES."""

    def __init__(self, db: Database, users: Sequence[str], connect: Callable[[], Any] | None = None):
        super().__init__(db, connect=connect)
        self.users = tuple(users)
        self.lock_tables: dict[str, bool] = {}

    def connector_users(self, snapshot: Snapshot | None) -> list[str]:
        return sorted(set(self.users))

    def _account_privileges(
        self, user: str, host: str, server: parse.ServerInfo, all_roles_active: bool
    ) -> parse.Privileges:
        privileges = super()._account_privileges(user, host, server, all_roles_active)
        # Every account of the user counts: LOCK TABLES is "granted" if any account has it.
        self.lock_tables[user] = self.lock_tables.get(user, False) or privileges.has("LOCK TABLES")
        return privileges


def find_database(config: Config, name: str) -> Database:
    for db in config.databases:
        if db.name == name:
            return db
    known = ", ".join(d.name for d in config.databases) or "none configured"
    raise CommandError(ExitCode.USAGE, f"no database named {name!r} in the config (known: {known})")


def connector_users(config: Config, db: Database, poll: Callable[[Any], Any] | None = None) -> tuple[list[str], str]:
    """Database users of the connectors matched to `db`, and a note when there are none."""
    endpoints = [endpoint_of(d) for d in config.databases]
    users: set[str] = set()
    problems: list[str] = []
    for cluster in config.connect_clusters:
        everything = cluster.model_copy(update={"include": ("*",), "exclude": ()})
        source = ConnectSource(everything)
        try:
            state = poll(everything) if poll is not None else source.poll(None)
        except SourceFailure as failure:
            problems.append(f"{cluster.name}: {failure.message}")
            continue
        finally:
            source.close()
        for name, connector in state.connectors.items():
            if matching.assign_database(endpoints, cluster.name, name, connector.settings) != db.name:
                continue
            if connector.settings is not None and connector.settings.database_user:
                users.add(connector.settings.database_user)
    if users:
        return sorted(users), ""
    if problems:
        return [], "no connector user known (Connect unreachable: " + "; ".join(problems) + "); pass --user"
    return [], f"no connector in the configured Connect clusters reads {db.name}; pass --user"


def gather(
    db: Database, users: Sequence[str], users_note: str, connect: Callable[[], Any] | None = None
) -> checklist.Facts:
    source = PreflightSource(db, users, connect)
    try:
        state = source.poll(None)
    finally:
        source.close()
    return checklist.Facts(
        database=db.name,
        server=state.server,
        settings=state.settings,
        read_only=state.identity.read_only,
        retention_seconds=state.retention_seconds,
        gtid_mode=state.gtid_mode,
        privileges=state.privileges,
        lock_tables=dict(source.lock_tables),
        unknown_checks=state.unknown_checks,
        check_errors=state.check_errors,
        users_note=users_note,
    )


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    connect: Callable[[], Any] | None = None,
    connect_poll: Callable[[Any], Any] | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = args.output == "json"
    try:
        try:
            min_retention = parse_duration(args.min_retention)
        except ValueError as exc:
            raise CommandError(ExitCode.USAGE, f"--min-retention: {exc}") from None
        try:
            config = load_config(args.config_file, alert_names=ALERT_NAMES)
        except ConfigError as exc:
            raise CommandError(ExitCode.USAGE, f"{args.config_file}: " + "; ".join(exc.problems)) from None
        db = find_database(config, args.database)
        if args.user:
            users, note = list(args.user), ""
        else:
            users, note = connector_users(config, db, connect_poll)
        facts = gather(db, users, note, connect)
    except CommandError as exc:
        return _fail(exc.code, exc.message, as_json, out, err)
    except SourceFailure as failure:
        return _fail(exit_code_for(failure), failure.message, as_json, out, err, str(failure.reason))
    lines = checklist.evaluate(facts, min_retention)
    print(to_json(checklist.to_view(facts, lines)) if as_json else checklist.render(facts, lines), file=out)
    return int(ExitCode.FAILED if checklist.failed(lines) else ExitCode.OK)


def _fail(code: ExitCode, message: str, as_json: bool, out: TextIO, err: TextIO, reason: str = "") -> int:
    print(f"error: {message}", file=err)
    if as_json:
        print(
            to_json({"error": {"message": message, "exit_code": int(code), **({"reason": reason} if reason else {})}}),
            file=out,
        )
    return int(code)
