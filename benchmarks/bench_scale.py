"""Scale benchmark for the Connect REST source and the exporter (prints figures; asserts nothing).

For 10, 100, 1,000 and 2,000 connectors with 4 tasks each, a separate server process answers
`GET /` and `GET /connectors?expand=status&expand=info` with replies built from a reply
recorded on the real stack (one recorded entry repeated with new names), and a fresh Python
process per size and case measures:

- CPU time of one poll-and-parse (`ConnectSource.poll`: HTTP, JSON decode, parse), median of 5
- time to render /metrics from the resulting snapshot, median of 5
- /metrics size
- peak RSS of the measuring process

Two cases per size: `healthy` (every task RUNNING, from connectors_expand_healthy) and `failed`
(every task FAILED with the recorded trace of connectors_expand_failed_task_non_retriable, each
connector with its own password, so every trace is scrubbed on every poll; identical traces are
scrubbed once per reply), and `failed*`, the same with every trace made unique (the cost
without that sharing). `cold` is the first poll of a fresh source, the others the median of
the next 5.

Budgets at 2,000 connectors (issue 3): poll-and-parse <= 200 ms CPU, render <= 100 ms,
RSS <= 120 MB. Run: .venv/bin/python benchmarks/bench_scale.py
"""

from __future__ import annotations

import copy
import json
import resource
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECORDED = Path(__import__("os").environ.get("BENCH_RECORDED", REPO / "tests" / "fixtures" / "recorded" / "connect"))
SIZES = (10, 100, 1000, 2000)
CASES = {
    "healthy": "connectors_expand_healthy",
    "failed": "connectors_expand_failed_task_non_retriable",
    "failed*": "connectors_expand_failed_task_non_retriable",  # each task's trace made unique
}
TASKS = 4


def recorded_entry(case: str = "healthy") -> tuple[dict, dict]:
    """(root reply, one connector entry of an expanded reply) from the recorded fixtures; for
    `failed`, the entry whose task FAILED with a trace."""
    root = json.loads((RECORDED / "root.json").read_text())["body"]
    expanded = json.loads((RECORDED / f"{CASES[case]}.json").read_text())["body"]
    entries = sorted(expanded.items())
    if case != "healthy":
        entries = [
            (n, e)
            for n, e in entries
            if any(t.get("state") == "FAILED" and t.get("trace") for t in e["status"]["tasks"])
        ]
    _name, entry = entries[0]
    return root, entry


def build_reply(n: int, case: str = "healthy") -> dict:
    _root, template = recorded_entry(case)
    reply = {}
    for i in range(n):
        name = f"inventory-{i:05d}"
        entry = copy.deepcopy(template)
        entry["status"]["name"] = name
        worker = f"10.0.{i % 8}.{10 + i % 3}:8083"
        entry["status"]["connector"]["worker_id"] = worker
        task0 = next(t for t in entry["status"]["tasks"] if case == "healthy" or t.get("trace"))
        entry["status"]["tasks"] = [
            dict(task0, id=t, worker_id=f"10.0.{(i + t) % 8}.{10 + t % 3}:8083") for t in range(TASKS)
        ]
        if case == "failed*":
            for task in entry["status"]["tasks"]:
                task["trace"] = f"{name} task {task['id']}: {task['trace']}"
        entry["info"]["name"] = name
        entry["info"]["config"] = dict(
            entry["info"]["config"],
            name=name,
            **{"topic.prefix": f"db{i}", "tasks.max": str(TASKS), "database.password": f"bench-pw-{i:05d}"},
        )
        entry["info"]["tasks"] = [{"connector": name, "task": t} for t in range(TASKS)]
        reply[name] = entry
    return reply


def serve(n: int, case: str) -> None:
    """Server process: prints its port, then answers until killed."""
    root, _ = recorded_entry(case)
    bodies = {
        "/": json.dumps(root).encode(),
        "/connectors?expand=status&expand=info": json.dumps(build_reply(n, case)).encode(),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            payload = body or b"{}"
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def measure(n: int, case: str) -> dict:
    """Measuring process: poll the server, render, report figures as JSON."""
    sys.path.insert(0, str(REPO))
    from cdc_watch.config import parse_config
    from cdc_watch.core.model import PollResult
    from cdc_watch.core.snapshot import SnapshotStore
    from cdc_watch.exporter.connect import connect_metrics
    from cdc_watch.exporter.render import render, self_metrics
    from cdc_watch.sources.connect.poll import ConnectSource

    server = subprocess.Popen([sys.executable, __file__, "--serve", str(n), case], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        cluster = parse_config(
            {"connect_clusters": [{"name": "bench", "url": f"http://127.0.0.1:{port}", "timeout": "30s"}]}
        ).connect_clusters[0]
        source = ConnectSource(cluster)
        store = SnapshotStore()
        store.register([(source.name, source.kind)])
        t0 = time.process_time()
        source.poll()  # cold: first poll of a fresh source (connection, imports)
        cold = time.process_time() - t0
        cpu = []
        state = None
        for _ in range(5):
            t0 = time.process_time()
            state = source.poll()
            cpu.append(time.process_time() - t0)
        store.record(PollResult(source.name, source.kind, time.time(), 0.1, state))
        snapshot = store.current()
        renders = []
        body = b""
        for _ in range(5):
            t0 = time.perf_counter()
            body = render(snapshot, (self_metrics, connect_metrics))
            renders.append(time.perf_counter() - t0)
        source.close()
        assert state is not None and len(state.connectors) == n
        return {
            "connectors": n,
            "case": case,
            "cold_cpu_ms": cold * 1000,
            "poll_cpu_ms": statistics.median(cpu) * 1000,
            "render_ms": statistics.median(renders) * 1000,
            "metrics_bytes": len(body),
            "samples": body.count(b"\n") - 2 * body.count(b"# TYPE"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        server.kill()
        server.wait()


def main() -> None:
    print(
        f"{'connectors':>10} {'case':>8} {'poll+parse CPU':>15} {'(cold)':>10} {'render':>9} {'/metrics':>10} {'samples':>8} {'peak RSS':>9}"
    )
    for n in SIZES:
        for case in CASES:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(n), case], capture_output=True, text=True, check=True
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['connectors']:>10} {r['case']:>8} {r['poll_cpu_ms']:>12.1f} ms {r['cold_cpu_ms']:>7.1f} ms {r['render_ms']:>6.1f} ms"
                f" {r['metrics_bytes'] / 1024:>7.0f} KiB {r['samples']:>8} {r['peak_rss_mb']:>6.1f} MB"
            )
    print("budgets at 2,000 connectors: poll+parse <= 200 ms CPU, render <= 100 ms, RSS <= 120 MB")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]), sys.argv[3])))
    else:
        main()
