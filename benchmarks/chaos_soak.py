"""Chaos soak: the real daemon against the real devstack while devstack.chaos injects random
faults (seeded) with write load on; prints, per fault kind, injected, detected, median and worst
detection time and false alerts, then recall and precision.

    .venv/bin/python benchmarks/chaos_soak.py --minutes 60 [--seed 17] [--workers 2] [--kinds a,b]

Uses the devstack under CDC_DEVSTACK_DIR and its CDC_DEVSTACK_PORT_* ports (started if it is
not running, stopped at the end unless it was already running). The daemon runs in-process with
the e2e configuration (every source polled every 2 s, every `for` 10 s, keep_firing_for 0s), Slack
to a local capture endpoint. The timeline is written to --timeline (JSON lines). Exit status 0
when recall and precision are both 1.0, else 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cdc_watch.app import App
from devstack import Stack
from devstack.chaos import CATALOGUE, AlertLog, ApiWatcher, ChaosDriver, Names, Oracle
from tests.e2e.conftest import full_config
from tests.support.capture import CaptureServer

DEFAULT_KINDS = tuple(k for k in CATALOGUE if k != "worker_kill")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1, help="2 adds the worker_kill fault")
    parser.add_argument("--kinds", default="", help="comma-separated fault kinds (default: all that fit --workers)")
    parser.add_argument("--load", type=float, default=5.0, help="rows per second of write load between faults")
    parser.add_argument("--timeline", type=Path, default=None)
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k) or DEFAULT_KINDS + (
        ("worker_kill",) if args.workers == 2 else ()
    )
    unknown = sorted(set(kinds) - set(CATALOGUE))
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(unknown)}; known: {', '.join(CATALOGUE)}")

    stack = Stack()
    was_up = bool(stack.status().get("connect1", {}).get("up"))
    stack.up(with_worker2=args.workers == 2)
    for key, value in stack.env().items():
        os.environ[key] = value
    capture = CaptureServer().start()
    os.environ["CDC_TEST_SLACK_WEBHOOK"] = capture.webhook_url("alerts")
    connector = stack.create_connector()
    work = Path(tempfile.mkdtemp(prefix="cdc-chaos-"))
    config = work / "cdc-watch.yaml"
    config.write_text(full_config(stack) + f"\nstate_file: {work / 'state.json'}\n")
    app = App(config, "127.0.0.1:0", enable_lifecycle=True)
    app.start()
    url = f"http://127.0.0.1:{app.web.port}"
    log = AlertLog()
    watcher = ApiWatcher(url, log)
    loads = []

    def settle(s: Stack, conn) -> None:
        s.wait_streaming(conn, timeout=180)
        if args.load > 0:
            loads.append(s.faults.write_load(rows_per_second=args.load))

    started = time.monotonic()
    try:
        ready = threading.Event()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not ready.wait(1):
            metrics = app.render_metrics().decode()
            if f'cdc_connector_binlog_available{{connect_cluster="devstack",connector="{connector.name}"' in metrics:
                ready.set()
        watcher.start()
        settle(stack, connector)
        driver = ChaosDriver(
            stack,
            connector,
            kinds,
            seed=args.seed,
            duration=args.minutes * 60,
            gap=(10.0, 40.0),
            timeline_path=args.timeline or work / "timeline.jsonl",
            settle=settle,
        )
        timeline = driver.run()
        end = time.monotonic() + 60
        while time.monotonic() < end and app.alerting.alerts.firing():
            threading.Event().wait(1)
        log.observe_api({"alerts": _alerts(app)}, time.time())
    finally:
        for load in loads:
            load.stop()
        if watcher.is_alive():
            watcher.stop()
        app.stop()
        for message in capture.received("/slack/webhook/alerts"):
            log.observe_slack(message.json(), time.time())
        capture.stop()
        stack.faults.heal_all()
        stack.delete_connector(connector.name)
        if not was_up:
            stack.down()
    report = Oracle(connector, Names("devstack", "devdb"), resolve_bound=60.0).judge(timeline, log)
    minutes = (time.monotonic() - started) / 60
    print(
        f"chaos soak: seed {args.seed}, {minutes:.1f} min, {len(timeline.events)} faults, "
        f"write load {args.load:g} rows/s, timeline {driver.timeline.path}"
    )
    print(report.table())
    errors = [e.to_json() for e in timeline.events if e.error]
    for error in errors:
        print(f"FAULT ERROR: {error}")
    return 0 if report.recall == 1.0 and report.precision == 1.0 and not errors else 1


def _alerts(app: App) -> list[dict]:
    return [
        {"alert": e.key.alert, "labels": dict(e.key.labels), "state": str(e.phase), "fired_at": e.fired_at}
        for e in app.alerting.alerts.entries.values()
    ]


if __name__ == "__main__":
    sys.exit(main())
