"""The HTTP/1.1 server: one asyncio event loop on its own thread, h11 for the protocol, every
input bounded.

Why not the standard library, and which library: `ThreadingHTTPServer` spends a thread per
connection and its only timeout is per `recv`, so a client dripping a byte every few seconds,
or a thousand idle ones, hold threads forever (issue 16 measured 1,100 of them, 5.1 GB and no
Slack message for 11 minutes), and nothing caps connections. prometheus_client's own server is
that same class underneath. waitress serves no TLS, which `--web.config.file` needs. cheroot
and uvicorn bring a thread pool or an ASGI layer plus signal handling of their own, and neither
bounds the time to read a request's headers, only the gaps between reads. h11 (already installed
through httpx) does the HTTP/1.1 parsing and keep-alive rules, which are the part that is easy
to get wrong; asyncio holds the idle and half-sent connections at almost no cost (300 idle
connections are 300 parked coroutines), and deadlines are plain `asyncio.timeout`s.

Bounds, and what happens past each (`Limits`):
- connections: `max_connections` open at once; one more is answered 503 with
  `Connection: close` (plain HTTP) or closed (TLS) and counted.
- a new connection, and a request once its first byte arrived, must be read in full within
  `header_timeout` (TLS handshake included); else it is closed.
- a keep-alive connection waiting for its next request is closed after `idle_timeout`.
- headers larger than `max_header_bytes`: 431; a body larger than `max_body_bytes`: 413; both
  close the connection.
- a response must be written within `write_timeout` (written in chunks, so a slow reader holds
  at most one chunk of buffer); else the connection is closed.

Handlers never run on the event loop unless they are marked inline (cheap, lock-free ones such
as /-/healthy): the rest run on a few daemon threads, and /metrics renders on a thread of its
own, so a slow reload or a render never delays /-/healthy. `stop()` closes the listener and
every connection at once and does not wait for handlers: their threads are daemons, so the
interpreter exits without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import h11

from cdc_watch import __version__
from cdc_watch.web.security import ANONYMOUS, Principal, WebSecurity, peer_san_allowed

log = logging.getLogger(__name__)

SERVER_HEADER = f"cdc-watch/{__version__}".encode()


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 512
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    write_timeout: float = 30.0
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 64 * 1024
    handler_threads: int = 4
    write_chunk: int = 256 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes
    client: str
    principal: Principal = ANONYMOUS


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def text(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, message.encode(), headers=headers)


Handler = Callable[[Request], Response]
# Where a handler runs: "inline" on the event loop (never blocks), "render" on the one render
# thread, "pool" on the handler threads.
Runner = str


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    runner: Runner = "pool"
    methods: tuple[str, ...] = ("GET", "HEAD")


class Dispatcher:
    """What the server asks of the routing layer: the route for (method, path), or a reply."""

    def resolve(self, method: str, path: str) -> Route | Response:  # pragma: no cover - interface
        raise NotImplementedError


class DaemonPool:
    """A few daemon threads running blocking work for the event loop. Unlike
    ThreadPoolExecutor's threads, these never hold up interpreter exit."""

    def __init__(self, threads: int, name: str):
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((fn, future))
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


@dataclass
class Counters:
    connections_total: int = 0
    shed_total: int = 0
    timeouts_total: int = 0
    open: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


_SHED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 29\r\nConnection: close\r\n\r\nToo many connections; retry.\n"
)


class HttpServer:
    """Binds at construction (so a bad address fails before anything starts); serves from
    start() until stop()."""

    def __init__(
        self,
        host: str,
        port: int,
        dispatcher: Dispatcher,
        security: WebSecurity | None = None,
        limits: Limits | None = None,
    ):
        self.dispatcher = dispatcher
        self.security = security or WebSecurity()
        self.limits = limits or Limits()
        self.counters = Counters()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=256)
        self._sock.setblocking(False)
        self._port = int(self._sock.getsockname()[1])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._closing = False
        self._connections: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._pool: DaemonPool | None = None
        self._render: DaemonPool | None = None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        self._pool = DaemonPool(self.limits.handler_threads, "http-handler")
        self._render = DaemonPool(1, "http-render")
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 1.0) -> None:
        """Close the listener and every connection; wait up to `timeout` for the loop thread."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
            self._thread.join(timeout)
        else:
            self._sock.close()
        for pool in (self._pool, self._render):
            if pool is not None:
                pool.close()

    def set_security(self, security: WebSecurity) -> None:
        """Swap the security settings; when TLS changes, open connections are closed so none
        keeps talking under the old setting."""
        old, self.security = self.security, security
        if (old.context is None) != (security.context is None) or old.context is not security.context:
            loop = self._loop
            if loop is not None and self._thread.is_alive():
                loop.call_soon_threadsafe(self._abort_all)

    # ------------------------------------------------------------------ event loop
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception as exc:  # never expected; the log says the web server is gone
            log.error("web server loop failed", extra={"error": type(exc).__name__})
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._started.set()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._on_connection, sock=self._sock, limit=self.limits.max_header_bytes)
        self._started.set()
        await self._stopping.wait()
        self._closing = True
        # Stop accepting first and let accepts under way reach _on_connection (a few loop
        # turns), where _closing closes them: closing the server while one is under way makes
        # asyncio 3.11 drop that socket without closing it.
        asyncio.get_running_loop().remove_reader(self._sock.fileno())
        for _ in range(20):
            await asyncio.sleep(0)
        server.close()
        self._abort_all()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=0.5)
        for _ in range(5):  # the transports' close callbacks
            await asyncio.sleep(0)

    def _abort_all(self) -> None:
        for writer in list(self._connections):
            _hard_close(writer)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing:
            _hard_close(writer)
            return
        counters, limits = self.counters, self.limits
        counters.connections_total += 1
        security = self.security
        if counters.open >= limits.max_connections:
            counters.shed_total += 1
            if security.context is None:
                writer.write(_SHED)
                writer.close()
            else:
                writer.transport.abort()
            return
        counters.open += 1
        self._connections.add(writer)
        try:
            if security.context is not None:
                try:
                    await writer.start_tls(security.context, ssl_handshake_timeout=limits.header_timeout)
                except (TimeoutError, OSError, ConnectionError) as exc:
                    log.debug("TLS handshake failed", extra={"error": type(exc).__name__})
                    writer.transport.abort()
                    return
                allowed = security.config.tls_server_config.client_allowed_sans
                if allowed and not peer_san_allowed(writer.get_extra_info("peercert"), allowed):
                    log.info("client certificate SAN not allowed; connection closed")
                    writer.transport.abort()
                    return
            await self._serve(reader, writer)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            writer.transport.abort()
        except asyncio.CancelledError:  # stop(): end quietly (asyncio 3.11 logs a cancelled handler task)
            writer.transport.abort()
        finally:
            counters.open -= 1
            self._connections.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limits = self.limits
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        first_wait = limits.header_timeout
        while True:
            try:
                got = await self._read_request(conn, reader, first_wait)
            except TimeoutError:
                self.counters.timeouts_total += 1
                return
            except h11.RemoteProtocolError as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._send(conn, writer, None, text(exc.error_status_hint, "Bad request.\n"), close=True)
                return
            if got is None:
                return
            request_event, body = got
            if isinstance(body, Response):  # the body was over its cap
                await self._send(conn, writer, request_event, body, close=True)
                return
            response = await self._respond(request_event, body, client)
            keep = await self._send(conn, writer, request_event, response)
            if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
            first_wait = limits.idle_timeout

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, first_wait: float
    ) -> tuple[h11.Request, bytes | Response] | None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                wait = first_wait if deadline is None else max(0.0, deadline - loop.time())
                # Headers in small reads, so h11 sees an oversized head before it is all in memory.
                size = 65536 if request is not None else self.limits.max_header_bytes
                async with asyncio.timeout(wait):
                    data = await reader.read(size)
                if deadline is None:
                    deadline = loop.time() + self.limits.header_timeout
                conn.receive_data(data)
                continue
            if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                request = event
                if deadline is None:  # pipelined: already in h11's buffer
                    deadline = loop.time() + self.limits.header_timeout
                length = _header(event.headers, b"content-length")
                if length is not None and length.isdigit() and int(length) > self.limits.max_body_bytes:
                    return request, text(413, "Request body too large.\n")
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.limits.max_body_bytes and request is not None:
                    return request, text(413, "Request body too large.\n")
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                return request, bytes(body)

    async def _respond(self, event: h11.Request, body: bytes, client: str) -> Response:
        security = self.security
        method = event.method.decode("ascii", "replace")
        target = event.target.decode("ascii", "replace")
        path, _, query = target.partition("?")
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in event.headers}
        if not security.allow_request():
            return text(429, "Too many requests.\n")
        authorization = headers.get("authorization")
        principal: Principal | None = ANONYMOUS
        if authorization or security.requires_login:
            principal = await self._off_loop("pool", lambda: security.identify(authorization))
        if principal is None:
            return text(401, "Unauthorized.\n", (("WWW-Authenticate", 'Basic realm="cdc_watch"'),))
        route = self.dispatcher.resolve(method, path)
        if isinstance(route, Response):
            return route
        request = Request(method, path, query, headers, body, client, principal)
        try:
            inline = getattr(route.handler, "inline", None)  # a cheap answer first, e.g. a cached body
            if inline is not None:
                answer = inline(request)
                if answer is not None:
                    return answer
            if route.runner == "inline":
                return route.handler(request)
            return await self._off_loop(route.runner, lambda: route.handler(request))
        except Exception as exc:
            log.error("request failed", extra={"path": path, "error": type(exc).__name__})
            return text(500, "Internal error.\n")

    async def _off_loop(self, runner: Runner, fn: Callable[[], Any]) -> Any:
        pool = self._render if runner == "render" else self._pool
        assert pool is not None
        return await asyncio.wrap_future(pool.submit(fn))

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request | None,
        response: Response,
        close: bool = False,
    ) -> bool:
        """Write `response`; False when the connection must close afterwards."""
        self.counters.by_status[response.status] = self.counters.by_status.get(response.status, 0) + 1
        headers: list[tuple[bytes, bytes]] = [
            (b"Server", SERVER_HEADER),
            (b"Content-Type", response.content_type.encode()),
            (b"Content-Length", str(len(response.body)).encode()),
        ]
        headers += [(k.encode(), v.encode()) for k, v in response.headers]
        headers += [(k.encode(), v.encode()) for k, v in self.security.headers]
        if close:
            headers.append((b"Connection", b"close"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.write_timeout
        try:
            async with asyncio.timeout_at(deadline):
                writer.write(
                    conn.send(
                        h11.Response(status_code=response.status, headers=headers, reason=_reason(response.status))
                    )
                )
                if request is None or request.method != b"HEAD":
                    view = memoryview(response.body)
                    chunk = self.limits.write_chunk
                    for start in range(0, len(view), chunk):
                        piece = h11.Data(data=view[start : start + chunk])  # type: ignore[arg-type]  # bytes-like is enough
                        for part in conn.send_with_data_passthrough(piece) or ():
                            writer.write(part)
                        await writer.drain()
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
        except TimeoutError:
            self.counters.timeouts_total += 1
            _hard_close(writer)
            return False
        except h11.LocalProtocolError:
            writer.transport.abort()
            return False
        return not close and conn.our_state is h11.DONE


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


_LINGER_OFF = struct.pack("ii", 1, 0)


def _hard_close(writer: asyncio.StreamWriter) -> None:
    """Close at once with a reset, dropping whatever the kernel still holds for a slow reader
    (a plain close would keep sending it, maybe for minutes)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_OFF)
    writer.transport.abort()


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None
