"""Real fault injection on the devstack (reached as ``stack.faults``).

Every fault makes the failure happen for real (the database really stops, the password really
changes, the binlog really gets purged, the worker really dies) and returns once the effect is
observable through the same interfaces cdc_watch reads: Connect REST, Jolokia, SQL. Each
returns what it observed. ``heal_all()`` undoes every fault so fixtures can reuse the stack.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pymysql

from .model import DEBEZIUM_GRANTS, MONITOR_GRANTS, SAMPLE_DATABASE, ConnectorHandle, MariaDB
from .proc import StackError, port_open, wait_for

# What purge_binlog_past observed (see devstack.versions.ConnectVersion.purge_outcome).
PURGE_RUNNING_LOOP = "running_loop"
PURGE_TASK_FAILED = "task_failed"
PURGED_TRACE = "no longer available on the server"


class FaultTarget(Protocol):
    """The part of the stack that faults act through (`devstack.stack.Stack` provides it)."""

    @property
    def mariadb(self) -> MariaDB: ...
    @property
    def ports(self) -> Any: ...
    @property
    def jolokia_url(self) -> str: ...
    @property
    def jolokia2_url(self) -> str: ...

    def log_path(self, piece: str) -> Path: ...
    def rest(self, method: str, path: str, worker: int = 1, **kwargs: Any) -> httpx.Response: ...
    def sql(self, statement: str, user: str = "root", args: tuple | None = None) -> list[dict]: ...
    def db_connection(
        self, user: str = "root", database: str | None = None, timeout: int = 10
    ) -> pymysql.connections.Connection: ...
    def jolokia(self, request: dict | list, worker: int = 1, timeout: float = 10) -> Any: ...
    def streaming_mbean(self, topic_prefix: str) -> str: ...
    def streaming_metrics(self, topic_prefix: str) -> dict | None: ...
    def jolokia_answers(self, n: int = 1) -> bool: ...
    def jolokia_control_file(self, n: int) -> Path: ...
    def list_connectors(self) -> list[str]: ...
    def topic_prefix_of(self, name: str) -> str | None: ...
    def connector_status(self, name: str) -> dict: ...
    def connector_status_or_none(self, name: str) -> dict | None: ...
    def connector_offsets(self, name: str) -> dict: ...
    def status_text(self, name: str) -> str: ...
    def wait_task_state(
        self, name: str, state: str, timeout: float = 60, task: int = 0, trace_contains: str | None = None
    ) -> dict: ...
    def wait_connector_state(self, name: str, state: str, timeout: float = 60) -> dict: ...
    def wait_streaming(self, conn: ConnectorHandle, timeout: float = 120) -> dict: ...
    def start_database(self) -> None: ...
    def stop_database(self) -> None: ...
    def database_running(self) -> bool: ...
    def worker_running(self, n: int) -> bool: ...
    def start_worker(self, n: int = 1, wait: bool = True) -> None: ...
    def kill_worker(self, n: int = 1) -> int | None: ...
    def killed_marker(self, n: int) -> Path: ...


@dataclass
class LoadHandle:
    """A background writer into inventory.customers; ``stop()`` ends it."""

    rows_per_second: float
    duration: float | None
    rows: int = 0
    errors: int = 0
    last_error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class Faults:
    def __init__(self, stack: FaultTarget) -> None:
        self.stack = stack
        self._loads: list[LoadHandle] = []
        self._touched: dict[str, ConnectorHandle] = {}
        self._db_bounced = False  # the database was stopped since the last heal_all
        self._original_configs: dict[str, dict[str, str]] = {}
        self._purged: set[str] = set()  # connectors whose binlog position was purged: not healable

    # ------------------------------------------------------------------ helpers
    def _restart_task(self, conn: ConnectorHandle, task: int = 0) -> None:
        def go() -> bool:
            r = self.stack.rest("POST", f"/connectors/{conn.name}/tasks/{task}/restart")
            return r.status_code in (200, 202, 204)

        self._retry(go, f"restart of task {conn.name}-{task}")

    def _retry(self, fn, what: str, timeout: float = 60) -> None:
        try:
            wait_for(fn, timeout, interval=1, what=what)
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), self.stack.log_path("connect1")) from None

    def _jolokia_read(self, mbean: str, worker: int | None = None) -> dict:
        """Raw Jolokia reply for ``mbean`` from the given worker (or the first 200 from any)."""
        workers = [worker] if worker else [1, 2] if self.stack.worker_running(2) else [1]
        reply: dict = {}
        for n in workers:
            reply = self.stack.jolokia({"type": "read", "mbean": mbean}, worker=n)
            if reply.get("status") == 200:
                return reply
        return reply

    def _binlog_files(self) -> list[str]:
        return [r["Log_name"] for r in self.stack.sql("SHOW BINARY LOGS")]

    def _offset(self, conn: ConnectorHandle) -> dict | None:
        body = self.stack.connector_offsets(conn.name)
        for entry in body.get("offsets", []):
            return entry["offset"]
        return None

    # ------------------------------------------------------------------ database up/down
    def db_stop(self) -> None:
        self._db_bounced = True
        self.stack.stop_database()

    def db_start(self) -> None:
        self.stack.start_database()

    def db_running(self) -> bool:
        return self.stack.database_running()

    # ------------------------------------------------------------------ task failures
    def task_failed_retriable(self, conn: ConnectorHandle, timeout: float = 60) -> dict:
        """Stop the database, restart the task: FAILED with 'Communications link failure'.

        The database is left down; ``db_start()`` (or ``heal_all()``) brings it back.
        """
        self._touched[conn.name] = conn
        self.db_stop()
        self._restart_task(conn)
        return self.stack.wait_task_state(conn.name, "FAILED", timeout, trace_contains="Communications link failure")

    def task_failed_non_retriable(self, conn: ConnectorHandle, timeout: float = 60) -> dict:
        """Change the debezium user's password, restart the task: FAILED with 'Access denied'."""
        self._touched[conn.name] = conn
        db = self.stack.mariadb
        self.stack.sql(f"ALTER USER '{db.debezium_user}'@'%%' IDENTIFIED BY %s", args=(secrets.token_urlsafe(18),))
        self._restart_task(conn)
        return self.stack.wait_task_state(conn.name, "FAILED", timeout, trace_contains="Access denied")

    def restore_debezium_password(self) -> None:
        db = self.stack.mariadb
        self.stack.sql(f"ALTER USER '{db.debezium_user}'@'%%' IDENTIFIED BY %s", args=(db.debezium_password,))

    def not_streaming(self, conn: ConnectorHandle, timeout: float = 60) -> dict:
        """Stop the database under a running task: REST keeps RUNNING, MBean says Connected=false."""
        self._touched[conn.name] = conn
        self.db_stop()

        def disconnected():
            value = self.stack.streaming_metrics(conn.topic_prefix)
            return value if value is not None and value.get("Connected") is False else None

        try:
            metrics = wait_for(
                disconnected,
                timeout,
                interval=0.5,
                what=f"streaming MBean of {conn.topic_prefix} to say Connected=false",
            )
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), self.stack.log_path("connect1")) from None
        status = self.stack.connector_status(conn.name)
        return {"status": status, "streaming": metrics}

    # ------------------------------------------------------------------ connector state
    def stop_connector(self, conn: ConnectorHandle, timeout: float = 60) -> dict:
        self._touched[conn.name] = conn
        self._retry(
            lambda: self.stack.rest("PUT", f"/connectors/{conn.name}/stop").status_code in (202, 204),
            f"PUT /connectors/{conn.name}/stop",
        )
        self.stack.wait_connector_state(conn.name, "STOPPED", timeout)

        def stopped_without_tasks():
            status = self.stack.connector_status(conn.name)
            return status if status["connector"]["state"] == "STOPPED" and not status["tasks"] else None

        # The task entries vanish a moment after the connector reports STOPPED.
        try:
            return wait_for(stopped_without_tasks, timeout, interval=0.3, what=f"{conn.name} STOPPED with no tasks")
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), self.stack.log_path("connect1")) from None

    def pause_connector(self, conn: ConnectorHandle, timeout: float = 60) -> dict:
        self._touched[conn.name] = conn
        self._retry(
            lambda: self.stack.rest("PUT", f"/connectors/{conn.name}/pause").status_code in (202, 204),
            f"PUT /connectors/{conn.name}/pause",
        )
        self.stack.wait_connector_state(conn.name, "PAUSED", timeout)
        return self.stack.wait_task_state(conn.name, "PAUSED", timeout) and self.stack.connector_status(conn.name)

    def resume_connector(self, conn: ConnectorHandle, timeout: float = 120, wait_streaming: bool = True) -> dict:
        self._retry(
            lambda: self.stack.rest("PUT", f"/connectors/{conn.name}/resume").status_code in (202, 204),
            f"PUT /connectors/{conn.name}/resume",
        )
        self.stack.wait_connector_state(conn.name, "RUNNING", timeout)
        if wait_streaming:
            self.stack.wait_streaming(conn, timeout)
        return self.stack.connector_status(conn.name)

    # ------------------------------------------------------------------ the headline case
    def _dump_threads(self) -> set[int]:
        rows = self.stack.sql("SHOW PROCESSLIST")
        return {int(r["Id"]) for r in rows if r.get("Command") == "Binlog Dump"}

    def purge_binlog_past(self, conn: ConnectorHandle, timeout: float = 120, expect_failed: bool = False) -> dict:
        """Purge the binlog file the connector's committed offset names, then resume it.

        With ``expect_failed`` (for a connector with ``errors.max.retries=0``, which gives up at
        once) returns the FAILED task. Otherwise returns, once the offset's file is absent from
        SHOW BINARY LOGS, what Debezium did: ``outcome`` PURGE_RUNNING_LOOP (connector and task
        RUNNING, Jolokia 404 for the streaming MBean; Debezium 3.0) or PURGE_TASK_FAILED (the
        task FAILED with "...no longer available on the server"; Debezium 3.4 and 3.6), with the
        status, offset, binary logs and Jolokia reply seen.
        """
        self._touched[conn.name] = conn
        self._purged.add(conn.name)
        stack = self.stack
        # 1. Its committed offset must exist (offset.flush.interval.ms=5000).
        try:
            wait_for(lambda: self._offset(conn), 30, interval=0.5, what=f"a committed offset for {conn.name}")
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), stack.log_path("connect1")) from None
        before = self._dump_threads()
        # 2. Stop it, write rows and rotate twice. Its Binlog Dump thread (which PURGE keeps
        #    files for) lingers until the next event makes it write to the closed connection,
        #    so the writes come before the wait for that thread to go.
        self.stop_connector(conn)
        offset = self._offset(conn)
        if offset is None:
            raise StackError("connect", f"{conn.name}: no committed offset to purge past")
        offset_file = offset["file"]
        tag = uuid.uuid4().hex[:8]
        for i in range(3):
            stack.sql(
                f"INSERT INTO {SAMPLE_DATABASE}.customers (first_name, last_name, email) VALUES (%s, %s, %s)",
                args=("Purge", f"Row{i}", f"purge-{tag}-{i}@example.com"),
            )
        stack.sql("FLUSH BINARY LOGS")
        stack.sql("FLUSH BINARY LOGS")
        # On a timeout the purge below is retried until the file is really gone.
        with contextlib.suppress(TimeoutError):
            wait_for(
                lambda: before - self._dump_threads(),
                10,
                interval=0.3,
                what=f"the Binlog Dump thread of {conn.name} to leave SHOW PROCESSLIST",
            )
        # 3. Purge everything but the newest file.
        # The other connectors must not be caught by the purge: give them an event in the newest
        # file and wait until their committed offsets name it (an idle connector's offset stays
        # in the file of its last event, and a later task restart would then find it purged).
        newest = self._binlog_files()[-1]
        stack.sql(
            f"INSERT INTO {SAMPLE_DATABASE}.customers (first_name, last_name, email) VALUES (%s, %s, %s)",
            args=("Purge", "Marker", f"purge-{tag}-marker@example.com"),
        )
        # Only streaming connectors can move; one that streams but does not move would be
        # caught by the purge, and that is an error in the caller's scenario, said here.
        others = [
            n
            for n in stack.list_connectors()
            if n != conn.name
            and (prefix := stack.topic_prefix_of(n))
            and (stack.streaming_metrics(prefix) or {}).get("Connected") is True
        ]
        behind: list[str] = []

        def others_moved() -> bool:
            behind.clear()
            for name in others:
                body = stack.rest("GET", f"/connectors/{name}/offsets").json()
                files = [(e.get("offset") or {}).get("file") for e in body.get("offsets", [])]
                if files and files[0] != newest:
                    behind.append(f"{name} at {files[0]}")
            return not behind

        try:
            wait_for(others_moved, 30, interval=0.5, what=f"other connectors' offsets to reach {newest}")
        except TimeoutError:
            raise StackError(
                "connect1",
                f"streaming connectors whose committed offsets did not reach {newest} "
                f"(the purge would catch them too): {', '.join(behind)}",
                stack.log_path("connect1"),
            ) from None

        def purged() -> bool:
            files = self._binlog_files()
            stack.sql(f"PURGE BINARY LOGS TO '{files[-1]}'")
            return offset_file not in self._binlog_files()

        try:
            wait_for(purged, 30, interval=1, what=f"PURGE BINARY LOGS to remove {offset_file}")
        except TimeoutError as exc:
            raise StackError(
                "mariadb", f"{exc}; SHOW PROCESSLIST: {stack.sql('SHOW PROCESSLIST')}", stack.log_path("mariadb")
            ) from None
        # 4. Resume and wait for what this Debezium does with a purged position: 3.0 keeps the
        #    task RUNNING while Debezium restarts itself in a loop (the picture Connect's own
        #    status hides); 3.4 and 3.6 fail the task at start instead ("...but this is no longer
        #    available on the server"). Either is returned, with `outcome` saying which.
        self.resume_connector(conn, wait_streaming=False)
        if expect_failed:
            return stack.wait_task_state(conn.name, "FAILED", timeout)
        mbean = stack.streaming_mbean(conn.topic_prefix)

        def outcome():
            status = stack.connector_status(conn.name)
            tasks = status.get("tasks", [])
            if status["connector"]["state"] != "RUNNING" or not tasks:
                return None
            current = self._offset(conn)
            files = self._binlog_files()
            if not current or current["file"] in files:
                return None
            seen = {"status": status, "offset": current, "binary_logs": files}
            if tasks[0]["state"] == "FAILED" and PURGED_TRACE in (tasks[0].get("trace") or ""):
                return {"outcome": PURGE_TASK_FAILED, **seen, "jolokia": self._jolokia_read(mbean)}
            if tasks[0]["state"] != "RUNNING":
                return None
            reply = self._jolokia_read(mbean)
            if reply.get("status") != 404:
                return None
            return {"outcome": PURGE_RUNNING_LOOP, **seen, "jolokia": reply}

        try:
            return wait_for(
                outcome,
                timeout,
                interval=0.5,
                what=f"{conn.name}: offset file purged and either REST RUNNING + Jolokia 404 "
                "or the task FAILED on the purged position",
            )
        except TimeoutError as exc:
            raise StackError(
                "connect1", f"{exc}; status: {stack.status_text(conn.name)}", stack.log_path("connect1")
            ) from None

    # ------------------------------------------------------------------ workers
    def kill_worker(self, n: int = 1) -> None:
        """SIGKILL Connect worker n (no clean shutdown, no status update from it).

        The stack leaves a marker file, so heal_all from another process (the CLI) still knows.
        """
        self.stack.kill_worker(n)

    def start_worker(self, n: int = 1) -> None:
        self.stack.start_worker(n)
        self.stack.killed_marker(n).unlink(missing_ok=True)

    # ------------------------------------------------------------------ server settings
    def set_binlog_format(self, fmt: str) -> dict:
        self.stack.sql(f"SET GLOBAL binlog_format = {pymysql.converters.escape_string(fmt)!s}")
        return self.stack.sql("SHOW GLOBAL VARIABLES LIKE 'binlog_format'")[0]

    def set_binlog_row_image(self, value: str) -> dict:
        self.stack.sql(f"SET GLOBAL binlog_row_image = {pymysql.converters.escape_string(value)!s}")
        return self.stack.sql("SHOW GLOBAL VARIABLES LIKE 'binlog_row_image'")[0]

    def set_binlog_retention(self, seconds: int) -> dict:
        """Turn on binlog expiry (the devstack runs with none): purge ETAs become finite."""
        self.stack.sql(f"SET GLOBAL binlog_expire_logs_seconds = {int(seconds)}")
        return self.stack.sql("SHOW GLOBAL VARIABLES LIKE 'binlog_expire_logs_seconds'")[0]

    def restore_settings(self) -> None:
        self.stack.sql("SET GLOBAL binlog_format = ROW")
        self.stack.sql("SET GLOBAL binlog_row_image = FULL")
        self.stack.sql("SET GLOBAL binlog_expire_logs_seconds = 0")

    def restore_connector_configs(self) -> None:
        """Put back every connector config a fault changed (the task restarts with it)."""
        known = set(self.stack.list_connectors())
        for name, config in list(self._original_configs.items()):
            if name in known:
                self._retry(
                    lambda name=name, config=config: (
                        self.stack.rest("PUT", f"/connectors/{name}/config", json=config).status_code in (200, 201)
                    ),
                    f"PUT /connectors/{name}/config",
                )
        self._original_configs.clear()

    # ------------------------------------------------------------------ record errors
    def records_fail_transform(self, conn: ConnectorHandle, timeout: float = 60) -> dict:
        """Give the connector a transform that fails on every record, with errors tolerated.

        The task stays RUNNING while Connect skips each record (`errors.tolerance=all`): the
        task-error MBean counts record errors and sets `last-error-timestamp`. Returns that MBean.
        """
        self._touched[conn.name] = conn
        stack = self.stack
        original = stack.rest("GET", f"/connectors/{conn.name}/config").json()
        self._original_configs.setdefault(conn.name, original)
        broken = {
            **original,
            "errors.tolerance": "all",
            "errors.log.enable": "false",
            "transforms": "failing",
            "transforms.failing.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.failing.spec": "op:int32",
        }  # op is "c"/"u"/"d"/"r": never a number
        self._retry(
            lambda: stack.rest("PUT", f"/connectors/{conn.name}/config", json=broken).status_code in (200, 201),
            f"PUT /connectors/{conn.name}/config",
        )
        mbean = f"kafka.connect:type=task-error-metrics,connector={conn.name},task=0"
        tag = uuid.uuid4().hex[:8]

        def errors_counted():
            stack.sql(
                f"INSERT INTO {SAMPLE_DATABASE}.customers (first_name, last_name, email) VALUES (%s, %s, %s)",
                args=("Failing", "Transform", f"transform-{tag}-{time.monotonic_ns()}@example.com"),
            )
            reply = self._jolokia_read(mbean)
            value = reply.get("value") or {}
            return value if (value.get("total-record-errors") or 0) > 0 else None

        try:
            return wait_for(errors_counted, timeout, interval=1, what=f"record errors counted for {conn.name}")
        except TimeoutError as exc:
            raise StackError("connect1", str(exc), stack.log_path("connect1")) from None

    def revoke_grant(self, privilege: str, user: str | None = None) -> list[dict]:
        db = self.stack.mariadb
        user = user or db.debezium_user
        if privilege.upper() not in {p for p in DEBEZIUM_GRANTS} | {p for p, _ in MONITOR_GRANTS}:
            raise ValueError(f"unexpected privilege {privilege!r}")
        on = "*.*"
        if user == db.monitor_user and privilege.upper() == "SELECT":
            on = "`mysql`.*"
        self.stack.sql(f"REVOKE {privilege.upper()} ON {on} FROM '{user}'@'%'")
        return self.stack.sql(f"SHOW GRANTS FOR '{user}'@'%'")

    def restore_grants(self) -> None:
        db = self.stack.mariadb
        self.stack.sql(f"GRANT {', '.join(DEBEZIUM_GRANTS)} ON *.* TO '{db.debezium_user}'@'%'")
        for priv, on in MONITOR_GRANTS:
            self.stack.sql(f"GRANT {priv} ON {on} TO '{db.monitor_user}'@'%'")

    # ------------------------------------------------------------------ Jolokia reachability
    def jolokia_unreachable(self, n: int = 1, timeout: float = 15) -> None:
        """Close worker n's Jolokia listener (connections refused); Connect REST keeps answering."""
        self.stack.jolokia_control_file(n).touch()
        port = self.stack.ports.jolokia if n == 1 else self.stack.ports.jolokia2
        try:
            wait_for(lambda: not port_open(port), timeout, interval=0.1, what=f"Jolokia port {port} to close")
        except TimeoutError as exc:
            raise StackError(f"connect{n}", str(exc), self.stack.log_path(f"connect{n}")) from None

    def jolokia_reachable(self, n: int = 1, timeout: float = 15) -> None:
        self.stack.jolokia_control_file(n).unlink(missing_ok=True)
        if not self.stack.worker_running(n):
            return
        url = self.stack.jolokia_url if n == 1 else self.stack.jolokia2_url
        try:
            wait_for(lambda: self.stack.jolokia_answers(n), timeout, interval=0.2, what=f"Jolokia at {url}")
        except TimeoutError as exc:
            raise StackError(f"connect{n}", str(exc), self.stack.log_path(f"connect{n}")) from None

    # ------------------------------------------------------------------ load
    def write_load(self, rows_per_second: float, duration: float | None = None) -> LoadHandle:
        """Insert and update rows of inventory.customers at a steady rate in a background thread."""
        handle = LoadHandle(rows_per_second, duration)
        stack = self.stack
        tag = uuid.uuid4().hex[:8]

        def run() -> None:
            interval = 1.0 / max(rows_per_second, 0.001)
            deadline = None if duration is None else time.monotonic() + duration
            conn = None
            next_at = time.monotonic()
            while not handle._stop.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    if conn is None:
                        conn = stack.db_connection("root", timeout=3)
                    with conn.cursor() as cur:
                        n = handle.rows
                        if n % 4 == 3:
                            cur.execute(
                                f"UPDATE {SAMPLE_DATABASE}.customers SET last_name=%s WHERE email=%s",
                                (f"Updated{n}", f"load-{tag}-{n - 1}@example.com"),
                            )
                        else:
                            cur.execute(
                                f"INSERT INTO {SAMPLE_DATABASE}.customers "
                                "(first_name, last_name, email) VALUES (%s, %s, %s)",
                                ("Load", f"Row{n}", f"load-{tag}-{n}@example.com"),
                            )
                    handle.rows += 1
                except Exception as exc:
                    handle.errors += 1
                    handle.last_error = repr(exc)
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.close()
                    conn = None
                    handle._stop.wait(0.5)
                next_at += interval
                handle._stop.wait(max(0.0, next_at - time.monotonic()))
            if conn is not None:
                conn.close()

        handle._thread = threading.Thread(target=run, name=f"devstack-load-{tag}", daemon=True)
        handle._thread.start()
        self._loads.append(handle)
        return handle

    # ------------------------------------------------------------------ heal
    def heal_all(self) -> None:
        """Undo every fault: loads, Jolokia, workers, database, password, settings, grants, states.

        Works from the stack's real state, so a heal from another process (the CLI) undoes what
        an earlier one did: every PAUSED or STOPPED connector is resumed and every FAILED task
        restarted. Only a changed connector config is remembered in this process alone.
        """
        for handle in self._loads:
            handle.stop()
        self._loads.clear()
        for n in (1, 2):
            if self.stack.jolokia_control_file(n).exists():
                self.jolokia_reachable(n)
        for n in (1, 2):
            if (n == 1 or self.stack.killed_marker(n).exists()) and not self.stack.worker_running(n):
                self.start_worker(n)
            self.stack.killed_marker(n).unlink(missing_ok=True)
        if not self.db_running():
            self.db_start()
            self._db_bounced = True
        self.restore_debezium_password()
        self.restore_settings()
        self.restore_grants()
        self.restore_connector_configs()
        known = set(self.stack.list_connectors())
        for name in known:
            status = self.stack.connector_status_or_none(name) or {}
            if status.get("connector", {}).get("state") in ("PAUSED", "STOPPED"):
                self.stack.rest("PUT", f"/connectors/{name}/resume")
            if any(t.get("state") == "FAILED" for t in status.get("tasks", [])):
                self.stack.rest(
                    "POST", f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"}
                )
        self._touched.clear()
        if self._db_bounced:
            self._reconnect_streams()
        self._db_bounced = False

    def _reconnect_streams(self) -> None:
        """Restart the task of every RUNNING connector left disconnected by a database restart.

        Debezium's binlog client reconnects by itself only on its keep-alive cycle (seen here:
        about 85 s after the database came back); a task restart reconnects at once.
        """
        for name in self.stack.list_connectors():
            if name in self._purged:
                continue  # cannot stream again until it snapshots: a restart would not help
            status = self.stack.connector_status_or_none(name) or {}
            if status.get("connector", {}).get("state") != "RUNNING":
                continue
            prefix = self.stack.topic_prefix_of(name)
            metrics = self.stack.streaming_metrics(prefix) if prefix else None
            if prefix and metrics is not None and metrics.get("Connected") is False:
                conn = ConnectorHandle(name, prefix, 0)
                self._restart_task(conn)
                self.stack.wait_streaming(conn)
