"""The HTTP endpoints: /metrics, the landing page, /-/healthy, /-/ready, /-/reload.

Only I/O and routing live here; what to serve comes from callables the app hands in.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cdc_watch import __version__
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import CONTENT_TYPE
from cdc_watch.notify import api as alerting_api
from cdc_watch.status import endpoints as status_endpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebHooks:
    metrics: Callable[[], bytes]
    snapshot: Callable[[], Snapshot]
    config_summary: Callable[[], tuple[str, bool]]  # (config file, last reload ok)
    reload: Callable[[], tuple[bool, list[str]]]
    enable_lifecycle: bool = False
    alerting: Any = None  # notify.service.AlertService: /api/v1/alerts and /api/v1/silences
    status: Callable[[], dict[str, Any]] | None = None  # the status document (status/view.py)


def parse_listen_address(address: str) -> tuple[str, int]:
    """ ":10108" -> ("0.0.0.0", 10108); "127.0.0.1:9000"; "[::1]:9000"."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {address!r}; expected [host]:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def landing_page(snapshot: Snapshot, config_file: str, reload_ok: bool) -> str:
    rows = []
    for name, status in sorted(snapshot.sources.items()):
        last = status.last
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last.started_at)) if last else "not yet"
        duration = f"{last.duration * 1000:.0f} ms" if last else ""
        error = f"{last.error.reason}: {last.error.message}" if last and last.error else ""
        state = "up" if status.up else ("pending" if last is None else "down")
        rows.append(
            "<tr>"
            + "".join(f"<td>{html.escape(str(v))}</td>" for v in (name, status.kind, state, when, duration, error))
            + "</tr>"
        )
    config_state = "loaded" if reload_ok else "last reload FAILED, previous configuration in use"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cdc_watch</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 12px;text-align:left;border-bottom:1px solid #ddd}}</style></head>
<body><h1>cdc_watch {html.escape(__version__)}</h1>
<p>Configuration: <code>{html.escape(config_file)}</code> ({html.escape(config_state)})</p>
<p><a href="/metrics">Metrics</a> · <a href="/-/healthy">Healthy</a> · <a href="/-/ready">Ready</a></p>
<h2>Sources</h2>
<table><tr><th>source</th><th>kind</th><th>state</th><th>last poll</th><th>duration</th><th>last error</th></tr>
{"".join(rows)}
</table></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    server_version = f"cdc-watch/{__version__}"
    hooks: WebHooks  # set on the subclass built per server

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http request", extra={"client": self.client_address[0], "line": format % args})

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _status(self, method: str, path: str, query: str, body: bytes = b"") -> bool:
        if self.hooks.status is None:
            return False
        reply = status_endpoints.handle(
            self.hooks.status,
            self.hooks.alerting,
            method,
            path,
            query,
            body,
            alerting_api.may_change(self.client_address[0], self.hooks.enable_lifecycle),
        )
        if reply is None:
            return False
        code, payload, content_type, headers = reply
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        return True

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            if path in ("/", "/api/v1/status") and self._status("GET", path, query):
                return
            if path == "/metrics":
                self._send(200, self.hooks.metrics(), CONTENT_TYPE)
            elif path == "/":
                config_file, ok = self.hooks.config_summary()
                page = landing_page(self.hooks.snapshot(), config_file, ok)
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif path.startswith("/api/v1/"):
                self._api("GET", path)
            elif path == "/-/healthy":
                self._send(200, b"Healthy.\n")
            elif path == "/-/ready":
                snapshot = self.hooks.snapshot()
                if snapshot.sources and snapshot.all_polled:
                    self._send(200, b"Ready.\n")
                else:
                    self._send(503, b"Not ready: not every source has been polled yet.\n")
            else:
                self._send(404, b"Not found.\n")
        except Exception as exc:
            log.error("request failed", extra={"path": path, "error": type(exc).__name__})
            self._send(500, b"Internal error.\n")

    def _api(self, method: str, path: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 65536)) if length else b""
        reply = alerting_api.handle(
            self.hooks.alerting, method, path, body, self.client_address[0], self.hooks.enable_lifecycle
        )
        status, payload, content_type = (
            reply if reply is not None else (404, b"Not found.\n", "text/plain; charset=utf-8")
        )
        self._send(status, payload, content_type)

    def do_DELETE(self) -> None:
        self._api("DELETE", self.path.split("?", 1)[0])

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/-/silences"):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 65536)) if length else b""
            if not self._status("POST", path, "", body):
                self._send(404, b"Not found.\n")
            return
        if path.startswith("/api/v1/"):
            self._api("POST", path)
            return
        if path != "/-/reload":
            self._send(404, b"Not found.\n")
            return
        if not self.hooks.enable_lifecycle:
            self._send(403, b"Lifecycle API is not enabled; start with --web.enable-lifecycle.\n")
            return
        try:
            ok, problems = self.hooks.reload()
        except Exception as exc:  # reload never raises; the connection gets an answer if it does
            log.error("reload request failed", extra={"error": type(exc).__name__})
            ok, problems = False, ["internal error; see the daemon's log"]
        if ok:
            self._send(200, b"Configuration reloaded.\n")
        else:
            self._send(500, ("Configuration not reloaded:\n" + "\n".join(problems) + "\n").encode())


class WebServer:
    def __init__(self, address: str, hooks: WebHooks):
        host, port = parse_listen_address(address)
        handler = type("Handler", (_Handler,), {"hooks": hooks})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown waits for the loop to notice, within the stop budget.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
        self._server.server_close()
