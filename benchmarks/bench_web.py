"""Web benchmark: the daemon's HTTP side under a scrape storm (prints figures; asserts nothing).

The real daemon (`python -m cdc_watch run`) runs in its own process against a fake Connect
process serving 2,000 connectors x 4 tasks (the reply bench_scale.py builds from a recorded
one), polled every 2 s, with Slack pointed at a local capture endpoint. Printed:

- floor: one GET of a body of the same size from a plain server (the fake), same machine, same run
- scrape latency p50/p99 and errors with 1, 10 and 50 concurrent scrapers (every scraper
  scrapes once a second, all at the same instant, Accept-Encoding: gzip as Prometheus sends),
  each phase with 300 idle keep-alive connections held open beside them; the daemon's CPU
- bytes on the wire for one scrape with and without gzip
- alert latency: from the fake serving a reply with a FAILED task to the Slack message arriving,
  without and with the 50-scraper storm (3 trials each)
- SIGTERM to process exit, with the storm, the idle connections, 50 half-sent requests and a
  poll held in flight by the fake
- the daemon's peak RSS

BENCH_DAEMON_REPO=/path/to/another/checkout runs that checkout's daemon instead (e.g. the
previous web server, for a comparison under the same load).

Targets (issue 16): p99 <= 1 s with 0 errors at 50 scrapers + 300 idle; alert latency with the
storm within 1 s of without; SIGTERM <= 5 s. Run: .venv/bin/python benchmarks/bench_web.py
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import build_reply, recorded_entry

REPO = Path(__file__).resolve().parent.parent
DAEMON_REPO = Path(os.environ.get("BENCH_DAEMON_REPO") or REPO)
CONNECTORS = 2000
IDLE = 300
PHASE_SECONDS = 10
TRIALS = 3


# ---------------------------------------------------------------------------------- fake Connect
def serve_fake() -> None:
    """Fake Connect process: prints its port, answers until killed. POST /-/fail, /-/heal,
    /-/hang switch the expanded reply; GET /-/failed-at says when a FAILED reply first went out;
    GET /-/blob is a body of the daemon's /metrics size for the floor."""
    root, _ = recorded_entry("healthy")
    healthy = build_reply(CONNECTORS, "healthy")
    failed = copy.deepcopy(healthy)
    _root, bad = recorded_entry("failed")
    trace = next(t for t in bad["status"]["tasks"] if t.get("trace"))
    first = next(iter(failed))
    failed[first]["status"]["tasks"][0] = dict(trace, id=0, worker_id="10.0.0.10:8083")
    bodies = {"healthy": json.dumps(healthy).encode(), "failed": json.dumps(failed).encode()}
    recorded = REPO / "tests" / "fixtures" / "recorded" / "connect" / "connector_offsets_running.json"
    offsets = json.dumps(json.loads(recorded.read_text())["body"]).encode()
    state = {"mode": "healthy", "failed_at": 0.0, "blob": b""}
    hang = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _reply(self, payload: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            if self.path == "/-/blob":
                state["blob"] = b"x" * int(data)
            elif self.path == "/-/hang":
                hang.set()
            else:
                state["mode"] = "failed" if self.path == "/-/fail" else "healthy"
                state["failed_at"] = 0.0
            self._reply(b"{}")

        def do_GET(self) -> None:
            if self.path == "/":
                self._reply(json.dumps(root).encode())
            elif self.path == "/connectors?expand=status&expand=info":
                if hang.is_set():
                    threading.Event().wait(60)  # a poll held in flight
                mode = state["mode"]
                if mode == "failed" and not state["failed_at"]:
                    state["failed_at"] = time.time()
                self._reply(bodies[mode])
            elif self.path == "/-/failed-at":
                self._reply(json.dumps(state["failed_at"]).encode())
            elif self.path == "/-/blob":
                self._reply(state["blob"])
            elif self.path.startswith("/connectors/") and self.path.endswith("/offsets"):
                self._reply(offsets)
            else:
                self._reply(b'{"error_code":404,"message":"not found"}', 404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


# ---------------------------------------------------------------------------------- Slack capture
class SlackCapture:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(errors="replace")
                with capture.cond:
                    capture.arrivals.append((time.time(), body))
                    capture.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, since: int, word: str, timeout: float = 30) -> float | None:
        with self.cond:
            ok = self.cond.wait_for(lambda: any(word in b for _, b in self.arrivals[since:]), timeout)
            if not ok:
                return None
            return next(t for t, b in self.arrivals[since:] if word in b)


# ---------------------------------------------------------------------------------- load
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def open_idle(port: int, n: int) -> list[socket.socket]:
    """n keep-alive connections that made one request and now sit idle."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(4096)
        socks.append(s)
    return socks


def read_reply(sock: socket.socket) -> int:
    """Read one response (Content-Length framed) from `sock`; its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    left = length - len(rest)
    buf = bytearray(65536)
    while left > 0:
        got = sock.recv_into(buf, min(left, len(buf)))
        if not got:
            raise ConnectionError("closed in the body")
        left -= got
    return int(head.split(b" ", 2)[1])


class Storm:
    """`n` scrapers, each scraping /metrics once a second at the same instant, until stopped."""

    def __init__(self, port: int, n: int) -> None:
        self.port = port
        self.n = n
        self.latencies: list[float] = []
        self.errors = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]

    def _run(self) -> None:
        # Raw keep-alive sockets: an httpx client per thread costs the bench process more CPU
        # than the daemon spends serving it, and 50 such threads measure their own GIL.
        sock: socket.socket | None = None
        tick = time.monotonic()
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n")
                ok = read_reply(sock) == 200
            except OSError:
                ok = False
            if not ok and sock is not None:
                sock.close()
                sock = None
            self.latencies.append(time.monotonic() - t0)
            if not ok:
                self.errors += 1
            tick += 1.0
            self.stop.wait(max(0.0, tick - time.monotonic()))
        if sock is not None:
            sock.close()

    def start(self) -> Storm:
        for t in self.threads:
            t.start()
        return self

    def end(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, key: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(port: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        threading.Event().wait(0.2)
    raise SystemExit("daemon never became ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alert_latency(fake: str, slack: SlackCapture) -> float | None:
    """Seconds from the fake's first FAILED reply to the Slack FIRING message; heals after."""
    since = len(slack.arrivals)
    httpx.post(fake + "/-/fail", timeout=5)
    arrived = slack.wait_for(since, "CdcTaskFailed")
    served = json.loads(httpx.get(fake + "/-/failed-at", timeout=5).content)
    since = len(slack.arrivals)
    httpx.post(fake + "/-/heal", timeout=5)
    slack.wait_for(since, ":white_check_mark:")
    return arrived - served if arrived and served else None


def main() -> None:
    fake_proc = subprocess.Popen([sys.executable, __file__, "--fake"], stdout=subprocess.PIPE, text=True)
    slack = SlackCapture()
    daemon: subprocess.Popen[bytes] | None = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        assert fake_proc.stdout is not None
        fake = f"http://127.0.0.1:{int(fake_proc.stdout.readline())}"
        config = tmp / "config.yaml"
        config.write_text(
            f"connect_clusters:\n  - name: bench\n    url: {fake}\n    timeout: 30s\n"
            "    poll_interval: 2s\n    offsets_interval: 24h\n"
            "poll_jitter: 0\n"
            "alerting:\n"
            '  slack: {webhook_url: "${BENCH_SLACK_URL}"}\n'
            "  max_messages_per_minute: 600\n"
            "  rules:\n    keep_firing_for: 0s\n    overrides:\n      CdcTaskFailed: {for: 0s}\n"
        )
        port = free_port()
        env = dict(os.environ, BENCH_SLACK_URL=f"http://127.0.0.1:{slack.server.server_address[1]}/hook")
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cdc_watch",
                "run",
                "--config.file",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{port}",
                "--log.level",
                "error",
            ],
            cwd=DAEMON_REPO,
            env=env,
        )
        wait_ready(port)
        base = f"http://127.0.0.1:{port}"
        plain = httpx.get(base + "/metrics", headers={"Accept-Encoding": "identity"}, timeout=30)
        with httpx.stream("GET", base + "/metrics", headers={"Accept-Encoding": "gzip"}, timeout=30) as packed:
            wire = sum(len(c) for c in packed.iter_raw())
        httpx.post(fake + "/-/blob", content=str(len(plain.content)).encode(), timeout=5)
        floor = []
        with httpx.Client(timeout=30) as client:
            for _ in range(10):
                t0 = time.monotonic()
                client.get(fake + "/-/blob")
                floor.append(time.monotonic() - t0)
        print(f"2,000 connectors x 4 tasks; /metrics {len(plain.content) / 1e6:.1f} MB plain, {wire / 1e6:.2f} MB gzip")
        print(f"floor: plain server, one GET of the same size: p50 {statistics.median(floor) * 1000:.0f} ms")
        print(
            f"{'scrapers':>8} {'+idle':>6} {'scrapes':>8} {'p50':>8} {'p99':>8} {'max':>8} {'errors':>6} {'daemon CPU':>11}"
        )
        for n in (1, 10, 50):
            idle = open_idle(port, IDLE)
            c0, t0 = cpu_seconds(daemon.pid), time.monotonic()
            storm = Storm(port, n).start()
            threading.Event().wait(PHASE_SECONDS)
            storm.end()
            cpu = (cpu_seconds(daemon.pid) - c0) / (time.monotonic() - t0)
            lat = storm.latencies
            print(
                f"{n:>8} {IDLE:>6} {len(lat):>8} {pct(lat, 50) * 1000:>5.0f} ms {pct(lat, 99) * 1000:>5.0f} ms"
                f" {max(lat) * 1000:>5.0f} ms {storm.errors:>6} {cpu * 100:>9.0f} %"
            )
            for s in idle:
                s.close()
        quiet = [alert_latency(fake, slack) for _ in range(TRIALS)]
        storm = Storm(port, 50).start()
        stormy = [alert_latency(fake, slack) for _ in range(TRIALS)]
        storm.end()

        def show(values: list[float | None]) -> str:
            return ", ".join("lost" if v is None else f"{v:.2f}" for v in values)

        print(f"alert latency (failed reply served -> Slack), s: quiet {show(quiet)}; 50-scraper storm {show(stormy)}")
        # SIGTERM under load: storm, idle and half-sent connections, a poll held in flight.
        idle = open_idle(port, IDLE)
        half = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            half.append(s)
        storm = Storm(port, 50).start()
        httpx.post(fake + "/-/hang", timeout=5)
        threading.Event().wait(3)  # the next poll starts and hangs; the storm is in full swing
        peak = rss_mb(daemon.pid)
        t0 = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
        took = time.monotonic() - t0
        storm.end()
        for s in idle + half:
            s.close()
        print(f"SIGTERM under load -> exit {code}: {took:.2f} s; daemon peak RSS {peak:.0f} MB")
        print("targets: p99 <= 1 s and 0 errors at 50 scrapers + 300 idle; storm adds <= 1 s; SIGTERM <= 5 s")
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        fake_proc.kill()
        fake_proc.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--fake"]:
        serve_fake()
    else:
        main()
