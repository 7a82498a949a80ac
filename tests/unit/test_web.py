"""The web server's bounds and caching, against misbehaving clients on raw sockets: idle and
half-sent connections closed after their timeout, the connection cap shedding the excess,
oversized requests refused, keep-alive, gzip negotiation, the body rendered once per version,
/-/healthy answering while a render hangs, and stop() closing every connection.

Timeouts are set small (fractions of a second) so the server closes quickly; the tests wait for
the close with generous deadlines and never assert how long anything took.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from cdc_watch.core.snapshot import Snapshot
from cdc_watch.web import Limits, WebHooks, WebServer
from cdc_watch.web.cache import accepts_gzip

BODY = b"".join(f'cdc_demo{{connector="c{i:05d}"}} {i}\n'.encode() for i in range(20000))
FAST = Limits(header_timeout=1.0, idle_timeout=1.0, write_timeout=5.0)
PATIENT = Limits(header_timeout=10, idle_timeout=10, write_timeout=10)


class Renders:
    """A metrics hook that counts its calls and can be held (a render hung in flight)."""

    def __init__(self, body: bytes = BODY) -> None:
        self.body = body
        self.calls = 0
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.version = 1

    def __call__(self) -> bytes:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30)
        return self.body


def hooks_with(renders: Renders) -> WebHooks:
    return WebHooks(
        metrics=renders,
        snapshot=Snapshot,
        config_summary=lambda: ("c.yaml", True),
        reload=lambda: (True, []),
        metrics_version=lambda: renders.version,
    )


@contextmanager
def serving(renders: Renders | None = None, limits: Limits = FAST) -> Iterator[WebServer]:
    server = WebServer("127.0.0.1:0", hooks_with(renders or Renders()), limits=limits)
    server.start()
    try:
        yield server
    finally:
        renders_ = renders
        if renders_ is not None:
            renders_.release.set()
        server.stop()


@pytest.fixture(autouse=True)
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    _OPENED.append(opened)
    yield opened
    _OPENED.remove(opened)
    for sock in opened:
        sock.close()


_OPENED: list[list[socket.socket]] = []  # the current test's client sockets, closed after it


def connect(server: WebServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    _OPENED[-1].append(sock)
    return sock


def closed_by_server(sock: socket.socket, deadline: float = 10.0) -> bool:
    """True once the server closed `sock` (EOF or reset), reading and discarding anything sent."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ready, _, _ = select.select([sock], [], [], end - time.monotonic())
        if not ready:
            break
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def read_response(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """One response from `sock`: (status line, headers, body) with Content-Length framing."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before the headers: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside the body"
        rest += chunk
    return status, headers, rest[:length]


def wait_until(condition, what: str, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    flag = threading.Event()
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        flag.wait(0.01)


def test_keep_alive_serves_several_requests_on_one_connection():
    with serving() as server:
        sock = connect(server)
        for _ in range(3):
            sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _headers, body = read_response(sock)
            assert status == b"HTTP/1.1 200 OK" and body == b"Healthy.\n"
        assert server.http.counters.connections_total == 1
        sock.close()


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected and silent
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n",  # headers never finished
    ],
)
def test_silent_and_half_sent_connections_are_closed_after_the_header_timeout(sent):
    renders = Renders()
    with serving(renders) as server:
        sock = connect(server)
        sock.sendall(sent)
        assert closed_by_server(sock)
        assert renders.calls == 0  # a request never completed is never rendered for
        assert server.http.counters.timeouts_total == 1


def test_a_drip_fed_request_is_closed_although_every_byte_comes_in_time():
    with serving() as server:
        sock = connect(server)
        closed = False
        for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            ready, _, _ = select.select([sock], [], [], 0.02)  # the drip's pace; ends early on a close
            if ready and not sock.recv(1024):
                closed = True
                break
        assert closed, "the server kept a drip-fed request open past its header deadline"


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout():
    with serving() as server:
        sock = connect(server)
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == b"HTTP/1.1 200 OK"
        assert closed_by_server(sock)


def test_the_connection_cap_sheds_the_excess_with_503_and_admits_again_once_one_closes():
    limits = Limits(max_connections=3, header_timeout=30, idle_timeout=30)
    with serving(limits=limits) as server:
        held = [connect(server) for _ in range(3)]
        wait_until(lambda: server.http.counters.open == 3, "3 open connections")
        extra = connect(server)
        status, headers, _body = read_response(extra)
        assert status == b"HTTP/1.1 503 Service Unavailable" and headers["connection"] == "close"
        assert closed_by_server(extra)
        assert server.http.counters.shed_total == 1
        held.pop().close()
        wait_until(lambda: server.http.counters.open == 2, "a slot freed")
        sock = connect(server)
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == b"HTTP/1.1 200 OK"
        for s in [*held, sock]:
            s.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", b"431"),
        (b"POST /api/v1/silences HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", b"413"),
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
    ],
)
def test_oversized_or_broken_requests_are_refused_and_closed(request_bytes, status):
    with serving() as server:
        sock = connect(server)
        sock.sendall(request_bytes)
        line, _, _ = read_response(sock)
        assert line.split(b" ")[1] == status
        assert closed_by_server(sock)


def test_gzip_is_negotiated_and_both_encodings_carry_the_same_body():
    with (
        serving(limits=PATIENT) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client,
    ):
        plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
        packed = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
        refused = client.get("/metrics", headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert "content-encoding" not in plain.headers and plain.content == BODY
        assert packed.headers["content-encoding"] == "gzip" and packed.content == BODY
        assert int(packed.headers["content-length"]) < len(BODY) / 5
        assert "content-encoding" not in refused.headers and refused.content == BODY
        assert packed.headers["vary"] == "Accept-Encoding"
    assert accepts_gzip("deflate, gzip;q=0.5") and not accepts_gzip("br") and not accepts_gzip("gzip;q=0")


def test_the_body_is_rendered_once_per_version_and_compressed_once_for_many_scrapers():
    renders = Renders()
    renders.release.clear()  # every scraper arrives while the first render is still running
    with serving(renders, PATIENT) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        results: list[bytes] = []

        def scrape(encoding: str) -> None:
            results.append(httpx.get(url, headers={"Accept-Encoding": encoding}, timeout=20).content)

        threads = [threading.Thread(target=scrape, args=("gzip" if i % 2 else "identity",)) for i in range(20)]
        for t in threads:
            t.start()
        assert renders.entered.wait(10)
        renders.release.set()
        for t in threads:
            t.join(20)
        assert len(results) == 20 and all(r == BODY for r in results)
        assert renders.calls == 1 and server.cache.compressions == 1
        renders.version = 2  # a new snapshot
        assert httpx.get(url, timeout=10).content == BODY
        assert renders.calls == 2


def test_healthy_answers_while_a_render_hangs_and_a_scrape_waits_for_it():
    renders = Renders()
    renders.release.clear()
    with serving(renders, Limits(header_timeout=5, idle_timeout=5, write_timeout=5)) as server:
        base = f"http://127.0.0.1:{server.port}"
        waiting = threading.Thread(target=lambda: httpx.get(base + "/metrics", timeout=30), daemon=True)
        waiting.start()
        assert renders.entered.wait(10)
        assert httpx.get(base + "/-/healthy", timeout=5).status_code == 200
        assert httpx.get(base + "/", timeout=5).status_code == 200  # handler threads are not the render thread
        renders.release.set()
        waiting.join(10)


def test_stop_closes_idle_half_sent_and_slow_reading_connections_and_ends_the_thread():
    big = Renders(BODY * 20)  # ~13 MB: a client that never reads keeps the write pending
    with serving(big, Limits(header_timeout=60, idle_timeout=60, write_timeout=60)) as server:
        idle = connect(server)
        idle.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(idle)
        half = connect(server)
        half.sendall(b"GET /metrics HTTP/1.1\r\n")
        slow = connect(server)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: big.calls == 1 and server.http.counters.open == 3, "three connections, one render")
        server.stop()
        assert not server.http._thread.is_alive()
        for sock in (idle, half, slow):
            assert closed_by_server(sock)
            sock.close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2)


def test_unknown_paths_and_methods():
    with serving() as server, httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        assert client.get("/nope").status_code == 404
        wrong = client.post("/metrics")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"
        head = client.head("/metrics", headers={"Accept-Encoding": "identity"})
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == len(BODY)
