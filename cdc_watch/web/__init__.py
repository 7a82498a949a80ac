"""The HTTP side of the daemon: the server (server.py), its endpoints (routes.py), the /metrics
body cache (cache.py) and `--web.config.file` security (security.py).

A package rather than one module because these are four responsibilities with their own tests:
bounded I/O, routing, render-once caching, and TLS/authentication. `WebServer` puts them
together for the app.
"""

from __future__ import annotations

from cdc_watch.web.cache import MetricsCache
from cdc_watch.web.routes import WebHooks, build_router, landing_page, ready
from cdc_watch.web.security import WebSecurity, build_security
from cdc_watch.web.server import HttpServer, Limits

__all__ = [
    "Limits",
    "WebHooks",
    "WebSecurity",
    "WebServer",
    "build_security",
    "landing_page",
    "parse_listen_address",
    "ready",
]


def parse_listen_address(address: str) -> tuple[str, int]:
    """ ":10108" -> ("0.0.0.0", 10108); "127.0.0.1:9000"; "[::1]:9000"."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {address!r}; expected [host]:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class WebServer:
    """The daemon's web server: binds at construction, serves from start() until stop()."""

    def __init__(
        self,
        address: str,
        hooks: WebHooks,
        security: WebSecurity | None = None,
        limits: Limits | None = None,
        metrics_max_age: float | None = None,
    ):
        host, port = parse_listen_address(address)
        if metrics_max_age is None:
            self.cache = MetricsCache(hooks.metrics, hooks.metrics_version)
        else:
            self.cache = MetricsCache(hooks.metrics, hooks.metrics_version, metrics_max_age)
        self._http = HttpServer(
            host, port, build_router(hooks, self.cache, lambda: self._http.security), security, limits
        )

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def http(self) -> HttpServer:
        return self._http

    @property
    def security(self) -> WebSecurity:
        return self._http.security

    def set_security(self, security: WebSecurity) -> None:
        self._http.set_security(security)

    def start(self) -> None:
        self._http.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._http.stop(timeout)
