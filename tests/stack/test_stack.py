"""The devstack and its faults, observed through the interfaces cdc_watch reads.

Each test injects one real fault and shows its effect in Connect REST, Jolokia and SQL.
"""

from __future__ import annotations

import os
import stat

import httpx
import pymysql
import pytest

from devstack.faults import PURGE_RUNNING_LOOP
from devstack.proc import wait_for

pytestmark = pytest.mark.stack


def task0(status: dict) -> dict:
    return next(t for t in status["tasks"] if t["id"] == 0)


def streaming_reply(stack, prefix: str) -> dict:
    return stack.jolokia({"type": "read", "mbean": stack.streaming_mbean(prefix)})


# ---------------------------------------------------------------------- the healthy stack


def test_sample_connector_streams(stack):
    conn = stack.sample_connector
    status = stack.connector_status(conn.name)
    assert status["connector"]["state"] == "RUNNING"
    assert task0(status)["state"] == "RUNNING"
    reply = streaming_reply(stack, conn.topic_prefix)
    assert reply["status"] == 200
    assert reply["value"]["Connected"] is True
    offset = wait_for(lambda: stack.connector_offsets(conn.name)["offsets"], 30, what="an offset")
    files = [r["Log_name"] for r in stack.sql("SHOW BINARY LOGS")]
    assert offset[0]["partition"] == {"server": "dbserver1"}
    assert offset[0]["offset"]["file"] in files


def test_status_and_rest_root(stack):
    status = stack.status()
    for piece in ("broker", "mariadb", "connect1"):
        assert status[piece]["up"], (piece, status[piece])
        assert status[piece]["pid"]
    assert status["connect1"]["jolokia_up"]
    root = stack.rest("GET", "/").json()
    assert root["version"] == stack.connect_version.connect
    assert root["kafka_cluster_id"] == "tansu_cluster"
    plugins = {p["class"] for p in stack.rest("GET", "/connector-plugins").json()}
    assert "io.debezium.connector.mysql.MySqlConnector" in plugins
    assert stack.jolokia({"type": "version"})["value"]["agent"].startswith("1.")


def test_secrets_file_is_private_and_complete(stack):
    path = stack.secrets_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    for key in ("CDC_DEVSTACK_MYSQL_ROOT_PASSWORD", "CDC_DEVSTACK_DEBEZIUM_PASSWORD", "CDC_DEVSTACK_MONITOR_PASSWORD"):
        assert f"{key}=" in text
    env = stack.env()
    assert env["CDC_DEVSTACK_CONNECT_URL"] == stack.connect_url
    assert env["CDC_DEVSTACK_JOLOKIA_URL"] == stack.jolokia_url


def test_monitor_user_is_least_privilege(stack):
    db = stack.mariadb
    as_monitor = lambda sql: stack.sql(sql, user="monitor")  # noqa: E731
    assert "MariaDB" in as_monitor("SELECT VERSION() AS v")[0]["v"]
    assert as_monitor("SHOW BINARY LOGS")
    assert as_monitor("SHOW MASTER STATUS")[0]["File"].startswith("mysql-bin.")
    variables = {
        r["Variable_name"]: r["Value"]
        for r in as_monitor(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin','binlog_format','binlog_row_image')"
        )
    }
    assert variables == {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL"}
    grants = " ".join(next(iter(r.values())) for r in as_monitor(f"SHOW GRANTS FOR '{db.debezium_user}'@'%'"))
    for priv in ("SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", "BINLOG MONITOR"):
        assert priv in grants
    with pytest.raises(pymysql.err.OperationalError) as denied:
        as_monitor("SELECT * FROM inventory.customers")
    assert denied.value.args[0] == 1142  # SELECT command denied


# ---------------------------------------------------------------------- task failures


def test_task_failed_retriable(stack, connector):
    task = stack.faults.task_failed_retriable(connector)
    assert task["state"] == "FAILED"
    assert "Communications link failure" in task["trace"]
    assert stack.connector_status(connector.name)["connector"]["state"] == "RUNNING"
    # Retriable: once the database is back, a restart of the failed task brings it back.
    stack.faults.db_start()
    reply = stack.rest(
        "POST", f"/connectors/{connector.name}/restart", params={"includeTasks": "true", "onlyFailed": "true"}
    )
    assert reply.status_code == 202
    restarting = task0(reply.json())
    assert restarting["state"] == "RESTARTING"
    assert "Communications link failure" in restarting["trace"]
    stack.wait_streaming(connector)


def test_task_failed_non_retriable(stack, connector):
    task = stack.faults.task_failed_non_retriable(connector)
    assert task["state"] == "FAILED"
    assert "Access denied" in task["trace"]
    assert stack.connector_status(connector.name)["connector"]["state"] == "RUNNING"
    stack.faults.restore_debezium_password()
    stack.rest("POST", f"/connectors/{connector.name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
    stack.wait_streaming(connector)


def test_not_streaming(stack, connector):
    seen = stack.faults.not_streaming(connector)
    assert seen["status"]["connector"]["state"] == "RUNNING"
    assert task0(seen["status"])["state"] == "RUNNING"
    assert seen["streaming"]["Connected"] is False
    with pytest.raises(pymysql.err.OperationalError):
        stack.sql("SELECT 1")


# ---------------------------------------------------------------------- connector states


def test_pause_and_resume(stack, connector):
    status = stack.faults.pause_connector(connector)
    assert status["connector"]["state"] == "PAUSED"
    assert task0(status)["state"] == "PAUSED"
    status = stack.faults.resume_connector(connector)
    assert status["connector"]["state"] == "RUNNING"
    assert task0(status)["state"] == "RUNNING"


def test_stop_connector(stack, connector):
    status = stack.faults.stop_connector(connector)
    assert status["connector"]["state"] == "STOPPED"
    assert status["tasks"] == []
    offsets = stack.connector_offsets(connector.name)["offsets"]
    assert offsets and offsets[0]["offset"]["file"].startswith("mysql-bin.")


# ---------------------------------------------------------------------- the headline case


def test_purge_binlog_past_hides_behind_running(stack, connector):
    seen = stack.faults.purge_binlog_past(connector)
    # What Debezium does with a purged position depends on its version (named in the table).
    assert seen["outcome"] == stack.connect_version.purge_outcome
    status = stack.connector_status(connector.name)
    assert status["connector"]["state"] == "RUNNING"
    if seen["outcome"] == PURGE_RUNNING_LOOP:
        # REST: connector and task RUNNING ...
        assert task0(status)["state"] == "RUNNING"
        # ... Jolokia: the streaming MBean is gone ...
        assert seen["jolokia"]["status"] == 404
        assert seen["jolokia"]["error_type"] == "javax.management.InstanceNotFoundException"
    else:
        # Debezium 3.4 and 3.6 fail the task at start instead: no hidden failure, a FAILED task.
        assert task0(status)["state"] == "FAILED"
        assert "no longer available on the server" in task0(status)["trace"]
    # ... SQL: the file the committed offset names is no longer on the server.
    offset_file = stack.connector_offsets(connector.name)["offsets"][0]["offset"]["file"]
    files = [r["Log_name"] for r in stack.sql("SHOW BINARY LOGS")]
    assert offset_file not in files
    assert int(offset_file.rsplit(".", 1)[1]) < int(files[0].rsplit(".", 1)[1])
    # the other connectors were moved past the purge first, so their offsets are still on the server
    sample_file = stack.connector_offsets(stack.sample_connector.name)["offsets"][0]["offset"]["file"]
    assert sample_file in files


# ---------------------------------------------------------------------- server settings and grants


def test_binlog_format_not_row_fails_task_at_start(stack, connector):
    assert stack.faults.set_binlog_format("STATEMENT")["Value"] == "STATEMENT"
    stack.rest("POST", f"/connectors/{connector.name}/tasks/0/restart")
    task = stack.wait_task_state(connector.name, "FAILED", 60, trace_contains="binlog_format")
    assert "ROW binlog_format" in task["trace"]
    stack.faults.restore_settings()
    assert stack.sql("SHOW GLOBAL VARIABLES LIKE 'binlog_format'")[0]["Value"] == "ROW"


def test_binlog_row_image_not_full_fails_task_at_start(stack, connector):
    assert stack.faults.set_binlog_row_image("MINIMAL")["Value"] == "MINIMAL"
    stack.rest("POST", f"/connectors/{connector.name}/tasks/0/restart")
    task = stack.wait_task_state(connector.name, "FAILED", 60, trace_contains="binlog_row_image")
    assert "FULL binlog_row_image" in task["trace"]
    stack.faults.restore_settings()
    assert stack.sql("SHOW GLOBAL VARIABLES LIKE 'binlog_row_image'")[0]["Value"] == "FULL"


def test_revoke_and_restore_grant(stack):
    db = stack.mariadb
    grants = stack.faults.revoke_grant("REPLICATION SLAVE")
    text = " ".join(next(iter(r.values())) for r in grants)
    assert "REPLICATION SLAVE" not in text and "BINLOG MONITOR" in text
    # the monitor user sees the same thing
    seen = stack.sql(f"SHOW GRANTS FOR '{db.debezium_user}'@'%'", user="monitor")
    assert "REPLICATION SLAVE" not in " ".join(next(iter(r.values())) for r in seen)
    stack.faults.restore_grants()
    seen = stack.sql(f"SHOW GRANTS FOR '{db.debezium_user}'@'%'", user="monitor")
    assert "REPLICATION SLAVE" in " ".join(next(iter(r.values())) for r in seen)


def test_monitor_user_without_binlog_monitor_is_denied(stack):
    db = stack.mariadb
    stack.faults.revoke_grant("BINLOG MONITOR", user=db.monitor_user)
    try:
        with pytest.raises(pymysql.err.OperationalError) as denied:
            stack.sql("SHOW BINARY LOGS", user="monitor")
        assert denied.value.args[0] == 1227
    finally:
        stack.faults.restore_grants()
    assert stack.sql("SHOW BINARY LOGS", user="monitor")


# ---------------------------------------------------------------------- Jolokia and workers


def test_jolokia_unreachable_while_rest_answers(stack):
    stack.faults.jolokia_unreachable()
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(stack.jolokia_url + "/version", timeout=3)
        assert httpx.get(stack.connect_url + "/", timeout=5).status_code == 200
    finally:
        stack.faults.jolokia_reachable()
    assert httpx.get(stack.jolokia_url + "/version", timeout=5).json()["status"] == 200


def test_kill_and_start_worker2(stack):
    stack.faults.start_worker(2)
    try:
        assert httpx.get(stack.connect2_url + "/", timeout=5).status_code == 200
        assert httpx.get(stack.jolokia2_url + "/version", timeout=5).status_code == 200
        stack.faults.kill_worker(2)
        assert stack.status()["connect2"]["up"] is False
        with pytest.raises(httpx.TransportError):
            httpx.get(stack.connect2_url + "/", timeout=3)
        assert httpx.get(stack.connect_url + "/connectors", timeout=5).status_code == 200
    finally:
        stack.stop_worker(2)
    stack.wait_streaming(stack.sample_connector)


def test_worker_loss_moves_its_tasks_to_the_other_worker(stack, connector):
    """SIGKILL worker 2: after the session timeout and the scheduled rebalance delay (10 s each
    on the devstack) the tasks it ran are RUNNING on worker 1 again."""
    worker1 = f"127.0.0.1:{stack.ports.connect}"
    worker2 = f"127.0.0.1:{stack.ports.connect2}"
    names = [connector.name, stack.sample_connector.name]
    stack.faults.start_worker(2)
    try:

        def task_on_worker2():
            for name in names:
                status = stack.connector_status_or_none(name) or {}
                if any(t["state"] == "RUNNING" and t["worker_id"] == worker2 for t in status.get("tasks", [])):
                    return name
            return None

        moved = wait_for(task_on_worker2, 90, interval=1, what="the rebalance to place a task on worker 2")
        stack.faults.kill_worker(2)

        def back_on_worker1():
            tasks = (stack.connector_status_or_none(moved) or {}).get("tasks", [])
            return tasks and all(t["state"] == "RUNNING" and t["worker_id"] == worker1 for t in tasks)

        wait_for(back_on_worker1, 120, interval=1, what=f"the tasks of {moved} to run on worker 1 again")
    finally:
        stack.stop_worker(2)
    stack.wait_streaming(stack.sample_connector)
    stack.wait_streaming(connector)


def test_up_is_idempotent(stack):
    before = {piece: info["pid"] for piece, info in stack.status().items()}
    stack.up()
    after = {piece: info["pid"] for piece, info in stack.status().items()}
    assert after == before and before["connect1"] and before["mariadb"] and before["broker"]


def test_kill_and_start_worker1(stack):
    stack.faults.kill_worker(1)
    with pytest.raises(httpx.TransportError):
        httpx.get(stack.connect_url + "/", timeout=3)
    stack.faults.start_worker(1)
    stack.wait_streaming(stack.sample_connector)


# ---------------------------------------------------------------------- load and heal


def test_write_load_moves_the_stream(stack, connector):
    before = stack.streaming_metrics(connector.topic_prefix)["TotalNumberOfEventsSeen"]
    load = stack.faults.write_load(20, duration=3)
    load.join(10)
    assert load.rows >= 30 and load.errors == 0
    wait_for(
        lambda: stack.streaming_metrics(connector.topic_prefix)["TotalNumberOfEventsSeen"] >= before + 30,
        30,
        what="the streaming MBean to count the load's events",
    )


def test_heal_all_undoes_everything(stack, connector):
    faults = stack.faults
    faults.task_failed_non_retriable(connector)
    faults.set_binlog_row_image("MINIMAL")
    faults.revoke_grant("RELOAD")
    faults.jolokia_unreachable()
    faults.db_stop()
    faults.heal_all()
    assert stack.sql("SHOW GLOBAL VARIABLES LIKE 'binlog_row_image'")[0]["Value"] == "FULL"
    assert httpx.get(stack.jolokia_url + "/version", timeout=5).status_code == 200
    stack.sql("SELECT 1", user="debezium")
    stack.wait_streaming(connector)


# ---------------------------------------------------------------------- CLI and Prometheus


def test_cli_status_and_env(stack):
    import json
    import subprocess
    import sys

    from devstack.stack import REPO_ROOT

    out = subprocess.run(
        [sys.executable, "-m", "devstack", "status", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["connect1"]["up"] is True
    env = subprocess.run(
        [sys.executable, "-m", "devstack", "env"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert f"export CDC_DEVSTACK_CONNECT_URL={stack.connect_url}" in env
    assert "export CDC_DEVSTACK_MONITOR_PASSWORD=" in env


def test_prometheus_rules_reach_alertmanager_webhook(stack, tmp_path):
    import http.server
    import json
    import threading

    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):  # keep test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: devstack\n    rules:\n      - alert: DevstackAlwaysFiring\n"
        "        expr: vector(1)\n        labels: {severity: info}\n"
    )
    try:
        stack.start_prometheus(
            [f"127.0.0.1:{stack.ports.prometheus}"],
            rule_files=[rules],
            alertmanager_webhook_url=f"http://127.0.0.1:{server.server_port}/hook",
        )
        wait_for(
            lambda: httpx.get(stack.prometheus_url + "/api/v1/query", params={"query": "up"}, timeout=5).json()["data"][
                "result"
            ],
            60,
            what="a scrape",
        )
        wait_for(lambda: received, 60, what="the webhook to receive the alert")
        assert received[0]["alerts"][0]["labels"]["alertname"] == "DevstackAlwaysFiring"
        assert stack.status()["prometheus"]["up"] and stack.status()["alertmanager"]["up"]
    finally:
        stack.stop_prometheus()
        server.shutdown()
        server.server_close()
    assert not stack.status()["prometheus"]["up"]
