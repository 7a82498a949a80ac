"""Scale benchmark for the Connect REST source, the offsets source and the exporter (prints figures; asserts nothing).

For 500, 2,000, 8,000 and 20,000 connectors with 4 tasks each, a separate server process answers
`GET /`, `GET /connectors?expand=status&expand=info` and `GET /connectors/{c}/offsets` with
replies built from replies recorded on the real stack (one recorded entry repeated with new
names). Each size and case is measured in a fresh Python process, so peaks never mix:

- poll+parse: CPU time of one steady `ConnectSource.poll` (HTTP, JSON decode, parse, model),
  median of 5 (3 from 8,000 up); `cold` is the first poll of a fresh source
- render: time to render /metrics from the resulting snapshot, median of the same count
- /metrics body: plain bytes and gzip bytes (level 6), and samples
- peak RSS of the measuring process after polling and rendering
- requests per cycle: Connect REST requests of one steady poll, counted by the server; for the
  `healthy` and `failed` cases also one offsets cycle (`ConnectOffsetsSource.poll`, every
  connector matched to a configured database so every one needs its offsets): requests, wall
  time, log lines it wrote. In `failed` the server answers every offsets request with HTTP 500.

The floor, measured in another fresh process of the same run right before each case: fetch
(CPU of an httpx GET of the same body) + `json.loads` of it, and plain formatting (f-strings
over the decoded reply writing the same series as the exporter, joined and encoded). The
ratios are poll+parse / (fetch + json.loads) and render / plain formatting.

Cases: `healthy` (every task RUNNING, from connectors_expand_healthy), `failed` (every task
FAILED with the recorded trace of connectors_expand_failed_task_non_retriable, each connector
with its own password, so every trace is scrubbed of it on every poll), and `failed*`, the same
with every trace made unique.

Targets (issue 24): at 20,000 x 4 poll+parse <= 1 s CPU, render <= 0.5 s, peak RSS <= 400 MB
healthy and <= 500 MB `failed*`; at 2,000 poll+parse <= 2x floor (and `failed` <= 200 ms,
`failed*` <= 250 ms), peak RSS <= 120 MB, render <= 2x floor.

Run: .venv/bin/python benchmarks/bench_scale.py [SIZE ...] (BENCH_CASES=healthy,failed to pick cases)
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECORDED = Path(os.environ.get("BENCH_RECORDED", REPO / "tests" / "fixtures" / "recorded" / "connect"))
SIZES = (500, 2000, 8000, 20000)
CASES = {
    "healthy": "connectors_expand_healthy",
    "failed": "connectors_expand_failed_task_non_retriable",
    "failed*": "connectors_expand_failed_task_non_retriable",  # each task's trace made unique
}
TASKS = 4
EXPANDED = "/connectors?expand=status&expand=info"
DB_HOST = "db.bench.example"
DB_PORT = 3306


def repeats(n: int) -> int:
    return 5 if n <= 2000 else 3


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
            **{
                "topic.prefix": f"db{i}",
                "tasks.max": str(TASKS),
                "database.password": secrets.token_urlsafe(12),
                "database.hostname": DB_HOST,
                "database.port": str(DB_PORT),
            },
        )
        entry["info"]["tasks"] = [{"connector": name, "task": t} for t in range(TASKS)]
        reply[name] = entry
    return reply


def serve(n: int, case: str) -> None:
    """Server process: prints its port, then answers until killed. `GET /-/count` (not counted)
    answers the number of requests served so far."""
    root, _ = recorded_entry(case)
    offsets = json.loads((RECORDED / "connector_offsets_running.json").read_text())["body"]
    bodies = {"/": json.dumps(root).encode(), EXPANDED: json.dumps(build_reply(n, case)).encode()}
    offsets_body = json.dumps(offsets).encode()
    offsets_error = json.dumps({"error_code": 500, "message": "bench: offsets unavailable"}).encode()
    counted = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            status = 200
            if self.path == "/-/count":
                payload = str(counted[0]).encode()
            else:
                counted[0] += 1
                payload = bodies.get(self.path, b"")
                if not payload and self.path.endswith("/offsets"):
                    payload, status = (offsets_error, 500) if case == "failed" else (offsets_body, 200)
                elif not payload:
                    payload, status = b"{}", 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_server(n: int, case: str) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(n), case], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def served(port: int) -> int:
    import httpx

    return int(httpx.get(f"http://127.0.0.1:{port}/-/count").text)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.INFO:
            self.lines += 1


def _offsets_source(cluster, databases):  # type: ignore[no-untyped-def]
    from cdc_watch.sources.connect.poll import ConnectOffsetsSource

    try:
        return ConnectOffsetsSource(cluster, databases=databases)  # type: ignore[call-arg]
    except TypeError:  # before the offsets source knew which connectors need offsets
        return ConnectOffsetsSource(cluster)


def measure(n: int, case: str) -> dict:
    """Measuring process: poll the server, render, report figures as JSON."""
    sys.path.insert(0, str(REPO))
    from cdc_watch.config import parse_config
    from cdc_watch.core.model import PollResult
    from cdc_watch.core.snapshot import SnapshotStore
    from cdc_watch.exporter.connect import connect_metrics
    from cdc_watch.exporter.render import render, self_metrics
    from cdc_watch.sources.connect.poll import ConnectSource
    from cdc_watch.sources.mysql.poll import endpoint_of

    server, port = start_server(n, case)
    try:
        config = parse_config(
            {
                "connect_clusters": [
                    # the cap is the largest the schema takes: this measures parsing, not the cap
                    {"name": "bench", "url": f"http://127.0.0.1:{port}", "timeout": "30s", "max_reply_size": "1GiB"}
                ],
                "databases": [{"name": "benchdb", "host": DB_HOST, "port": DB_PORT, "user": "bench"}],
            }
        )
        cluster = config.connect_clusters[0]
        source = ConnectSource(cluster)
        store = SnapshotStore()
        offsets_source = _offsets_source(cluster, [endpoint_of(db) for db in config.databases])
        store.register([(source.name, source.kind), (offsets_source.name, offsets_source.kind)])
        t0 = time.process_time()
        state = source.poll(store.current())  # cold: first poll of a fresh source (connection, imports)
        cold = time.process_time() - t0
        store.record(PollResult(source.name, source.kind, time.time(), 0.1, state))
        cpu = []
        before = served(port)
        for _ in range(repeats(n)):
            t0 = time.process_time()
            state = source.poll(store.current())
            cpu.append(time.process_time() - t0)
            store.record(PollResult(source.name, source.kind, time.time(), 0.1, state))
        requests = (served(port) - before) / repeats(n)
        snapshot = store.current()
        renders = []
        body = b""
        for _ in range(repeats(n)):
            del body
            t0 = time.perf_counter()
            body = render(snapshot, (self_metrics, connect_metrics))
            renders.append(time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        connector_only: dict[str, float] = {}
        if case == "healthy":  # exporter.per_task_metrics: false, where this version has it
            try:
                t0 = time.perf_counter()
                small = render(snapshot, (self_metrics, connect_metrics), False)  # type: ignore[call-arg]
                connector_only = {"render_ms": (time.perf_counter() - t0) * 1000, "bytes": len(small)}
                connector_only["samples"] = small.count(b"\n") - 2 * small.count(b"# TYPE")
                del small
            except TypeError:
                pass
        assert state is not None and len(state.connectors) == n
        result = {
            "connectors": n,
            "case": case,
            "cold_cpu_ms": cold * 1000,
            "poll_cpu_ms": statistics.median(cpu) * 1000,
            "render_ms": statistics.median(renders) * 1000,
            "metrics_bytes": len(body),
            "gzip_bytes": len(gzip.compress(body, 6)),
            "samples": body.count(b"\n") - 2 * body.count(b"# TYPE"),
            "peak_rss_mb": peak,
            "requests": requests,
            "per_connector": connector_only,
        }
        del body
        source.close()
        if case in ("healthy", "failed"):
            counter = _Count()
            logging.getLogger("cdc_watch").addHandler(counter)
            logging.getLogger("cdc_watch").setLevel(logging.DEBUG)
            before = served(port)
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                offsets_source.poll(store.current())
            except Exception as exc:  # a failed cycle is a figure too
                result["offsets_error"] = type(exc).__name__
            result["offsets_wall_s"] = time.perf_counter() - t0
            result["offsets_cpu_ms"] = (time.process_time() - c0) * 1000
            result["offsets_requests"] = served(port) - before
            result["offsets_log_lines"] = counter.lines
            offsets_source.close()
        return result
    finally:
        server.kill()
        server.wait()


def floor(n: int, case: str) -> dict:
    """Floor process: fetch + json.loads of the same reply, and plain formatting of the same series."""
    import httpx

    server, port = start_server(n, case)
    try:
        with httpx.Client() as client:
            client.get(f"http://127.0.0.1:{port}/")  # warm the connection
            fetches, decodes, formats = [], [], []
            for _ in range(repeats(n)):
                t0 = time.process_time()
                raw = client.get(f"http://127.0.0.1:{port}{EXPANDED}").content
                t1 = time.process_time()
                tree = json.loads(raw)
                t2 = time.process_time()
                del raw
                t3 = time.perf_counter()
                body = plain_format(tree)
                formats.append(time.perf_counter() - t3)
                fetches.append(t1 - t0)
                decodes.append(t2 - t1)
                del tree, body
        return {
            "fetch_ms": statistics.median(fetches) * 1000,
            "loads_ms": statistics.median(decodes) * 1000,
            "format_ms": statistics.median(formats) * 1000,
        }
    finally:
        server.kill()
        server.wait()


STATES = ("UNASSIGNED", "RUNNING", "PAUSED", "STOPPED", "RESTARTING", "FAILED")


def plain_format(tree: dict) -> bytes:
    """The connector and task series of the exporter, written the plainest way from the reply."""
    c = 'connect_cluster="bench"'
    out = []
    workers: dict[str, int] = {}
    for name, entry in tree.items():
        status = entry["status"]
        base = f'{c},connector="{name}"'
        out.append(
            f'cdc_connector_info{{{base},class="{entry["info"]["config"]["connector.class"]}",type="source"}} 1\n'
        )
        current = status["connector"]["state"]
        for s in STATES:
            out.append(f'cdc_connector_state{{{base},state="{s}"}} {1 if s == current else 0}\n')
        out.append(f"cdc_connector_tasks{{{base}}} {len(status['tasks'])}\n")
        for task in status["tasks"]:
            tl = f'{base},task="{task["id"]}"'
            for s in STATES:
                out.append(f'cdc_task_state{{{tl},state="{s}"}} {1 if s == task["state"] else 0}\n')
            out.append(f'cdc_task_worker_info{{{tl},worker="{task["worker_id"]}"}} 1\n')
            workers[task["worker_id"]] = workers.get(task["worker_id"], 0) + 1
    for worker, count in workers.items():
        out.append(f'cdc_connect_worker_tasks{{{c},worker="{worker}"}} {count}\n')
    return "".join(out).encode()


def run(mode: str, n: int, case: str) -> dict:
    out = subprocess.run([sys.executable, __file__, mode, str(n), case], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{mode} {n} {case} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: tuple[int, ...], cases: tuple[str, ...]) -> None:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"cdc_watch at {commit.stdout.strip() or '?'}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    head = (
        f"{'conn':>6} {'case':>8} | {'poll+parse':>10} {'cold':>7} {'floor':>7} {'ratio':>5} | {'render':>8} {'floor':>7}"
        f" {'ratio':>5} | {'body':>9} {'gzip':>8} {'samples':>8} | {'peak RSS':>8} | {'req/cycle':>9}"
    )
    print(head)
    offsets_rows = []
    per_connector_rows = []
    for n in sizes:
        for case in cases:
            f = run("--floor", n, case)
            r = run("--one", n, case)
            poll_floor = f["fetch_ms"] + f["loads_ms"]
            print(
                f"{n:>6} {case:>8} | {r['poll_cpu_ms']:>7.0f} ms {r['cold_cpu_ms']:>4.0f} ms {poll_floor:>4.0f} ms"
                f" {r['poll_cpu_ms'] / poll_floor:>5.2f} | {r['render_ms']:>5.0f} ms {f['format_ms']:>4.0f} ms"
                f" {r['render_ms'] / f['format_ms']:>5.2f} | {r['metrics_bytes'] / 2**20:>6.1f} MB"
                f" {r['gzip_bytes'] / 2**20:>5.2f} MB {r['samples']:>8} | {r['peak_rss_mb']:>5.0f} MB | {r['requests']:>9.0f}",
                flush=True,
            )
            if "offsets_requests" in r:
                offsets_rows.append(r)
            if r.get("per_connector"):
                per_connector_rows.append(r)
    print("floor = fetch + json.loads of the same reply (poll), plain f-string formatting of the same series (render)")
    if per_connector_rows:
        print(f"\n{'conn':>6} per_task_metrics: false | {'render':>8} {'body':>9} {'samples':>8}")
        for r in per_connector_rows:
            pc = r["per_connector"]
            print(
                f"{r['connectors']:>6} {'':>23} | {pc['render_ms']:>5.0f} ms {pc['bytes'] / 2**20:>6.1f} MB {pc['samples']:>8.0f}"
            )
    if offsets_rows:
        print(f"\n{'conn':>6} {'offsets':>8} | {'requests':>8} {'wall':>8} {'CPU':>8} {'log lines':>9} | error")
        for r in offsets_rows:
            answer = "HTTP 500" if r["case"] == "failed" else "HTTP 200"
            print(
                f"{r['connectors']:>6} {answer:>8} | {r['offsets_requests']:>8} {r['offsets_wall_s']:>6.2f} s"
                f" {r['offsets_cpu_ms']:>5.0f} ms {r['offsets_log_lines']:>9} | {r.get('offsets_error', '-')}"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]), sys.argv[3])))
    elif len(sys.argv) == 4 and sys.argv[1] == "--floor":
        print(json.dumps(floor(int(sys.argv[2]), sys.argv[3])))
    else:
        picked = tuple(os.environ.get("BENCH_CASES", ",".join(CASES)).split(","))
        main(tuple(int(a) for a in sys.argv[1:]) or SIZES, picked)
