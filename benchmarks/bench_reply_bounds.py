"""Reply size cap: memory and time of one Connect poll against a 100 MB reply.

A loopback server (in this process) answers `GET /connectors?expand=status&expand=info` with
about 100 MB of valid JSON: the recorded healthy connector repeated under new names. Each case
polls in a fresh child process and reports the child's peak RSS (VmHWM) next to its RSS before
the poll, and the wall time of the poll:

- capped, Content-Length sent: the default 64 MiB cap refuses the announced size unread;
- capped, no Content-Length: the reader stops at the cap (64 MiB read, then too_large);
- uncapped (max_reply_size 1GiB): the reply is read, decoded and parsed, as before the cap.

Target (issue 16): RSS during a 100 MB reply <= 250 MB.

    .venv/bin/python benchmarks/bench_reply_bounds.py [MB]
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RECORDED = REPO / "tests" / "fixtures" / "recorded" / "connect"


def big_reply(megabytes: int) -> bytes:
    entry = json.loads((RECORDED / "connectors_expand_healthy.json").read_text())["body"]
    (name, value), *_ = entry.items()
    one = json.dumps(value).encode()
    count = megabytes * 1_000_000 // (len(one) + 20)
    parts = [b"{"]
    for i in range(count):
        parts.append(b'"%s-%d": %s,' % (name.encode(), i, one))
    parts[-1] = parts[-1].rstrip(b",")
    parts.append(b"}")
    return b"".join(parts)


def serve(body: bytes, root: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            payload = root if self.path == "/" else body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if self.path == "/" or "length" in self.headers.get("X-Bench", ""):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                view = memoryview(payload)
                for start in range(0, len(payload), 1 << 20):
                    self.wfile.write(view[start : start + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import httpx
from cdc_watch.config import parse_config
from cdc_watch.core.model import SourceFailure
from cdc_watch.sources.connect.poll import ConnectSource

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0

url, cap, header = sys.argv[2], sys.argv[3], sys.argv[4]
cluster = parse_config({"connect_clusters": [{"url": url, "timeout": "60s", "max_reply_size": cap}]}).connect_clusters[0]
source = ConnectSource(cluster)
source.client._client.headers["X-Bench"] = header
before = rss("VmRSS")
start = time.monotonic()
try:
    state = source.poll()
    outcome = f"ok, {len(state.connectors)} connectors"
except SourceFailure as failure:
    outcome = f"{failure.reason}: {failure.message[-60:]}"
took = time.monotonic() - start
print(f"{before:.0f}\t{rss('VmHWM'):.0f}\t{took:.2f}\t{outcome}")
"""


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    body = big_reply(megabytes)
    root = (RECORDED / "root.json").read_bytes()
    root = json.dumps(json.loads(root)["body"]).encode()
    server = serve(body, root)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"reply bounds bench: {len(body) / 1e6:.0f} MB reply, Python {sys.version.split()[0]}")
    print(f"  {'case':38} {'RSS before':>10} {'peak RSS':>9} {'poll':>7}  outcome")
    cases = [
        ("capped 64MiB, Content-Length sent", "64MiB", "length"),
        ("capped 64MiB, no Content-Length", "64MiB", "none"),
        ("uncapped (1GiB), no Content-Length", "1GiB", "none"),
    ]
    for label, cap, header in cases:
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(REPO), url, cap, header],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if out.returncode != 0:
            print(f"  {label:38} failed after {time.monotonic() - started:.1f} s: {out.stderr.strip()[-300:]}")
            continue
        before, peak, took, outcome = out.stdout.strip().split("\t", 3)
        print(f"  {label:38} {before:>7} MB {peak:>6} MB {took:>5} s  {outcome}")
    print("  target: peak RSS <= 250 MB during a 100 MB reply (the floor is the RSS before the poll)")
    server.shutdown()


if __name__ == "__main__":
    main()
