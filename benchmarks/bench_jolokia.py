"""Jolokia part of the benchmark: parse one bulk reply of a worker running N Debezium connectors.

Builds a synthetic reply shaped exactly like the recorded devstack reply
(tests/fixtures/recorded/jolokia/bulk_worker_with_debezium.json), scaled to N connectors with
one task each, then reports CPU time for JSON decoding, the absurd-number scan the Jolokia source
runs on every reply, `parse_bulk_reply`, `join` and rendering
the metrics. Target: at 2,000 connectors the reply parses in at most 300 ms of CPU.

    .venv/bin/python benchmarks/bench_jolokia.py [N]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import MappingProxyType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cdc_watch.config import parse_config
from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.exporter.jolokia import jolokia_metrics
from cdc_watch.exporter.render import render
from cdc_watch.sources.connect.model import (
    ConnectClusterState,
    ConnectorSettings,
    ConnectorStatus,
    State,
    TaskStatus,
)
from cdc_watch.sources.http import may_hold_absurd_numbers
from cdc_watch.sources.jolokia import parse

RECORDED = REPO / "tests" / "fixtures" / "recorded" / "jolokia" / "bulk_worker_with_debezium.json"
WORKER = "127.0.0.1:28083"


def scaled_reply(n: int) -> list:
    reply = json.loads(RECORDED.read_text())["reply"]
    out = []
    for element in reply:
        value = element.get("value")
        if element.get("status") != 200 or not isinstance(value, dict) or not any("=" in k for k in value):
            out.append(element)
            continue
        grown = {}
        for key, attrs in value.items():
            if "inventory-connector" in key:
                for i in range(n):
                    grown[key.replace("inventory-connector", f"conn-{i:05d}")] = attrs
            elif "server=dbserver1" in key:
                for i in range(n):
                    grown[key.replace("server=dbserver1", f"server=prefix-{i:05d}")] = attrs
            else:
                grown[key] = attrs
        out.append(dict(element, value=grown))
    return out


def cpu(fn, repeat: int = 5):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t0)
    return best, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    text = json.dumps(scaled_reply(n))
    connectors = {
        f"conn-{i:05d}": ConnectorStatus(
            f"conn-{i:05d}",
            "source",
            State.RUNNING,
            WORKER,
            (TaskStatus(0, State.RUNNING, WORKER),),
            ConnectorSettings(
                connector_class="io.debezium.connector.mysql.MySqlConnector", topic_prefix=f"prefix-{i:05d}"
            ),
        )
        for i in range(n)
    }
    connect = ConnectClusterState("bench", "http://w", "3.9.0", "x", "k", MappingProxyType(connectors))
    endpoint = parse.Endpoint("http://w:8778/jolokia", "http://w:8778/jolokia")
    decode_s, body = cpu(lambda: json.loads(text))
    scan_s, absurd = cpu(lambda: may_hold_absurd_numbers(text.encode()))
    parse_s, reading = cpu(lambda: parse.parse_bulk_reply(endpoint, body, absurd))
    join_s, state = cpu(lambda: parse.join("bench", [reading], connect))
    assert len(state.streaming) == n and len(state.tasks) == n, "synthetic reply did not scale"
    cfg = parse_config(
        {
            "connect_clusters": [
                {"name": "bench", "url": "http://w:8083", "jolokia": {"urls": ["http://w:8778/jolokia"]}}
            ]
        }
    )
    store = SnapshotStore()
    store.register([("jolokia:bench", "jolokia")])
    store.record(PollResult("jolokia:bench", "jolokia", 1.0, 0.1, data=state))
    render_s, body_out = cpu(lambda: render(store.current(), [jolokia_metrics(lambda: cfg)]), repeat=3)
    print(f"jolokia bench: {n} connectors, reply {len(text) / 1e6:.1f} MB, {len(body_out) / 1e6:.1f} MB of metrics")
    print(f"  json decode          {decode_s * 1000:7.1f} ms CPU")
    print(f"  absurd-number scan   {scan_s * 1000:7.1f} ms CPU")
    print(f"  parse_bulk_reply     {parse_s * 1000:7.1f} ms CPU")
    print(f"  decode + parse       {(decode_s + scan_s + parse_s) * 1000:7.1f} ms CPU   (target <= 300 ms)")
    print(f"  join                 {join_s * 1000:7.1f} ms CPU")
    print(f"  render (jolokia)     {render_s * 1000:7.1f} ms CPU")


if __name__ == "__main__":
    main()
