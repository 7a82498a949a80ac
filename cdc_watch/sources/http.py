"""HTTP plumbing shared by the Connect REST and Jolokia sources.

Builds an httpx client from an `HttpEndpoint` section (basic auth sent pre-emptively, TLS,
timeouts) and turns every transport or protocol failure into a `SourceFailure` with a reason
from the closed set. Error messages carry the URL path and status, never bodies beyond a
short scrubbed excerpt, and never credentials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from cdc_watch import __version__
from cdc_watch.config import HttpEndpoint
from cdc_watch.model import ErrorReason, SourceFailure
from cdc_watch.redact import excerpt

USER_AGENT = f"cdc-watch/{__version__}"


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
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
        transport=transport,
    )


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: Any  # decoded JSON, or None for an empty body


def classify_transport_error(exc: httpx.HTTPError, where: str) -> SourceFailure:
    if isinstance(exc, httpx.ConnectTimeout):
        return SourceFailure(ErrorReason.TIMEOUT, f"{where}: timed out connecting", may_have_reached=False)
    if isinstance(exc, httpx.TimeoutException):
        return SourceFailure(ErrorReason.TIMEOUT, f"{where}: timed out")
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectError) and ("ssl" in text or "certificate" in text or "tls" in text):
        return SourceFailure(ErrorReason.TLS, f"{where}: TLS handshake failed", may_have_reached=False)
    if isinstance(exc, httpx.ConnectError):
        return SourceFailure(ErrorReason.CONNECT, f"{where}: cannot connect ({type(exc).__name__})", may_have_reached=False)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return SourceFailure(ErrorReason.CONNECT, f"{where}: connection broken ({type(exc).__name__})")
    return SourceFailure(ErrorReason.CONNECT, f"{where}: request failed ({type(exc).__name__})")


def decode_json(response: httpx.Response, where: str) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise SourceFailure(
            ErrorReason.DECODE,
            f"{where}: HTTP {response.status_code} with a non-JSON body: {excerpt(response.text, 120)}",
        ) from None


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    where: str,
    json_body: Any = None,
    params: Sequence[tuple[str, str]] | None = None,
) -> Reply:
    """One request; transport errors and 401/403 raise, other statuses are returned to the caller."""
    try:
        response = client.request(method, url, json=json_body, params=params)
    except httpx.HTTPError as exc:
        raise classify_transport_error(exc, where) from None
    if response.status_code in (401, 403):
        # Connect's basic-auth filter answers 401 with a plain-text body, not JSON.
        raise SourceFailure(ErrorReason.AUTH, f"{where}: HTTP {response.status_code} (check credentials)")
    if response.status_code >= 500 or response.status_code == 409:
        try:
            body = decode_json(response, where)
        except SourceFailure:
            body = None
        return Reply(response.status_code, body)
    return Reply(response.status_code, decode_json(response, where))


def error_message(reply: Reply) -> str:
    """The `message` of Connect's `{"error_code":..,"message":..}` body, scrubbed and short."""
    if isinstance(reply.body, dict) and isinstance(reply.body.get("message"), str):
        return excerpt(reply.body["message"], 160)
    return ""
