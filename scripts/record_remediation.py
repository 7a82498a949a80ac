"""Record the Connect replies the failure classifier and remediation tests are fed.

Run against a running devstack (same CDC_DEVSTACK_* environment as `python -m devstack up`):

    .venv/bin/python scripts/record_remediation.py

Writes <the running Connect version's fixture directory>/remediation/*.json. Each file is
`{"_recorded": "...", "request": "...", "status_code": N, "body": ...}`. The stack's generated
passwords are replaced with "REDACTED" and the script refuses to write a file that still
contains one.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack import Stack, versions

VERSION = Stack().connect_version
OUT = versions.recorded_dir(VERSION, REPO) / "remediation"


def _scrub(value: Any, secrets: list[str]) -> Any:
    text = json.dumps(value)
    for secret in secrets:
        text = text.replace(secret, "REDACTED")
    return json.loads(text)


def _write(name: str, note: str, request: str, status_code: int, body: Any, secrets: list[str]) -> None:
    record = {
        "_recorded": f"devstack (Kafka Connect {VERSION.connect}, Debezium {VERSION.debezium}, MariaDB 10.11), "
        f"{time.strftime('%Y-%m-%d')}: {note}",
        "request": request,
        "status_code": status_code,
        "body": _scrub(body, secrets),
    }
    text = json.dumps(record, indent=2, sort_keys=False) + "\n"
    leaked = [s for s in secrets if s in text]
    if leaked:
        raise SystemExit(f"refusing to write {name}: a devstack password is still in it")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(text)
    print(f"wrote {OUT / name}")


def _post_restart(stack: Stack, name: str) -> tuple[int, Any]:
    for _ in range(30):
        r = stack.rest("POST", f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
        if r.status_code != 409:
            return r.status_code, (r.json() if r.content else None)
        time.sleep(1)
    raise SystemExit("restart kept answering 409")


def main() -> None:
    stack = Stack()
    secrets = [v for k, v in stack.env().items() if k.endswith("PASSWORD")]
    faults = stack.faults
    conn = stack.create_connector()
    try:
        # 1. Retriable: database down, task restarted -> FAILED "Communications link failure".
        faults.task_failed_retriable(conn)
        listing = stack.rest("GET", "/connectors", params=[("expand", "status"), ("expand", "info")])
        _write(
            "connectors_task_failed_retriable.json",
            "database stopped, then task restarted",
            "GET /connectors?expand=status&expand=info",
            listing.status_code,
            listing.json(),
            secrets,
        )
        code, body = _post_restart(stack, conn.name)
        _write(
            "restart_202_restarting.json",
            "restart while the database is still down",
            f"POST /connectors/{conn.name}/restart?includeTasks=true&onlyFailed=true",
            code,
            body,
            secrets,
        )
        stack.wait_task_state(conn.name, "FAILED", 60, trace_contains="Communications link failure")
        code, body = _post_restart(stack, "no-such-connector")
        _write(
            "restart_404_unknown.json",
            "restart of a connector that does not exist",
            "POST /connectors/no-such-connector/restart?includeTasks=true&onlyFailed=true",
            code,
            body,
            secrets,
        )
        faults.db_start()
        code, body = _post_restart(stack, conn.name)
        stack.wait_streaming(conn, 120)
        status = stack.connector_status(conn.name)
        _write(
            "status_running_after_restart.json",
            "after the database came back and the restart",
            f"GET /connectors/{conn.name}/status",
            200,
            status,
            secrets,
        )
        code, body = _post_restart(stack, conn.name)
        _write(
            "restart_202_nothing_failed.json",
            "restart with onlyFailed=true when nothing failed",
            f"POST /connectors/{conn.name}/restart?includeTasks=true&onlyFailed=true",
            code,
            body,
            secrets,
        )
        r = stack.rest("POST", f"/connectors/{conn.name}/tasks/0/restart")
        _write(
            "task_restart_204.json",
            "per-task restart (the pre-3.0 path)",
            f"POST /connectors/{conn.name}/tasks/0/restart",
            r.status_code,
            r.json() if r.content else None,
            secrets,
        )
        r = stack.rest("POST", f"/connectors/{conn.name}/tasks/7/restart")
        _write(
            "task_restart_404_unknown_task.json",
            "per-task restart of a task that does not exist",
            f"POST /connectors/{conn.name}/tasks/7/restart",
            r.status_code,
            r.json() if r.content else None,
            secrets,
        )
        stack.wait_streaming(conn, 120)

        # 2. Non-retriable: the password changed under the connector, task restarted -> Access denied.
        faults.task_failed_non_retriable(conn)
        status = stack.connector_status(conn.name)
        _write(
            "status_task_failed_access_denied.json",
            "debezium password changed, then task restarted",
            f"GET /connectors/{conn.name}/status",
            200,
            status,
            secrets,
        )
    finally:
        faults.heal_all()
        stack.delete_connector(conn.name)


if __name__ == "__main__":
    main()
