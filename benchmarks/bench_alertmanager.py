"""What the Alertmanager channel costs at scale, next to the rule evaluation it follows.

    .venv/bin/python benchmarks/bench_alertmanager.py [connectors]

N connectors with one FAILED task each (N firing CdcTaskFailed alerts). Times, in one run:
the floor (`rules.evaluate` + `plan` of that snapshot), the channel's `observe` when every
alert is due (builds N bodies), `observe` when none is due, and the POSTs of all N alerts (in
batches of 64) to a local loopback HTTP server that accepts them. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cdc_watch.config import AlertingConfig, AlertmanagerSettings
from cdc_watch.core.clock import FakeClock
from cdc_watch.notify.alertmanager import AlertmanagerChannel, build_targets
from cdc_watch.notify.plan import NotifyState, PlanSettings, plan
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState
from generate.scenarios import Step
from generate.snapshots import snapshot_for

NOW = 1_750_000_000.0


class _Accept(BaseHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    connectors = {f"c{i}": ("RUNNING", {0: "FAILED@w1:8083"}) for i in range(n)}
    snapshot = snapshot_for(Step(0, {"prod": connectors}), (("connect:prod", "connect"),), NOW)
    cfg = AlertingConfig.model_validate({"rules": {"overrides": {"CdcTaskFailed": {"for": "0s"}}}})
    settings = PlanSettings(cfg.rules, cfg.repeat_interval, cfg.runbook_url)

    t0 = time.perf_counter()
    state, transitions = rules.evaluate(AlertState(), snapshot, NOW, cfg.rules)
    plan(NotifyState(), state, transitions, NOW, settings)
    floor = time.perf_counter() - t0

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = FakeClock(NOW)
    am = AlertmanagerSettings(urls=(f"http://127.0.0.1:{server.server_address[1]}",))
    channel = AlertmanagerChannel(build_targets(am, clock), am.resend_interval, 15.0)
    t0 = time.perf_counter()
    channel.observe(state, transitions, NOW, settings)
    due = time.perf_counter() - t0
    t0 = time.perf_counter()
    channel.observe(state, (), NOW + 10, settings)
    idle = time.perf_counter() - t0
    t0 = time.perf_counter()
    channel.pump()
    posted = time.perf_counter() - t0
    (target,) = channel.targets
    server.shutdown()
    print(
        f"connectors: {n}  firing alerts: {len(state.firing())}  sent: {target.alerts_sent} in {target.posts_ok} POSTs"
    )
    print(f"floor, evaluate+plan: {floor * 1000:.1f} ms")
    print(f"observe, all due: {due * 1000:.1f} ms  none due: {idle * 1000:.2f} ms")
    print(f"POST all to a loopback server: {posted * 1000:.1f} ms ({target.alerts_sent / posted:.0f} alerts/s)")


if __name__ == "__main__":
    main()
