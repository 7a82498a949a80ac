"""The endpoints: /metrics, the landing page, /-/healthy, /-/ready, /-/reload and /api/v1/*.

A route table maps (path) to a handler and where it runs (see server.Runner); a new endpoint is
one `add` call. Exact paths first, then path prefixes (longest first). Only routing and what
each endpoint answers live here; the data comes from the callables the app hands in (WebHooks).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from cdc_watch import __version__
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import CONTENT_TYPE
from cdc_watch.notify import api as alerting_api
from cdc_watch.status import endpoints as status_endpoints
from cdc_watch.web.cache import MetricsCache, accepts_gzip
from cdc_watch.web.security import WebSecurity
from cdc_watch.web.server import Dispatcher, Handler, Request, Response, Route, Runner, text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebHooks:
    metrics: Callable[[], bytes]
    snapshot: Callable[[], Snapshot]
    config_summary: Callable[[], tuple[str, bool]]  # (config file, last reload ok)
    reload: Callable[[], tuple[bool, list[str]]]
    enable_lifecycle: bool = False
    alerting: Any = None  # notify.service.AlertService: /api/v1/alerts and /api/v1/silences
    # The /metrics body is rendered again only when this value changes (None: every scrape).
    metrics_version: Callable[[], Hashable] | None = None
    status: Callable[[], dict[str, Any]] | None = None  # the status document (status/view.py)


class Router(Dispatcher):
    def __init__(self) -> None:
        self._exact: dict[str, Route] = {}
        self._prefixes: list[tuple[str, Route]] = []

    def add(
        self, path: str, handler: Handler, runner: Runner = "pool", methods: tuple[str, ...] = ("GET", "HEAD")
    ) -> None:
        """Route `path` (a prefix when it ends with "/") to `handler`."""
        route = Route(handler, runner, methods)
        if path.endswith("/") and path != "/":
            self._prefixes.append((path, route))
            self._prefixes.sort(key=lambda item: -len(item[0]))
        else:
            self._exact[path] = route

    def resolve(self, method: str, path: str) -> Route | Response:
        route = self._exact.get(path) or next((r for p, r in self._prefixes if path.startswith(p)), None)
        if route is None:
            return text(404, "Not found.\n")
        if method not in route.methods:
            return text(405, "Method not allowed.\n", (("Allow", ", ".join(route.methods)),))
        return route


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


def ready(snapshot: Snapshot) -> bool:
    """Every configured source has polled successfully at least once since start."""
    return bool(snapshot.sources) and all(s.last_success is not None for s in snapshot.sources.values())


def build_router(hooks: WebHooks, cache: MetricsCache, security: Callable[[], WebSecurity]) -> Router:
    router = Router()

    def metrics(request: Request) -> Response:
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        body = cache.body(gzip)
        extra = (("Vary", "Accept-Encoding"),) + ((("Content-Encoding", "gzip"),) if gzip else ())
        return Response(200, body, CONTENT_TYPE, extra)

    def metrics_inline(request: Request) -> Response | None:
        gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
        body = cache.fresh(gzip)
        if body is None:
            return None
        extra = (("Vary", "Accept-Encoding"),) + ((("Content-Encoding", "gzip"),) if gzip else ())
        return Response(200, body, CONTENT_TYPE, extra)

    def status(request: Request) -> Response:
        """The status page, its JSON and its silence forms (status/endpoints.py)."""
        if hooks.status is None:
            return landing(request)
        may_change = hooks.alerting is not None and security().may_change(request.principal, request.client)
        if request.method == "POST" and not may_change:
            return _refused(security())
        reply = status_endpoints.handle(
            hooks.status, hooks.alerting, request.method, request.path, request.query, request.body, may_change
        )
        if reply is None:
            return text(404, "Not found.\n")
        code, payload, content_type, headers = reply
        return Response(code, payload, content_type, tuple(headers.items()))

    def landing(_request: Request) -> Response:
        config_file, ok = hooks.config_summary()
        page = landing_page(hooks.snapshot(), config_file, ok)
        return Response(200, page.encode(), "text/html; charset=utf-8")

    def healthy(_request: Request) -> Response:
        return text(200, "Healthy.\n")

    def is_ready(_request: Request) -> Response:
        if ready(hooks.snapshot()):
            return text(200, "Ready.\n")
        return text(503, "Not ready: not every source has polled successfully yet.\n")

    def reload(request: Request) -> Response:
        if not hooks.enable_lifecycle:
            return text(403, "Lifecycle API is not enabled; start with --web.enable-lifecycle.\n")
        if not security().may_change(request.principal, request.client):
            return _refused(security())
        try:
            ok, problems = hooks.reload()
        except Exception as exc:  # reload never raises; the connection gets an answer if it does
            log.error("reload request failed", extra={"error": type(exc).__name__})
            ok, problems = False, ["internal error; see the daemon's log"]
        if ok:
            return text(200, "Configuration reloaded.\n")
        return text(500, "Configuration not reloaded:\n" + "\n".join(problems) + "\n")

    def api(request: Request) -> Response:
        may_change = request.method == "GET" or security().may_change(request.principal, request.client)
        reply = alerting_api.handle(hooks.alerting, request.method, request.path, request.body, may_change)
        if reply is None:
            return text(404, "Not found.\n")
        status, payload, content_type = reply
        return Response(status, payload, content_type)

    router.add("/metrics", _first_inline(metrics_inline, metrics), "render")
    router.add("/", status)
    router.add("/api/v1/status", status)
    router.add("/-/silences", status, methods=("POST",))
    router.add("/-/silences/", status, methods=("POST",))
    router.add("/-/healthy", healthy, "inline")
    router.add("/-/ready", is_ready, "inline")
    router.add("/-/reload", reload, methods=("POST", "PUT"))
    router.add("/api/v1/", api, methods=("GET", "HEAD", "POST", "DELETE"))
    return router


def _refused(security: WebSecurity) -> Response:
    if security.has_credentials:
        return text(
            403,
            "Changes need the admin token (Authorization: Bearer) or a basic-auth user.\n",
            (("WWW-Authenticate", 'Basic realm="cdc_watch"'),),
        )
    return text(403, "Changes are accepted from loopback only when no admin token or basic-auth users are set.\n")


class _InlineFirst:
    """A handler the server may call on the loop first (`inline`, returns None when it cannot
    answer without blocking) before running `full` where the route says."""

    def __init__(self, inline: Callable[[Request], Response | None], full: Handler):
        self.inline = inline
        self.full = full

    def __call__(self, request: Request) -> Response:
        return self.full(request)


def _first_inline(inline: Callable[[Request], Response | None], full: Handler) -> Handler:
    return _InlineFirst(inline, full)
