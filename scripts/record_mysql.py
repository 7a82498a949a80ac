"""Record the MariaDB replies the MySQL source reads, from the running devstack.

Usage (with the devstack env of your shell, e.g. CDC_DEVSTACK_DIR and ports):
    .venv/bin/python scripts/record_mysql.py

Writes tests/fixtures/recorded/mysql/mariadb-10.11-*.json: one file per scenario, each a map
from the exact statement (and its arguments) to the reply (`columns`, `rows`) or the server
error (`error`: [code, message]). Passwords never appear: the statements carry none, password
hashes printed by SHOW GRANTS are replaced with REDACTED, and every written file is checked
against the stack's real passwords before it is written.
"""

from __future__ import annotations

import json
import re
import secrets as secrets_module
import sys
from pathlib import Path

import pymysql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cdc_watch.sources.mysql import parse
from devstack import Stack

OUT = REPO / "tests" / "fixtures" / "recorded" / "mysql"


def key(sql: str, args: tuple | None) -> str:
    return sql if not args else f"{sql} | {json.dumps(list(args))}"


def run(conn, sql: str, args: tuple | None = None) -> dict:
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            columns = [d[0] for d in cur.description] if cur.description else []
            rows = (
                [[v.decode() if isinstance(v, bytes) else v for v in r] for r in cur.fetchall()]
                if cur.description
                else []
            )
            while cur.nextset():
                pass
            return {"columns": columns, "rows": rows}
    except pymysql.err.MySQLError as exc:
        return {"error": [exc.args[0], str(exc.args[1])]}


def monitor_connection(stack: Stack):
    db = stack.mariadb
    return pymysql.connect(
        host=db.host, port=db.port, user=db.monitor_user, password=db.monitor_password, autocommit=True
    )


def scenario(stack: Stack, statements: list[tuple[str, tuple | None]]) -> dict:
    conn = monitor_connection(stack)
    try:
        return {key(sql, args): run(conn, sql, args) for sql, args in statements}
    finally:
        conn.close()


def main() -> int:
    stack = Stack()
    db = stack.mariadb
    OUT.mkdir(parents=True, exist_ok=True)
    base = [
        (parse.VARIABLES_QUERY, None),
        ("SHOW MASTER STATUS", None),
        ("SHOW BINARY LOGS", None),
        (parse.ACCOUNTS_QUERY, (db.debezium_user,)),
        ("SHOW GRANTS FOR %s@%s", (db.debezium_user, "%")),
    ]
    files: dict[str, dict] = {}
    header = "recorded from the devstack MariaDB 10.11 by scripts/record_mysql.py as the cdc_monitor user"

    files["mariadb-10.11-healthy.json"] = {"_recorded": header, "replies": scenario(stack, base)}

    # Several binlog files: rotate twice so SHOW BINARY LOGS lists more than one.
    stack.sql("FLUSH BINARY LOGS")
    stack.sql("FLUSH BINARY LOGS")
    files["mariadb-10.11-rotated.json"] = {
        "_recorded": header + " after FLUSH BINARY LOGS twice",
        "replies": scenario(stack, base),
    }

    # The connector user lost a privilege.
    stack.sql(f"REVOKE RELOAD ON *.* FROM '{db.debezium_user}'@'%'")
    try:
        files["mariadb-10.11-revoked-reload.json"] = {
            "_recorded": header + " after REVOKE RELOAD from the debezium user",
            "replies": scenario(stack, base),
        }
    finally:
        stack.sql(f"GRANT RELOAD ON *.* TO '{db.debezium_user}'@'%'")

    # The monitoring user lost BINLOG MONITOR and SELECT ON mysql.*: checks become unknown.
    stack.sql(f"REVOKE BINLOG MONITOR ON *.* FROM '{db.monitor_user}'@'%'")
    stack.sql(f"REVOKE SELECT ON `mysql`.* FROM '{db.monitor_user}'@'%'")
    try:
        files["mariadb-10.11-monitor-unprivileged.json"] = {
            "_recorded": header + " after revoking BINLOG MONITOR and SELECT ON mysql.* from cdc_monitor",
            "replies": scenario(stack, base),
        }
    finally:
        stack.sql(f"GRANT BINLOG MONITOR ON *.* TO '{db.monitor_user}'@'%'")
        stack.sql(f"GRANT SELECT ON `mysql`.* TO '{db.monitor_user}'@'%'")

    # Privileges through a default role (MariaDB form: GRANT role TO user, SET DEFAULT ROLE).
    stack.sql("CREATE ROLE IF NOT EXISTS cdc_rec_role")
    stack.sql("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc_rec_role")
    role_user_password = secrets_module.token_urlsafe(18)
    stack.sql("CREATE USER IF NOT EXISTS 'cdc_rec_user'@'%%' IDENTIFIED BY %s", args=(role_user_password,))
    stack.sql("GRANT SELECT, RELOAD, SHOW DATABASES ON *.* TO 'cdc_rec_user'@'%'")
    stack.sql("GRANT cdc_rec_role TO 'cdc_rec_user'@'%'")
    stack.sql("SET DEFAULT ROLE cdc_rec_role FOR 'cdc_rec_user'@'%'")
    try:
        files["mariadb-10.11-role.json"] = {
            "_recorded": header
            + "; user cdc_rec_user holds REPLICATION SLAVE and BINLOG MONITOR through default role cdc_rec_role",
            "replies": scenario(
                stack,
                [
                    (parse.ACCOUNTS_QUERY, ("cdc_rec_user",)),
                    ("SHOW GRANTS FOR %s@%s", ("cdc_rec_user", "%")),
                    ("SHOW GRANTS FOR %s", ("cdc_rec_role",)),
                ],
            ),
        }
    finally:
        stack.sql("DROP USER IF EXISTS 'cdc_rec_user'@'%'")
        stack.sql("DROP ROLE IF EXISTS cdc_rec_role")

    secrets = [v for k, v in stack.env().items() if k.endswith("PASSWORD")] + [role_user_password]
    for name, body in files.items():
        text = json.dumps(body, indent=1, sort_keys=True, default=str) + "\n"
        leaked = [s for s in secrets if s and s in text]
        if leaked:
            raise SystemExit(f"{name}: a real password appears in the recording; not written")
        # SHOW GRANTS prints password hashes; a native-password hash is enough to log in.
        text = re.sub(r"(IDENTIFIED (?:BY PASSWORD|VIA \S+ USING)) '[^']*'", r"\1 'REDACTED'", text)
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
