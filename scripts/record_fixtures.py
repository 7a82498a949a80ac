#!/usr/bin/env python3
"""Record real replies from the devstack into its version's fixture directory (run with the stack up).

The directory is `tests/fixtures/recorded/` for Connect 3.9 and `tests/fixtures/recorded-connect-<v>/`
for the others (`devstack.versions.recorded_dir`), the same layout in each.

Drives the stack through healthy and faulty states (failed tasks, paused, stopped, unassigned,
restarting, purged binlog) and stores what Kafka Connect REST, Jolokia and MariaDB really
answered. Secrets are replaced by "REDACTED"; the script fails if any real password remains.

    .venv/bin/python scripts/record_fixtures.py      (or: .venv/bin/python -m devstack record)
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx
import pymysql

from devstack import ConnectorHandle, Stack, versions
from devstack.proc import wait_for

OUT = versions.recorded_dir(Stack().connect_version, REPO_ROOT)
SECRET_KEY = re.compile(r"password|secret", re.IGNORECASE)
JOLOKIA_CONFIG = {"canonicalNaming": True, "ignoreErrors": True}

# docs/protocols.md, settings read
VARIABLES = (
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
    "gtid_slave_pos",
    "gtid_binlog_state",
    "gtid_strict_mode",
    "gtid_domain_id",
    "binlog_encryption",
    "binlog_transaction_compression",
    "aurora_version",
)


class Recorder:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.secrets = [v for k, v in stack.env().items() if "PASSWORD" in k]
        self.written: list[tuple[str, str]] = []
        self.versions = self._versions()

    # ------------------------------------------------------------------ plumbing
    def _versions(self) -> dict[str, str]:
        s = self.stack
        plugins = s.rest("GET", "/connector-plugins").json()
        debezium = next(p["version"] for p in plugins if p["class"].endswith("MySqlConnector"))
        jolokia = s.jolokia({"type": "version"})["value"]
        return {
            "kafka_connect": s.rest("GET", "/").json()["version"],
            "debezium_mysql": debezium,
            "jolokia_agent": jolokia["agent"],
            "jolokia_protocol": jolokia["protocol"],
            "jolokia_agent_type": jolokia["config"].get("agentType", ""),
            "mariadb": s.sql("SELECT VERSION() AS v")[0]["v"],
        }

    def redact(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ("REDACTED" if SECRET_KEY.search(str(k)) and isinstance(v, (str, int, float)) else self.redact(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "REDACTED")
            return value
        return value

    def save(self, rel: str, call: str, payload: dict, note: str = "") -> None:
        header = {
            "call": call,
            "versions": self.versions,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stack": "cdc_watch devstack (tansu broker, Connect distributed, MariaDB, Jolokia in the worker JVM)",
        }
        if note:
            header["note"] = note
        doc = {"_recorded": header, **self.redact(payload)}
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, sort_keys=False, default=_json_default) + "\n")
        self.written.append((rel, note or call))
        print(f"recorded {rel}")

    def rest(self, rel: str, method: str, path: str, note: str = "", worker: int = 1, **kw: Any) -> httpx.Response:
        r = self.stack.rest(method, path, worker=worker, **kw)
        try:
            body: Any = r.json()
        except ValueError:
            body = r.text
        base = self.stack.connect_url if worker == 1 else self.stack.connect2_url
        self.save(
            rel,
            f"{method} {path}" + (f"?{httpx.QueryParams(kw['params'])}" if kw.get("params") else ""),
            {
                "request": {"method": method, "url": base + path, "params": kw.get("params")},
                "status_code": r.status_code,
                "content_type": r.headers.get("content-type"),
                "body": body,
            },
            note,
        )
        return r

    def jolokia_post(self, rel: str, body: Any, note: str = "") -> Any:
        r = self.stack._http.post(self.stack.jolokia_url, json=body, timeout=15)
        self.save(
            rel,
            f"POST {self.stack.jolokia_url}",
            {
                "request": {"method": "POST", "url": self.stack.jolokia_url, "body": body},
                "status_code": r.status_code,
                "body": r.json(),
            },
            note,
        )
        return r.json()

    def jolokia_get(self, rel: str, suffix: str, note: str = "") -> Any:
        url = self.stack.jolokia_url + suffix
        r = self.stack._http.get(url, timeout=15)
        self.save(
            rel,
            f"GET {url}",
            {"request": {"method": "GET", "url": url}, "status_code": r.status_code, "body": r.json()},
            note,
        )
        return r.json()

    def sql(self, rel: str, statement: str, user: str = "monitor", note: str = "") -> None:
        db = self.stack.mariadb
        user_name = db.credentials(user)[0]
        payload: dict[str, Any] = {"request": {"statement": statement, "user": user_name}}
        try:
            columns, rows = self.stack.sql_with_columns(statement, user=user)
            payload.update({"columns": columns, "rows": rows})
        except pymysql.err.MySQLError as exc:
            errno, message = ((*exc.args, ""))[:2]
            payload["error"] = {"errno": errno, "message": message, "class": type(exc).__name__}
        self.save(rel, f"SQL as {user_name}: {statement}", payload, note)

    def expand(self, rel: str, note: str) -> None:
        self.rest(rel, "GET", "/connectors", note, params=[("expand", "status"), ("expand", "info")])

    # ------------------------------------------------------------------ the bulk Jolokia request
    def bulk(self, extra_exact: list[str]) -> list[dict]:
        c = JOLOKIA_CONFIG
        requests: list[dict] = [
            {"type": "version"},
            # docs/protocols.md, Debezium MBeans
            {
                "type": "read",
                "mbean": "kafka.connect:type=connector-task-metrics,connector=*,task=*",
                "attribute": ["status", "running-ratio", "offset-commit-failure-percentage"],
                "config": c,
            },
            {"type": "read", "mbean": "kafka.connect:type=source-task-metrics,connector=*,task=*", "config": c},
            {
                "type": "read",
                "mbean": "debezium.mysql:type=connector-metrics,context=streaming,*",
                "attribute": [
                    "Connected",
                    "MilliSecondsBehindSource",
                    "MilliSecondsSinceLastEvent",
                    "BinlogFilename",
                    "BinlogPosition",
                    "GtidSet",
                    "QueueRemainingCapacity",
                    "QueueTotalCapacity",
                    "NumberOfDisconnects",
                ],
                "config": c,
            },
            {"type": "read", "mbean": "debezium.mysql:type=connector-metrics,context=snapshot,*", "config": c},
            {
                "type": "read",
                "mbean": "debezium.mysql:type=connector-metrics,context=schema-history,*",
                "attribute": ["Status", "ChangesApplied", "MilliSecondsSinceLastAppliedChange"],
                "config": c,
            },
            # extension: every Connect MBean family, and the Debezium ones without attribute lists
            {"type": "read", "mbean": "kafka.connect:type=connect-worker-metrics", "config": c},
            {"type": "read", "mbean": "kafka.connect:type=connect-worker-metrics,connector=*", "config": c},
            {"type": "read", "mbean": "kafka.connect:type=connect-worker-rebalance-metrics", "config": c},
            {"type": "read", "mbean": "kafka.connect:type=connector-metrics,connector=*", "config": c},
            {"type": "read", "mbean": "kafka.connect:type=connector-task-metrics,connector=*,task=*", "config": c},
            {"type": "read", "mbean": "kafka.connect:type=task-error-metrics,connector=*,task=*", "config": c},
            {"type": "read", "mbean": "kafka.connect:type=connect-metrics,*", "config": c},
            {"type": "read", "mbean": "debezium.mysql:type=connector-metrics,context=streaming,*", "config": c},
            {"type": "read", "mbean": "debezium.mysql:type=connector-metrics,context=schema-history,*", "config": c},
        ]
        for mbean in extra_exact:
            requests.append({"type": "read", "mbean": mbean, "config": c})
        return requests


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def wait_expand_state(stack: Stack, predicate, timeout: float, what: str) -> None:
    def check():
        body = stack.rest("GET", "/connectors", params=[("expand", "status")]).json()
        return predicate(body)

    wait_for(check, timeout, interval=0.3, what=what)


def main() -> int:
    stack = Stack()
    stack.up()
    faults = stack.faults
    rec = Recorder(stack)
    sample = stack.sample_connector
    created: list[ConnectorHandle] = []

    # Connect keeps a deleted connector's offsets under its name, so every run uses new names
    # (a reused name would resume from an offset an earlier run may have purged).
    run = uuid.uuid4().hex[:4]

    def new(base: str) -> ConnectorHandle:
        name = f"{base}-{run}"
        created.append(ConnectorHandle(name, name, 0))
        handle = stack.create_connector(name=name, topic_prefix=name)
        created[-1] = handle
        return handle

    # Connectors left over by an interrupted earlier run would show up in every recording.
    for name in stack.list_connectors():
        if name.startswith("rec-"):
            stack.delete_connector(name)

    try:
        # ------------------------------------------------------------ healthy
        wait_for(lambda: stack.connector_offsets(sample.name)["offsets"], 30, what="sample offsets")
        rec.rest("connect/root.json", "GET", "/", "worker info")
        rec.rest("connect/connector_plugins.json", "GET", "/connector-plugins", "installed plugins")
        rec.rest("connect/health.json", "GET", "/health", "GET /health (Connect >= 3.9)")
        rec.rest("connect/connectors_names.json", "GET", "/connectors", "plain list of names")
        rec.expand("connect/connectors_expand_healthy.json", "one healthy streaming connector")
        rec.rest(
            "connect/connector_status_running.json",
            "GET",
            f"/connectors/{sample.name}/status",
            "healthy connector and task",
        )
        rec.rest(
            "connect/connector_info.json",
            "GET",
            f"/connectors/{sample.name}",
            "connector info (config has the password, redacted here)",
        )
        rec.rest(
            "connect/connector_offsets_running.json",
            "GET",
            f"/connectors/{sample.name}/offsets",
            "committed offset of a streaming connector",
        )
        rec.rest(
            "connect/task_status_running.json", "GET", f"/connectors/{sample.name}/tasks/0/status", "single task status"
        )
        rec.rest("connect/connector_topics.json", "GET", f"/connectors/{sample.name}/topics", "active topics")
        rec.rest("connect/admin_loggers.json", "GET", "/admin/loggers", "logger levels")

        # errors
        rec.rest(
            "connect/error_404_status_unknown_connector.json",
            "GET",
            "/connectors/no-such-connector/status",
            "404 for an unknown connector's status",
        )
        rec.rest(
            "connect/error_404_unknown_connector.json",
            "GET",
            "/connectors/no-such-connector",
            "404 for an unknown connector",
        )
        rec.rest(
            "connect/error_404_offsets_unknown_connector.json",
            "GET",
            "/connectors/no-such-connector/offsets",
            "404 for the offsets of an unknown connector",
        )
        rec.rest(
            "connect/error_404_restart_unknown_connector.json",
            "POST",
            "/connectors/no-such-connector/restart",
            "404 for a restart of an unknown connector",
            params={"includeTasks": "true", "onlyFailed": "true"},
        )
        rec.rest(
            "connect/error_404_unknown_task.json",
            "GET",
            f"/connectors/{sample.name}/tasks/7/status",
            "404 for an unknown task",
        )
        rec.rest("connect/error_404_unknown_path.json", "GET", "/no/such/path", "404 for an unknown route")
        config = stack.rest("GET", f"/connectors/{sample.name}/config").json()
        rec.rest(
            "connect/error_409_connector_exists.json",
            "POST",
            "/connectors",
            "409: creating a connector that already exists",
            json={"name": sample.name, "config": config},
        )
        bad = dict(config, **{"name": "rec-invalid", "database.password": secrets.token_urlsafe(12)})
        rec.rest(
            "connect/error_400_invalid_config_access_denied.json",
            "PUT",
            "/connectors/rec-invalid/config",
            "400: config validation refuses a wrong database password",
            json=bad,
        )

        # ------------------------------------------------------------ Jolokia healthy
        rec.jolokia_get("jolokia/version.json", "/version", "agent and protocol version")
        rec.jolokia_get(
            "jolokia/read_streaming_healthy.json",
            "/read/debezium.mysql:type=connector-metrics,context=streaming,server=dbserver1",
            "GET read of the streaming MBean, all attributes",
        )
        rec.jolokia_post(
            "jolokia/bulk_healthy.json",
            rec.bulk([stack.streaming_mbean(sample.topic_prefix)]),
            "one bulk POST per worker, healthy streaming connector",
        )
        rec.jolokia_post(
            "jolokia/read_pattern_no_match.json",
            {
                "type": "read",
                "mbean": "debezium.mysql:type=connector-metrics,context=streaming,server=no-such-prefix,*",
                "config": JOLOKIA_CONFIG,
            },
            "a pattern read that matches no MBean",
        )
        rec.jolokia_post(
            "jolokia/read_exact_not_found.json",
            {"type": "read", "mbean": stack.streaming_mbean("no-such-prefix")},
            "an exact read of an MBean that does not exist (404 with stack trace)",
        )
        rec.jolokia_post(
            "jolokia/search_debezium.json",
            {"type": "search", "mbean": "debezium.mysql:*"},
            "search for every Debezium MBean",
        )

        # ------------------------------------------------------------ MariaDB healthy
        rec.sql("mariadb/select_version.json", "SELECT VERSION()")
        rec.sql("mariadb/show_master_status.json", "SHOW MASTER STATUS")
        rec.sql("mariadb/show_binlog_status.json", "SHOW BINLOG STATUS")
        rec.sql("mariadb/show_binary_logs.json", "SHOW BINARY LOGS")
        rec.sql(
            "mariadb/show_global_variables.json",
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + ",".join(f"'{v}'" for v in VARIABLES) + ")",
        )
        db = stack.mariadb
        rec.sql(
            "mariadb/show_grants_for_debezium.json",
            f"SHOW GRANTS FOR '{db.debezium_user}'@'%'",
            note="what the monitor user sees for the connector's user",
        )
        rec.sql(
            "mariadb/show_grants_current_user_monitor.json",
            "SHOW GRANTS FOR CURRENT_USER()",
            note="the monitor user's own grants",
        )
        rec.sql(
            "mariadb/error_show_binary_log_status.json",
            "SHOW BINARY LOG STATUS",
            note="MySQL >= 8.2 statement: a syntax error on MariaDB",
        )
        rec.sql(
            "mariadb/error_monitor_denied_select.json",
            "SELECT * FROM inventory.customers LIMIT 1",
            note="the monitor user is denied table data",
        )
        faults.revoke_grant("BINLOG MONITOR", user=db.monitor_user)
        rec.sql(
            "mariadb/error_monitor_denied_show_binary_logs.json",
            "SHOW BINARY LOGS",
            note="monitor user without BINLOG MONITOR",
        )
        rec.sql(
            "mariadb/error_monitor_denied_show_master_status.json",
            "SHOW MASTER STATUS",
            note="monitor user without BINLOG MONITOR",
        )
        faults.restore_grants()
        faults.revoke_grant("SELECT", user=db.monitor_user)
        rec.sql(
            "mariadb/error_monitor_denied_show_grants_for_other.json",
            f"SHOW GRANTS FOR '{db.debezium_user}'@'%'",
            note="monitor user without SELECT on mysql.*: SHOW GRANTS FOR another user is refused",
        )
        faults.restore_grants()
        rec.sql(
            "mariadb/show_processlist_root.json",
            "SHOW PROCESSLIST",
            user="root",
            note="includes the connector's Binlog Dump thread",
        )

        # ------------------------------------------------------------ failed tasks, restarting
        non_retriable = new("rec-non-retriable")
        faults.task_failed_non_retriable(non_retriable)
        rec.expand(
            "connect/connectors_expand_failed_task_non_retriable.json",
            "a FAILED task with trace (password changed: Access denied), connector RUNNING",
        )
        rec.rest(
            "connect/connector_status_failed_non_retriable.json",
            "GET",
            f"/connectors/{non_retriable.name}/status",
            "FAILED task, Access denied",
        )
        faults.restore_debezium_password()
        rec.rest(
            "connect/restart_202_restarting_non_retriable.json",
            "POST",
            f"/connectors/{non_retriable.name}/restart",
            "202 restart plan: task RESTARTING, old trace attached",
            params={"includeTasks": "true", "onlyFailed": "true"},
        )
        stack.wait_streaming(non_retriable)

        retriable = new("rec-retriable")
        faults.task_failed_retriable(retriable)
        rec.expand(
            "connect/connectors_expand_failed_task_retriable.json",
            "a FAILED task with trace (database down: Communications link failure)",
        )
        rec.rest(
            "connect/connector_status_failed_retriable.json",
            "GET",
            f"/connectors/{retriable.name}/status",
            "FAILED task, Communications link failure",
        )
        rec.sql("mariadb/error_connection_refused.json", "SELECT 1", note="the database is down")
        faults.db_start()
        rec.rest(
            "connect/restart_202_restarting_retriable.json",
            "POST",
            f"/connectors/{retriable.name}/restart",
            "202 restart plan after the database came back",
            params={"includeTasks": "true", "onlyFailed": "true"},
        )
        rec.rest(
            "connect/restart_204_connector_only.json",
            "POST",
            f"/connectors/{retriable.name}/restart",
            "204: restart without parameters restarts the Connector instance only",
        )
        stack.wait_streaming(retriable)

        # not streaming: database down under running tasks
        faults.not_streaming(retriable)
        rec.expand(
            "connect/connectors_expand_db_down_still_running.json",
            "database stopped under running tasks: REST still RUNNING",
        )
        rec.jolokia_post(
            "jolokia/bulk_db_down_not_connected.json",
            rec.bulk([stack.streaming_mbean(retriable.topic_prefix)]),
            "database stopped: streaming MBean Connected=false",
        )
        faults.db_start()
        stack.wait_streaming(retriable)

        # ------------------------------------------------------------ paused, stopped
        faults.pause_connector(non_retriable)
        faults.stop_connector(retriable)
        rec.expand(
            "connect/connectors_expand_paused_and_stopped.json",
            f"{non_retriable.name} PAUSED (task PAUSED), {retriable.name} STOPPED (no tasks)",
        )
        rec.rest("connect/connector_status_paused.json", "GET", f"/connectors/{non_retriable.name}/status", "PAUSED")
        rec.rest("connect/connector_status_stopped.json", "GET", f"/connectors/{retriable.name}/status", "STOPPED")
        rec.rest(
            "connect/connector_offsets_stopped.json",
            "GET",
            f"/connectors/{retriable.name}/offsets",
            "offsets of a STOPPED connector",
        )
        rec.rest("connect/pause_202.json", "PUT", f"/connectors/{non_retriable.name}/pause", "202, no body")
        rec.rest("connect/resume_202.json", "PUT", f"/connectors/{non_retriable.name}/resume", "202, no body")
        rec.rest("connect/stop_204.json", "PUT", f"/connectors/{non_retriable.name}/stop", "204, no body")
        for conn in (non_retriable, retriable):
            stack.delete_connector(conn.name)
            created.remove(conn)

        # ------------------------------------------------------------ the headline case: purge
        purged = new("rec-purged")
        seen = faults.purge_binlog_past(purged)
        if seen["outcome"] == "running_loop":
            rec.expand(
                "connect/connectors_expand_purged_still_running.json",
                "binlog purged past the connector's offset: REST still says RUNNING",
            )
            rec.rest(
                "connect/connector_status_purged_still_running.json",
                "GET",
                f"/connectors/{purged.name}/status",
                "RUNNING while Debezium cannot stream",
            )
        else:
            rec.expand(
                "connect/connectors_expand_purged_task_failed.json",
                "binlog purged past the connector's offset: the task FAILED at start (Debezium >= 3.4)",
            )
            rec.rest(
                "connect/connector_status_purged_task_failed.json",
                "GET",
                f"/connectors/{purged.name}/status",
                "FAILED: '...but this is no longer available on the server'",
            )
        rec.rest(
            "connect/connector_offsets_purged.json",
            "GET",
            f"/connectors/{purged.name}/offsets",
            "the offset names a file no longer in SHOW BINARY LOGS",
        )
        rec.jolokia_post(
            "jolokia/bulk_after_purge.json",
            rec.bulk([stack.streaming_mbean(sample.topic_prefix), stack.streaming_mbean(purged.topic_prefix)]),
            f"after the purge: the exact read for {purged.topic_prefix} is a 404 element",
        )
        rec.jolokia_post(
            "jolokia/read_streaming_404_after_purge.json",
            {"type": "read", "mbean": stack.streaming_mbean(purged.topic_prefix)},
            "exact read of the purged connector's streaming MBean: 404",
        )
        rec.sql(
            "mariadb/show_binary_logs_after_purge.json",
            "SHOW BINARY LOGS",
            note=f"the connector's offset file {seen['offset']['file']} is gone",
        )
        rec.sql("mariadb/show_master_status_after_purge.json", "SHOW MASTER STATUS")
        stack.delete_connector(purged.name)
        created.remove(purged)

        # ------------------------------------------------------------ unassigned (two workers)
        stack.start_worker(2)
        spread = [new(f"rec-two-workers-{i}") for i in range(2)]
        wait_for(
            lambda: any(
                t.get("worker_id", "").endswith(str(stack.ports.connect2))
                for c in [*spread, sample]
                for t in stack.connector_status(c.name)["tasks"]
            ),
            60,
            what="a task on worker 2",
        )
        rec.expand("connect/connectors_expand_two_workers.json", "tasks spread over two workers")
        stack.stop_worker(2)
        port2 = str(stack.ports.connect2)
        try:
            wait_expand_state(
                stack,
                lambda body: any(
                    e["status"]["connector"]["state"] == "UNASSIGNED"
                    or any(t["state"] == "UNASSIGNED" for t in e["status"]["tasks"])
                    for e in body.values()
                ),
                30,
                "an UNASSIGNED connector or task",
            )
            rec.expand(
                "connect/connectors_expand_unassigned.json",
                "worker 2 stopped cleanly: its connectors/tasks UNASSIGNED until reassigned",
            )
        except TimeoutError:
            print(f"note: no UNASSIGNED state seen after stopping the worker on port {port2}")
        for conn in spread:
            stack.delete_connector(conn.name)
            created.remove(conn)
    finally:
        for conn in created:
            try:
                stack.delete_connector(conn.name)
            except Exception as exc:
                print(f"cleanup of {conn.name} failed: {exc}", file=sys.stderr)
        faults.heal_all()
        stack.stop_worker(2)

    write_index(rec)
    leaks = [str(p) for p in OUT.rglob("*.json") for s in rec.secrets if s in p.read_text()]
    if leaks:
        print(f"FAIL: real passwords found in {sorted(set(leaks))}", file=sys.stderr)
        return 1
    print(f"{len(rec.written)} files recorded under {OUT}; no real password in any of them")
    return 0


def write_index(rec: Recorder) -> None:
    v = rec.versions
    lines = [
        "# Recorded replies from the devstack",
        "",
        "Real replies captured from the project's own stack by `scripts/record_fixtures.py`",
        "(`.venv/bin/python -m devstack record` with the stack up). Do not edit by hand: re-record.",
        "",
        f"Versions: Kafka Connect {v['kafka_connect']}, Debezium MySQL {v['debezium_mysql']}, "
        f"Jolokia agent {v['jolokia_agent']} (protocol {v['jolokia_protocol']}, "
        f"{v.get('jolokia_agent_type') or 'servlet'} agent), MariaDB {v['mariadb']}"
        + (" (Debezium reached it through devstack/dbproxy.py)" if rec.stack.connect_version.db_relay else "")
        + ".",
        "",
        "Every file is one JSON object: `_recorded` (call, versions, date, note), `request`, and",
        "`status_code` + `body` (HTTP) or `columns` + `rows` / `error` {errno, message} (SQL).",
        "Secrets (`database.password` and any key named like password/secret, and any occurrence of a",
        "devstack password) are replaced by the string `REDACTED`.",
        "",
        "This file lists what `scripts/record_fixtures.py` writes; other subdirectories (and other",
        "files in `jolokia/` and `mariadb/`) come from the other `scripts/record_*.py` scripts and",
        "carry their own notes.",
        "",
        "| file | what |",
        "|---|---|",
    ]
    for rel, what in sorted(rec.written):
        lines.append(f"| `{rel}` | {what.replace('|', '/')} |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main()
    print(f"done in {time.monotonic() - t0:.0f}s")
    sys.exit(rc)
