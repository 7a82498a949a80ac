"""A capturing HTTP endpoint that speaks enough Slack and Sentry for their real SDKs.

Loopback only (127.0.0.1, a free port). Records every request it gets; answers:
- POST /slack/webhook/<name>        Slack incoming webhook: 200 "ok"
- POST /api/chat.postMessage        Slack Web API (bot token): {"ok": true, "channel", "ts"}, a new ts each
- POST /api/chat.update             Slack Web API: {"ok": true, "channel", "ts"} of the message updated
- POST /api/<project>/envelope/     Sentry envelope endpoint: 200 {"id": ...}
and can be told to answer the next requests with 429 + Retry-After or a 5xx
(`fail_next(count, status, retry_after, path=prefix)`: only requests whose path starts with
`prefix`, else any), or to hold requests to a path until released (`hold(prefix)`: a stalled
server, to prove one channel never waits for another).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from sentry_sdk.envelope import Envelope


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)

    def sentry_events(self) -> list[dict[str, Any]]:
        envelope = Envelope.deserialize(self.body)
        return [item.payload.json for item in envelope.items if item.type == "event"]


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    path: str = ""


@dataclass
class CaptureServer:
    requests: list[Captured] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _holds: dict[str, threading.Event] = field(default_factory=dict)
    _held: int = 0
    first_at: float = 0.0  # time.monotonic() of the first and the last request recorded
    last_at: float = 0.0

    def start(self) -> CaptureServer:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture._answer(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def webhook_url(self, name: str = "default") -> str:
        return f"{self.url}/slack/webhook/{name}"

    def sentry_dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self._server.server_address[1]}/42"

    def fail_next(self, count: int, status: int, retry_after: str | None = None, path: str = "") -> None:
        with self._lock:
            self._failures += [_Failure(status, retry_after, path)] * count

    def hold(self, prefix: str) -> threading.Event:
        """Requests to `prefix` wait (unanswered) until the returned event is set."""
        release = threading.Event()
        with self._lock:
            self._holds[prefix] = release
        return release

    def stop(self) -> None:
        with self._lock:
            for release in self._holds.values():
                release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def received(self, prefix: str, status: int = 200) -> list[Captured]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix) and r.status == status]

    def wait_held(self, count: int, timeout: float) -> bool:
        """True once `count` requests are being held."""
        with self._changed:
            return self._changed.wait_for(lambda: self._held >= count, timeout)

    def wait_for(self, prefix: str, count: int, timeout: float) -> list[Captured]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.received(prefix)) >= count, timeout)
        return self.received(prefix)

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        path = handler.path
        with self._lock:
            held = [r for prefix, r in self._holds.items() if path.startswith(prefix)]
        if held:
            with self._changed:
                self._held += 1
                self._changed.notify_all()
        for release in held:
            release.wait(30)
        with self._lock:
            failure = next((f for f in self._failures if path.startswith(f.path)), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            status, reply, headers = (
                failure.status,
                b'{"ok": false, "error": "ratelimited"}',
                {"Content-Type": "application/json"},
            )
            if failure.retry_after is not None:
                headers["Retry-After"] = failure.retry_after
        elif path.startswith("/slack/webhook/"):
            status, reply, headers = 200, b"ok", {"Content-Type": "text/plain"}
        elif path == "/api/chat.postMessage":
            with self._lock:
                posted = sum(1 for r in self.requests if r.path == path and r.status == 200)
            status, reply, headers = (
                200,
                json.dumps({"ok": True, "channel": "C1", "ts": f"1700000000.{posted + 1:06d}"}).encode(),
                {"Content-Type": "application/json"},
            )
        elif path == "/api/chat.update":
            sent = _form_or_json(body)
            status, reply, headers = (
                200,
                json.dumps({"ok": True, "channel": sent.get("channel"), "ts": sent.get("ts")}).encode(),
                {"Content-Type": "application/json"},
            )
        elif path.startswith("/api/") and path.endswith("/envelope/"):
            status, reply, headers = 200, b'{"id": "0"}', {"Content-Type": "application/json"}
        else:
            status, reply, headers = 404, b"not found", {"Content-Type": "text/plain"}
        with self._lock:
            self.requests.append(Captured(path, {k.lower(): v for k, v in handler.headers.items()}, body, status))
            self.last_at = time.monotonic()
            self.first_at = self.first_at or self.last_at
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)
        with self._changed:
            self._changed.notify_all()


def _form_or_json(body: bytes) -> dict[str, Any]:
    """The arguments of a Web API call (slack_sdk sends JSON for calls with blocks, else a form)."""
    try:
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {}
    except ValueError:
        return {k: v[0] for k, v in parse_qs(body.decode()).items()}
