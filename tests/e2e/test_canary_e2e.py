"""The freshness canary against the real stack: a canary table in MariaDB, a Debezium connector
that captures it, the devstack broker, and the daemon reading the topic back.

Set up as docs/configuration.md#canary tells a user to: the table, a user granted only that
table, and `cdc_watch` in the connector's database.include.list.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import relay_connectors, stack_config_yaml

CANARY_PASSWORD = "canary-e2e-Secret-7"
ROUND = 3  # seconds between canary rounds
ROUND_TIMEOUT = 2  # a probe not on the topic within this is lost
STALE = 12  # alerting.rules.canary_stale


@pytest.fixture
def canary_db(stack, monkeypatch):
    """The canary table and its user, created as root the way the docs say."""
    stack.sql("CREATE DATABASE IF NOT EXISTS cdc_watch")
    stack.sql(
        "CREATE TABLE IF NOT EXISTS cdc_watch.cdc_canary (probe_key VARCHAR(255) NOT NULL PRIMARY KEY,"
        " token VARCHAR(64) NOT NULL, written_at DATETIME(6) NOT NULL)"
    )
    stack.sql("CREATE USER IF NOT EXISTS 'cdc_canary'@'%%' IDENTIFIED BY %s", args=(CANARY_PASSWORD,))
    stack.sql("GRANT SELECT, INSERT, UPDATE, DELETE ON cdc_watch.cdc_canary TO 'cdc_canary'@'%'")
    monkeypatch.setenv("CDC_TEST_CANARY_PASSWORD", CANARY_PASSWORD)
    return stack


@pytest.fixture
def canary_connector(canary_db):
    """A streaming connector that captures the canary table too."""
    stack = canary_db
    handle = stack.create_connector(extra_config={"database.include.list": "inventory,cdc_watch"})
    try:
        yield handle
    finally:
        try:
            stack.faults.heal_all()
        finally:
            stack.delete_connector(handle.name)


def canary_config(stack, table: str = "cdc_watch.cdc_canary", connectors: str = '["*"]') -> str:
    cluster = f"""    kafka:
      bootstrap_servers: "{stack.broker_bootstrap}"
      timeout: 3s
"""
    extra = f"""
databases:
  - name: devdb
    host: 127.0.0.1
    port: {stack.ports.mariadb}
    user: cdc_monitor
    password: ${{CDC_DEVSTACK_MONITOR_PASSWORD}}
    poll_interval: 2s
{relay_connectors(stack)}    canary:
      user: cdc_canary
      password: ${{CDC_TEST_CANARY_PASSWORD}}
      table: {table}
      connectors: {connectors}
      interval: {ROUND}s
      timeout: {ROUND_TIMEOUT}s
alerting:
  slack:
    webhook_url: ${{CDC_TEST_SLACK_WEBHOOK}}
  rules:
    keep_firing_for: 0s
    canary_stale: {STALE}s
"""
    return stack_config_yaml(stack, poll_interval="2s", extra_cluster=cluster, extra=extra)


def _row_token(stack, cluster: str, connector: str) -> str | None:
    rows = stack.sql("SELECT token FROM cdc_watch.cdc_canary WHERE probe_key = %s", args=(f"{cluster}/{connector}",))
    return rows[0]["token"] if rows else None


def _firing(daemon, alert: str, connector: str) -> bool:
    return any(
        e.key.alert == alert and dict(e.key.labels).get("connector") == connector and e.phase.value == "firing"
        for e in daemon.app.alerting.alerts.entries.values()
    )


def test_canary_measures_latency_under_load_skips_a_paused_connector_and_pages_when_records_stop(
    canary_connector, stack, stack_env, daemon_factory, capture
):
    conn = canary_connector
    daemon = daemon_factory(canary_config(stack, connectors=f'["{conn.name}"]'))
    c = {"connect_cluster": "devstack", "connector": conn.name}

    def ok_probes() -> float:
        return daemon.value("cdc_canary_probes_total", outcome="ok", **c) or 0

    # 1. Latency under write load on the connector's other tables.
    load = stack.faults.write_load(rows_per_second=20)
    try:
        daemon.wait_for(lambda: ok_probes() >= 1, 90, "a first canary probe to reach the topic")
        latencies = []
        target = ok_probes() + 3
        while ok_probes() < target:
            seen = ok_probes()
            daemon.wait_for(lambda seen=seen: ok_probes() > seen, 4 * ROUND, "the next successful canary probe")
            latencies.append(daemon.value("cdc_canary_latency_seconds", **c))
    finally:
        load.stop()
    assert load.rows > 0 and load.errors == 0
    assert all(latency is not None and 0 < latency < ROUND_TIMEOUT for latency in latencies), latencies
    print(f"canary latency under {load.rows} rows of load at 20 rows/s: {latencies}")
    assert daemon.value("cdc_canary_active", **c) == 1
    assert _row_token(stack, "devstack", conn.name) is not None
    assert capture.requests == []

    # 2. Paused: skipped, and its row is never written meanwhile.
    assert stack.rest("PUT", f"/connectors/{conn.name}/pause").status_code == 202
    stack.wait_connector_state(conn.name, "PAUSED")
    daemon.wait_for(
        lambda: daemon.value("cdc_canary_active", **c) == 0, 6 * ROUND, "the canary to skip the paused connector"
    )
    token = _row_token(stack, "devstack", conn.name)
    skipped = daemon.value("cdc_canary_probes_total", outcome="skipped", **c) or 0
    daemon.wait_for(
        lambda: (daemon.value("cdc_canary_probes_total", outcome="skipped", **c) or 0) >= skipped + 2,
        6 * ROUND,
        "two more skipped rounds",
    )
    assert _row_token(stack, "devstack", conn.name) == token, "the canary wrote while the connector was paused"
    assert stack.rest("PUT", f"/connectors/{conn.name}/resume").status_code == 202
    daemon.wait_for(lambda: daemon.value("cdc_canary_active", **c) == 1, 10 * ROUND, "probing to start again")

    # 3. A transform that drops every record: Connect says RUNNING, the canary pages.
    config = stack.rest("GET", f"/connectors/{conn.name}/config").json()
    config.update({"transforms": "dropall", "transforms.dropall.type": "org.apache.kafka.connect.transforms.Filter"})
    assert stack.rest("PUT", f"/connectors/{conn.name}/config", json=config).status_code in (200, 201)
    started = time.monotonic()
    daemon.wait_for(lambda: _firing(daemon, "CdcCanaryStale", conn.name), STALE + 12 * ROUND, "CdcCanaryStale to fire")
    print(f"CdcCanaryStale fired {time.monotonic() - started:.1f}s after the drop-all transform")
    status = stack.connector_status(conn.name)
    assert status["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]
    assert daemon.value("cdc_canary_probes_total", outcome="lost", **c) >= 1
    daemon.wait_for(
        lambda: any(b"CdcCanaryStale" in r.body and conn.name.encode() in r.body for r in capture.requests),
        30,
        "the CdcCanaryStale page on Slack",
    )
    pages = [r for r in capture.requests if b"CdcCanaryStale" in r.body]
    assert all(CANARY_PASSWORD.encode() not in r.body for r in capture.requests)
    assert len(pages) == 1, [r.body for r in pages]


def test_canary_without_its_table_fails_its_source_with_the_reason(
    canary_db, connector, stack, stack_env, daemon_factory, capture
):
    daemon = daemon_factory(canary_config(canary_db, table="cdc_watch.no_such_table"))

    def failed_round():
        status = daemon.app.snapshot().sources["canary:devdb"]
        return status if status.last is not None and status.last.error is not None else None

    status = daemon.wait_for(failed_round, 30, "a failed canary round")
    assert daemon.value("cdc_source_up", source="canary:devdb") == 0
    # The user has no grant on a table that does not exist: the server says "denied" before "missing".
    assert status.last.error.reason.value == "auth"
    assert "access denied (error 1142) on cdc_watch.no_such_table" in status.last.error.message
    assert CANARY_PASSWORD not in status.last.error.message
    assert daemon.samples("cdc_canary_active") == []  # no verdicts while its rounds fail
