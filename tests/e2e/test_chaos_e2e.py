"""A short chaos run (fixed seed, about 5.5 minutes, every kind below at least once) on the real devstack: random faults from the
fault catalogue, healed, and the real daemon's alerts (its alert API and its Slack messages to
the capture endpoint) judged against the timeline by devstack.chaos.Oracle. Fails on any false
alert and on any fault that did not raise and then resolve its expected alerts.

`benchmarks/chaos_soak.py --minutes 60` runs the long one. CDC_CHAOS_SECONDS and
CDC_CHAOS_SEED change this one's length and seed.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from devstack.chaos import AlertLog, ApiWatcher, ChaosDriver, Names, Oracle
from tests.e2e.conftest import full_config

pytestmark = pytest.mark.stack

# Faults that need no second worker and heal in seconds; each is judged for recall and all of
# them for precision, with write load on between faults.
SHORT_RUN = (
    "task_failed_non_retriable",
    "binlog_format_drift",
    "grant_revoked",
    "jolokia_down",
    "pause",
    "db_stop",
    "write_load",
)


def test_short_chaos_run_raises_every_expected_alert_and_nothing_else(
    stack, stack_env, connector, daemon_factory, capture, tmp_path
):
    seconds = float(os.environ.get("CDC_CHAOS_SECONDS", "330"))
    seed = int(os.environ.get("CDC_CHAOS_SEED", "17"))
    daemon = daemon_factory(full_config(stack))
    c = {"connect_cluster": "devstack", "connector": connector.name}
    daemon.wait_for(lambda: daemon.value("cdc_connector_binlog_available", **c) == 1, 60, "the binlog join to be up")
    assert daemon.samples("cdc_alert_firing") == []
    log = AlertLog()
    watcher = ApiWatcher(daemon.url, log, interval=1.0)
    watcher.start()
    loads = []

    def settle(s, conn):
        s.wait_streaming(conn, timeout=120)
        loads.append(s.faults.write_load(rows_per_second=5))  # heal_all stops loads: start it again

    settle(stack, connector)
    stop = threading.Event()
    driver = ChaosDriver(
        stack,
        connector,
        SHORT_RUN,
        seed=seed,
        duration=seconds,
        gap=(5.0, 15.0),
        timeline_path=tmp_path / "timeline.jsonl",
        settle=settle,
        stop=stop,
    )
    try:
        timeline = driver.run()
        # after the last heal: every alert must resolve (the oracle's resolve bound)
        daemon.wait_for(lambda: not daemon.samples("cdc_alert_firing"), 60, "every alert resolved after the last heal")
        log.observe_api(daemon.get("/api/v1/alerts").json(), time.time())  # the state at the end
    finally:
        stop.set()
        for load in loads:
            load.stop()
        watcher.stop()
    for message in capture.received("/slack/webhook/alerts"):
        log.observe_slack(message.json(), time.time())
    report = Oracle(connector, Names("devstack", "devdb"), resolve_bound=60.0).judge(timeline, log)
    print("\n" + report.table())
    assert timeline.events, "no fault was injected"
    assert not [e for e in timeline.events if e.error], [e.to_json() for e in timeline.events if e.error]
    assert report.false_alerts == []
    assert report.missed == []
    assert report.recall == 1.0 and report.precision == 1.0
