"""HTTP plumbing shared by the Connect REST and Jolokia sources.

Builds an httpx client from an `HttpEndpoint` section (basic auth sent pre-emptively, TLS,
timeouts) and turns every transport or protocol failure into a `SourceFailure` with a reason
from the closed set. Error messages carry the URL path and status, never bodies beyond a
short scrubbed excerpt, and never credentials.

httpx applies a timeout to each phase (connect, every read, every write), so a server that
trickles its reply can hold one request for many times the timeout. Requests made here have
an overall deadline instead: the client's network streams clamp every socket operation to
the time left (`request_json(..., deadline=...)`, the endpoint's `timeout` by default).

Replies are bounded before they are in memory: the body is streamed and reading stops at the
endpoint's `max_reply_size` (a larger `Content-Length` is refused before reading), counting
decoded bytes, so a gzip reply cannot inflate past the cap either (gzip is inflated here, in
bounded steps, instead of by httpx, which inflates a whole network chunk at once). Past the cap
the request fails with reason `too_large`. JSON nested deeper than CPython's recursion limit
(1,000 levels by default) fails with `decode`; an integer of more digits than Python converts
(4,300 by default) is read as an infinity, and a number literal too large for a float reads as
an infinity anyway, so the parsers can skip and count that one value instead of failing the
reply. The literals `NaN`, `Infinity` and `-Infinity` are read as NaN (no sample), which keeps
every infinity the parsers see an absurd value.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from cdc_watch import __version__
from cdc_watch.config import DEFAULT_MAX_REPLY_SIZE, HttpEndpoint
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.redact import excerpt

USER_AGENT = f"cdc-watch/{__version__}"
DEADLINE = "cdc_watch.deadline"  # request extension: monotonic time by which it must be done


class _Deadline(threading.local):
    """The deadline of the request the current thread is making on one client."""

    at: float | None = None

    def clamp(self, timeout: float | None, expired: type[Exception]) -> float | None:
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise expired("request deadline exceeded")
        return left if timeout is None else min(timeout, left)


READ_CHUNK = 1 << 20  # bytes asked of the socket per read


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline):
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # httpcore asks for 64 KiB at a time; larger reads halve the CPU of fetching a large
        # reply (8,000 FAILED connectors, 96 MiB: 330 -> 160 ms), since h11's per-read costs dominate.
        return self._stream.read(max(max_bytes, READ_CHUNK), self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(
            ssl_context, server_hostname, self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline):
        self._backend = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, timeout, local_address, socket_options), self._deadline
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options), self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport on a network backend that honours the `DEADLINE` extension."""

    def __init__(self, ssl_context: ssl.SSLContext):
        super().__init__(verify=ssl_context)
        self._deadline = _Deadline()
        # httpx does not take a network backend; its pool does (httpx's default limits).
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(self._deadline),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The body is read on this thread after this returns, so the deadline stays set
        # until this thread's next request through this transport.
        self._deadline.at = request.extensions.get(DEADLINE)
        return super().handle_request(request)


def build_client(endpoint: HttpEndpoint, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    # Always a context of our own: `verify: false` must still present the client certificate.
    verify = endpoint.tls.ssl_context()
    auth = None
    if endpoint.auth is not None:
        auth = httpx.BasicAuth(endpoint.auth.username, endpoint.auth.password.get_secret_value())
    return httpx.Client(
        auth=auth,
        verify=verify,
        timeout=httpx.Timeout(endpoint.timeout),
        # Only gzip: the encoding `read_body` inflates with a bound (httpx would take br/zstd too).
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "gzip"},
        follow_redirects=False,
        transport=transport or _DeadlineTransport(verify),
    )


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: Any  # decoded JSON, or None for an empty body
    # The text may hold a number no float can hold (`may_hold_absurd_numbers`); only computed
    # when the request asked for it, else True (cannot tell).
    absurd_numbers: bool = True


def classify_transport_error(exc: httpx.HTTPError, where: str) -> SourceFailure:
    if isinstance(exc, httpx.ConnectTimeout):
        return SourceFailure(ErrorReason.TIMEOUT, f"{where}: timed out connecting", may_have_reached=False)
    if isinstance(exc, httpx.TimeoutException):
        return SourceFailure(ErrorReason.TIMEOUT, f"{where}: timed out")
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectError) and ("ssl" in text or "certificate" in text or "tls" in text):
        return SourceFailure(ErrorReason.TLS, f"{where}: TLS handshake failed", may_have_reached=False)
    if isinstance(exc, httpx.ConnectError):
        return SourceFailure(
            ErrorReason.CONNECT, f"{where}: cannot connect ({type(exc).__name__})", may_have_reached=False
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return SourceFailure(ErrorReason.CONNECT, f"{where}: connection broken ({type(exc).__name__})")
    return SourceFailure(ErrorReason.CONNECT, f"{where}: request failed ({type(exc).__name__})")


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size} bytes"


def _too_large(where: str, limit: int, detail: str) -> SourceFailure:
    return SourceFailure(ErrorReason.TOO_LARGE, f"{where}: reply {detail} the cap of {_mib(limit)} (max_reply_size)")


def read_body(response: httpx.Response, limit: int, where: str) -> bytes | bytearray:
    """The decoded body of a streamed response, refused with `too_large` past `limit` bytes.

    At most `limit` + one network read (`READ_CHUNK`) is ever held: gzip is inflated in steps that
    each stop at the room left."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(where, limit, f"announces {_mib(int(declared))}, over")
    if response.is_stream_consumed:  # built in memory already (httpx.MockTransport), and decoded
        if len(response.content) > limit:
            raise _too_large(where, limit, "goes past")
        return response.content
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflate = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
    elif encoding not in ("", "identity"):
        raise SourceFailure(ErrorReason.DECODE, f"{where}: unsupported Content-Encoding {excerpt(encoding, 40)!r}")
    body = bytearray()
    try:
        for chunk in response.iter_raw():
            if inflate is None:
                body += chunk
            else:
                while chunk and len(body) <= limit:
                    body += inflate.decompress(chunk, limit + 1 - len(body))  # room >= 1 (0 = unbounded)
                    chunk = inflate.unconsumed_tail
            if len(body) > limit:
                raise _too_large(where, limit, "goes past")
        if inflate is not None:
            body += inflate.flush()
    except zlib.error:
        raise SourceFailure(
            ErrorReason.DECODE, f"{where}: HTTP {response.status_code} with a corrupt gzip body"
        ) from None
    if len(body) > limit:
        raise _too_large(where, limit, "goes past")
    return body  # not copied: json.loads reads a bytearray as it is


# Byte classes for `may_hold_absurd_numbers`: digits -> "0", e/E -> "e", what may follow a JSON
# number (, ] } and white space) -> ",", "+" dropped, anything else -> "z".
_NUMBER_SHAPES = bytes(
    ord("0") if 0x30 <= b <= 0x39 else ord("e") if b in b"eE" else ord(",") if b in b",]} \t\r\n" else ord("z")
    for b in range(256)
)
_LONG_EXPONENT = 13  # exponent digits that count whatever follows them


def may_hold_absurd_numbers(content: bytes | bytearray) -> bool:
    """Whether JSON text may hold a number no float can hold: a run of 309 or more digits (an
    integer past 1.8e308) or a number with an exponent of three or more digits (1e400).

    Cheap (10 ms for a 5.4 MB Jolokia reply, against 41 ms to decode it) and rarely wrong: text
    inside a string hits only when it looks the same, digits then e and three digits then a
    comma, bracket or space (hex in a GTID set's UUID is followed by more hex, - or :); a hit
    only costs the parser a closer look."""
    shapes = content.translate(_NUMBER_SHAPES, b"+")
    if b"0" * 309 in shapes:
        return True
    at = shapes.find(b"0e000")
    while at >= 0:
        end = at + 5
        while end < len(shapes) and shapes[end] == 0x30:  # the rest of the exponent (short)
            end += 1
        if end == len(shapes) or shapes[end] == 0x2C or end - at - 2 >= _LONG_EXPONENT:
            return True
        at = shapes.find(b"0e000", end)
    return False


def _nan(_literal: str) -> float:
    return float("nan")


def _int_or_infinity(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return float("-inf") if text.startswith("-") else float("inf")


def parse_json(content: bytes | bytearray, status: int, where: str) -> Any:
    """JSON text -> value; not JSON, or nested too deep -> `decode` (see the module docstring)."""
    if not content:
        return None
    try:
        try:
            return json.loads(content, parse_constant=_nan)
        except ValueError as exc:
            if isinstance(exc, UnicodeDecodeError):
                raise
            # Rarely taken: an integer over the digit limit fails the fast parse; read it as infinity.
            return json.loads(content, parse_constant=_nan, parse_int=_int_or_infinity)
    except RecursionError:
        raise SourceFailure(
            ErrorReason.DECODE,
            f"{where}: HTTP {status} with JSON nested deeper than {sys.getrecursionlimit()} levels",
        ) from None
    except (ValueError, UnicodeDecodeError):
        text = content[:480].decode("utf-8", "replace")
        raise SourceFailure(
            ErrorReason.DECODE, f"{where}: HTTP {status} with a non-JSON body: {excerpt(text, 120)}"
        ) from None


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    where: str,
    json_body: Any = None,
    params: Sequence[tuple[str, str]] | None = None,
    deadline: float | None = None,
    max_bytes: int = DEFAULT_MAX_REPLY_SIZE,
    scan_numbers: bool = False,
    decode: Callable[[bytes | bytearray, str], Any] | None = None,
) -> Reply:
    """One request, done by `deadline` (monotonic; default: the client's timeout from now),
    its reply at most `max_bytes` (decoded). `scan_numbers` fills `Reply.absurd_numbers`.

    Transport errors, the deadline, the size cap and 401/403 raise; other statuses are returned
    to the caller.
    `decode(body, where)` replaces the JSON decoding of a 2xx body (a source's own decoder).
    """
    timeout: Any = httpx.USE_CLIENT_DEFAULT
    if deadline is None:
        deadline = time.monotonic() + (client.timeout.read or 10.0)
    else:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SourceFailure(ErrorReason.TIMEOUT, f"{where}: no time left for the request", may_have_reached=False)
        timeout = httpx.Timeout(left)  # also bounds waiting for a pooled connection
    try:
        with client.stream(
            method,
            url,
            json=json_body,
            params=list(params) if params is not None else None,
            timeout=timeout,
            extensions={DEADLINE: deadline},
        ) as response:
            status = response.status_code
            if status in (401, 403):
                # Connect's basic-auth filter answers 401 with a plain-text body, not JSON.
                raise SourceFailure(ErrorReason.AUTH, f"{where}: HTTP {status} (check credentials)")
            content = read_body(response, max_bytes, where)
    except httpx.HTTPError as exc:
        raise classify_transport_error(exc, where) from None
    if status >= 500 or status == 409:
        try:
            body = parse_json(content, status, where)
        except SourceFailure:
            body = None
        return Reply(status, body)
    if decode is not None and 200 <= status < 300:
        return Reply(status, decode(content, where))
    absurd = may_hold_absurd_numbers(content) if scan_numbers else True
    return Reply(status, parse_json(content, status, where), absurd)


def error_message(reply: Reply) -> str:
    """The `message` of Connect's `{"error_code":..,"message":..}` body, scrubbed and short."""
    if isinstance(reply.body, dict) and isinstance(reply.body.get("message"), str):
        return excerpt(reply.body["message"], 160)
    return ""
