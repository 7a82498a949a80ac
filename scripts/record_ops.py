"""Record the Kafka Connect REST replies that `cdc-watch connectors ...` relies on.

Run against the real devstack (it must be up; use the same CDC_DEVSTACK_* env as `up`):

    .venv/bin/python scripts/record_ops.py

Writes <the running Connect version's fixture directory>/connect_ops/*.json
(devstack.versions.recorded_dir), one exchange per file:
{"_recorded": ..., "request": {"method", "path", "params", "body"}, "response": {"status", "body"}}.
Every devstack password is replaced with "REDACTED" before writing, and the script fails if a
real password still appears in any recorded file.
"""

from __future__ import annotations

import json
import secrets as secrets_module
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack import Stack, versions

OUT = versions.recorded_dir(Stack().connect_version, REPO) / "connect_ops"
MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def main() -> int:
    stack = Stack()
    secrets = [v for k, v in stack.env().items() if "PASSWORD" in k]
    OUT.mkdir(parents=True, exist_ok=True)
    root = stack.rest("GET", "/").json()
    stamp = (
        f"Kafka Connect {root['version']} + Debezium {stack.connect_version.debezium} on the devstack, "
        f"{time.strftime('%Y-%m-%d')}"
    )

    def redact(value: Any) -> Any:
        if isinstance(value, str):
            for secret in secrets:
                value = value.replace(secret, "REDACTED")
            return value
        if isinstance(value, list):
            return [redact(v) for v in value]
        if isinstance(value, dict):
            return {redact(k): redact(v) for k, v in value.items()}
        return value

    def record(
        name: str,
        method: str,
        path: str,
        params: dict | None = None,
        body: Any = None,
        accept: tuple[int, ...] | None = None,
        tries: int = 30,
    ) -> dict:
        for _ in range(tries):
            kwargs: dict[str, Any] = {"params": params}
            if body is not None:
                kwargs["json"] = body
            response = stack.rest(method, path, **kwargs)
            if accept is None or response.status_code in accept:
                break
            time.sleep(1)  # rebalance in progress: the recorder (not a test) may wait
        else:
            raise SystemExit(f"{name}: {method} {path} answered {response.status_code}: {response.text[:300]}")
        exchange = {
            "_recorded": stamp,
            "request": {"method": method, "path": path, "params": params or {}, "body": body},
            "response": {"status": response.status_code, "body": response.json() if response.content else None},
        }
        exchange = redact(exchange)
        text = json.dumps(exchange, indent=2, sort_keys=False) + "\n"
        for real, stable in stable_names.items():
            text = text.replace(real, stable)
        (OUT / f"{name}.json").write_text(text)
        print(f"recorded {name}: {method} {path} -> {response.status_code}")
        return exchange

    # Connect keeps a deleted connector's offsets under its name, and an earlier purge may have
    # removed the file they name: every run uses new names, saved under the stable ones.
    run = uuid.uuid4().hex[:4]
    new_name = f"ops-new-{run}"
    stable_names = {
        f"ops-running-{run}": "ops-running",
        f"ops_running_{run}": "ops_running",
        f"ops-failing-{run}": "ops-failing",
        f"ops_failing_{run}": "ops_failing",
        new_name: "ops-new",
        f"ops_new_{run}": "ops_new",
    }
    running = stack.create_connector(name=f"ops-running-{run}", topic_prefix=f"ops_running_{run}")
    failing = stack.create_connector(name=f"ops-failing-{run}", topic_prefix=f"ops_failing_{run}")
    try:
        record("root", "GET", "/")
        record("status_running", "GET", f"/connectors/{running.name}/status", accept=(200,))
        record("config_running", "GET", f"/connectors/{running.name}/config", accept=(200,))
        # Offsets are committed every 5 s on the devstack.
        for _ in range(30):
            if stack.connector_offsets(running.name).get("offsets"):
                break
            time.sleep(1)
        record("offsets_running", "GET", f"/connectors/{running.name}/offsets", accept=(200,))
        record("status_unknown_404", "GET", "/connectors/no-such-connector/status")
        record("offsets_unknown_404", "GET", "/connectors/no-such-connector/offsets")
        record("pause_unknown_404", "PUT", "/connectors/no-such-connector/pause")

        stack.faults.task_failed_non_retriable(failing)
        record("status_task_failed", "GET", f"/connectors/{failing.name}/status", accept=(200,))
        record("config_task_failed", "GET", f"/connectors/{failing.name}/config", accept=(200,))
        record("list_expanded", "GET", "/connectors", params={"expand": ["status", "info"]}, accept=(200,))
        record("list_plain", "GET", "/connectors", accept=(200,))
        stack.faults.restore_debezium_password()
        record(
            "restart_failed_only_202",
            "POST",
            f"/connectors/{failing.name}/restart",
            params={"includeTasks": "true", "onlyFailed": "true"},
            accept=(202,),
        )
        stack.wait_task_state(failing.name, "RUNNING", 120)
        record(
            "restart_failed_only_nothing_202",
            "POST",
            f"/connectors/{failing.name}/restart",
            params={"includeTasks": "true", "onlyFailed": "true"},
            accept=(202,),
        )
        record(
            "restart_all_202",
            "POST",
            f"/connectors/{failing.name}/restart",
            params={"includeTasks": "true", "onlyFailed": "false"},
            accept=(202,),
        )
        stack.wait_task_state(failing.name, "RUNNING", 120)

        record("pause_202", "PUT", f"/connectors/{running.name}/pause", accept=(202,))
        stack.wait_connector_state(running.name, "PAUSED", 60)
        record("status_paused", "GET", f"/connectors/{running.name}/status", accept=(200,))
        record("resume_202", "PUT", f"/connectors/{running.name}/resume", accept=(202,))
        stack.wait_connector_state(running.name, "RUNNING", 60)
        record("stop_204", "PUT", f"/connectors/{running.name}/stop", accept=(204,))
        stack.wait_connector_state(running.name, "STOPPED", 60)
        record("status_stopped", "GET", f"/connectors/{running.name}/status", accept=(200,))
        record("resume_stopped_202", "PUT", f"/connectors/{running.name}/resume", accept=(202,))
        stack.wait_connector_state(running.name, "RUNNING", 60)

        config = stack.connector_config(new_name, f"ops_new_{run}", 4242)
        config["name"] = new_name
        record("validate_ok", "PUT", f"/connector-plugins/{MYSQL_CLASS}/config/validate", body=config, accept=(200,))
        bad = dict(config)
        bad.pop("database.server.id")
        wrong = secrets_module.token_urlsafe(12)  # a password the database does not know
        bad["database.password"] = wrong
        secrets.append(wrong)
        record(
            "validate_missing_field",
            "PUT",
            f"/connector-plugins/{MYSQL_CLASS}/config/validate",
            body=bad,
            accept=(200,),
        )
        wrong_password = dict(config, **{"database.password": wrong})
        record(
            "validate_wrong_password",
            "PUT",
            f"/connector-plugins/{MYSQL_CLASS}/config/validate",
            body=wrong_password,
            accept=(200,),
        )
        record(
            "validate_unknown_class_500",
            "PUT",
            "/connector-plugins/com.example.NoSuchConnector/config/validate",
            body={"connector.class": "com.example.NoSuchConnector", "name": new_name},
        )
        record("put_config_created_201", "PUT", f"/connectors/{new_name}/config", body=config, accept=(201,))
        stack.wait_connector_state(new_name, "RUNNING", 60)
        updated = dict(config, **{"snapshot.mode": "when_needed"})
        record("put_config_updated_200", "PUT", f"/connectors/{new_name}/config", body=updated, accept=(200,))
        record("delete_204", "DELETE", f"/connectors/{new_name}", accept=(204,))
        record("delete_unknown_404", "DELETE", "/connectors/no-such-connector")
    finally:
        stack.faults.heal_all()
        for name in (running.name, failing.name, new_name):
            if name in stack.list_connectors():
                stack.delete_connector(name)

    leaked = [p.name for p in OUT.glob("*.json") for s in secrets if s in p.read_text()]
    if leaked:
        raise SystemExit(f"a real password is still in: {', '.join(sorted(set(leaked)))}")
    print(f"checked: no devstack password in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
