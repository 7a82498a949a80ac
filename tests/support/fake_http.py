"""A loopback HTTP server that answers from a route table and records every request.

Unit tests use it in place of Connect or Jolokia, fed with recorded replies. A request that
has no route answers 599 and is recorded in `unexpected`, which tests assert is empty: the
fake fails on requests the test did not expect.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes/str sent as they are
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    trickle: float = 0.0  # seconds between body bytes (a slow server no per-read timeout catches)
    gate: threading.Event | None = None  # answer only once this is set (a poll held in flight)
    # Instead of `body`: chunks sent as they come, with no Content-Length (the reply ends when the
    # connection closes), e.g. an endless body that only a cap on the reader stops.
    chunks: Callable[[], Iterable[bytes]] | None = None


@dataclass
class Seen:
    method: str
    path: str  # path with query string, as sent
    headers: dict[str, str]
    body: bytes


class FakeHTTP:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], Reply | list[Reply]] = {}
        self.requests: list[Seen] = []
        self.unexpected: list[Seen] = []
        self.aborted: list[Seen] = []  # requests whose client hung up before the whole reply
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length) if length else b""
                )
                fake.requests.append(seen)
                reply = fake._reply_for(self.command, self.path)
                if reply is None:
                    fake.unexpected.append(seen)
                    reply = Reply(599, {"error": "unexpected request"})
                if reply.delay:
                    fake._stop.wait(reply.delay)
                while reply.gate is not None and not reply.gate.wait(0.02) and not fake._stop.is_set():
                    pass
                if isinstance(reply.body, bytes):
                    payload = reply.body
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                elif reply.body is None:
                    payload = b""
                else:
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    if reply.chunks is not None:
                        for key, value in reply.headers.items():
                            self.send_header(key, value)
                        self.end_headers()
                        self.wfile.flush()
                        for chunk in reply.chunks():
                            if fake._stop.is_set():
                                return
                            self.wfile.write(chunk)
                        return
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if reply.trickle:
                        for i in range(len(payload)):
                            if fake._stop.wait(reply.trickle):
                                return
                            self.wfile.write(payload[i : i + 1])
                            self.wfile.flush()
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    fake.aborted.append(seen)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:  # HTTPS; a failed handshake is dropped by the server loop
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def route(self, method: str, path: str, *replies: Reply) -> None:
        """Answer `method path` (path including any query string) with the replies in turn;
        the last one repeats."""
        self.routes[(method, path)] = list(replies) if len(replies) > 1 else replies[0]

    def _reply_for(self, method: str, path: str) -> Reply | None:
        entry = self.routes.get((method, path))
        if isinstance(entry, list):
            return entry.pop(0) if len(entry) > 1 else entry[0]
        return entry

    def __enter__(self) -> FakeHTTP:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
