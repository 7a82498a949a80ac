"""`--web.config.file` end to end on a real TLS listener: certificates made here with
`cryptography`, passwords hashed with real bcrypt, requests from httpx and raw sockets.

Covers TLS on (plain HTTP refused), client certificates (required, verified, SAN-checked),
basic auth (right, wrong, missing, unknown user), the configured headers, the schema (unknown
keys with their location, unsupported settings named), the authorization of changes (token,
basic-auth user, loopback fallback) and the reload of the web config with the main config.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import httpx
import pytest

from cdc_watch.app import App
from cdc_watch.config import ConfigError
from cdc_watch.core.clock import FakeClock
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.web import WebHooks, WebServer
from cdc_watch.web.security import WebSecurity, load_web_config
from tests.support.pki import Pki, make_pki

PASSWORD = "s3cret-scrape-pw"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def hashed() -> str:
    # htpasswd writes $2y$; bcrypt writes $2b$: the file format takes both.
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)


def trust(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


def web_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


class Reloads:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> tuple[bool, list[str]]:
        self.calls += 1
        return True, []


@contextmanager
def serving(security: WebSecurity, reload: Reloads | None = None) -> Iterator[WebServer]:
    hooks = WebHooks(
        metrics=lambda: b"cdc_build_info 1\n",
        snapshot=Snapshot,
        config_summary=lambda: ("c.yaml", True),
        reload=reload or Reloads(),
        enable_lifecycle=True,
        metrics_version=lambda: 1,
    )
    server = WebServer("127.0.0.1:0", hooks, security)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def tls_config(pki: Pki, extra: str = "") -> str:
    return f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n{extra}"


def test_tls_serves_https_and_refuses_plain_http(pki, tmp_path):
    security = WebSecurity(load_web_config(web_config(tmp_path, tls_config(pki, "  min_version: TLS13\n"))))
    with serving(security) as server:
        reply = httpx.get(f"https://127.0.0.1:{server.port}/metrics", verify=trust(pki), timeout=10)
        assert reply.status_code == 200 and reply.text == "cdc_build_info 1\n"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        # TLS 1.2 is below min_version: the handshake fails.
        old = ssl.create_default_context(cafile=str(pki.ca))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{server.port}/metrics", verify=old, timeout=10)
        # Still serving after the failures.
        assert httpx.get(f"https://127.0.0.1:{server.port}/-/healthy", verify=trust(pki), timeout=10).status_code == 200


def client_context(pki: Pki, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def handshake_refused(port: int, context: ssl.SSLContext) -> bool:
    """True when the server refuses the client (its certificate) during or right after the
    handshake: with TLS 1.3 the refusal arrives with the first read."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
                return tls.recv(1024) == b""
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True


def test_client_certificates_required_verified_and_san_checked(pki, tmp_path):
    extra = (
        "  client_auth_type: RequireAndVerifyClientCert\n"
        f"  client_ca_file: {pki.ca}\n"
        "  client_allowed_sans: [scraper.test]\n"
    )
    security = WebSecurity(load_web_config(web_config(tmp_path, tls_config(pki, extra))))
    with serving(security) as server:
        url = f"https://127.0.0.1:{server.port}/metrics"
        good = client_context(pki, pki.client_cert, pki.client_key)
        assert httpx.get(url, verify=good, timeout=10).status_code == 200
        assert handshake_refused(server.port, client_context(pki, None, None))
        assert handshake_refused(server.port, client_context(pki, pki.other_client_cert, pki.other_client_key))
    # A SAN the list does not hold: verified, then closed.
    extra_other = extra.replace("[scraper.test]", "[someone.else]")
    security = WebSecurity(load_web_config(web_config(tmp_path, tls_config(pki, extra_other))))
    with serving(security) as server:
        assert handshake_refused(server.port, client_context(pki, pki.client_cert, pki.client_key))


def test_basic_auth_right_wrong_missing_and_unknown_user(pki, tmp_path, hashed):
    text = tls_config(pki) + f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    security = WebSecurity(load_web_config(web_config(tmp_path, text)))
    with serving(security) as server, httpx.Client(verify=trust(pki), timeout=10) as client:
        url = f"https://127.0.0.1:{server.port}/metrics"
        assert client.get(url, auth=("prometheus", PASSWORD)).status_code == 200
        assert client.get(url, auth=("prometheus", PASSWORD)).status_code == 200  # from the cache
        for auth in (("prometheus", "wrong"), ("nobody", PASSWORD), None):
            refused = client.get(url, auth=auth)
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
            assert b"cdc_build_info" not in refused.content
        assert client.get(f"https://127.0.0.1:{server.port}/-/healthy").status_code == 401  # every path
        garbage = client.get(url, headers={"Authorization": "Basic %%%not-base64"})
        assert garbage.status_code == 401


def test_configured_headers_are_sent_on_every_response(tmp_path):
    text = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    x-content-type-options: nosniff\n"
    with serving(WebSecurity(load_web_config(web_config(tmp_path, text)))) as server:
        for path in ("/metrics", "/nope"):
            reply = httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=10)
            assert reply.headers["x-frame-options"] == "deny" and reply.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tls_server_config:\n  cert_fil: x\n", "tls_server_config.cert_fil: unknown key"),
        ("basic_auth_user: {}\n", "basic_auth_user: unknown key"),
        (
            "http_server_config:\n  headers:\n    Server: x\n",
            "http_server_config.headers: header 'Server' cannot be set",
        ),
        ("http_server_config:\n  headers:\n    X-Frame-Options: always\n", "must be one of deny, sameorigin"),
        ("basic_auth_users:\n  alice: plain-text\n", "basic_auth_users: user 'alice': not a bcrypt hash"),
        ("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n", "is not supported"),
        ("tls_server_config:\n  client_auth_type: Sometimes\n", "tls_server_config.client_auth_type: Input should be"),
        ("tls_server_config:\n  min_version: TLS14\n", "tls_server_config.min_version: Input should be"),
        ("tls_server_config:\n  cipher_suites: [TLS_FOO]\n", "unknown cipher suite(s): TLS_FOO"),
        ("rate_limit:\n  interval: soon\n", "rate_limit.interval: invalid duration"),
    ],
)
def test_bad_web_configs_name_their_location(tmp_path, text, problem):
    with pytest.raises(ConfigError) as caught:
        load_web_config(web_config(tmp_path, text))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("", "tls_server_config.key_file: missing"),
        ("  key_file: /nonexistent/key.pem\n", "tls_server_config.cert_file: cannot load"),
    ],
)
def test_unusable_tls_material_is_a_config_problem(pki, tmp_path, extra, problem):
    text = f"tls_server_config:\n  cert_file: {pki.server_cert}\n{extra}"
    with pytest.raises(ConfigError) as caught:
        load_web_config(web_config(tmp_path, text))
    assert caught.value.problems[0].startswith(problem), caught.value.problems


def test_changes_need_the_token_or_a_user_and_loopback_only_when_neither_is_set(tmp_path, hashed):
    reloads = Reloads()
    with serving(WebSecurity(None, admin_token="tok-123"), reloads) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(base + "/metrics", timeout=10).status_code == 200  # reading needs nothing
        assert httpx.post(base + "/-/reload", timeout=10).status_code == 403  # loopback is not enough
        assert httpx.post(base + "/-/reload", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
        assert (
            httpx.post(base + "/-/reload", headers={"Authorization": "Bearer tok-123"}, timeout=10).status_code == 200
        )
        silence = {"matchers": {"connector": "x"}, "duration": "1h"}
        refused = httpx.post(base + "/api/v1/silences", json=silence, timeout=10)
        assert refused.status_code in (403, 404)  # no alerting in this server: 404 once authorized
        assert reloads.calls == 1
    text = f"basic_auth_users:\n  ops: '{hashed}'\n"
    with serving(WebSecurity(load_web_config(web_config(tmp_path, text)), admin_token="tok-123"), reloads) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.post(base + "/-/reload", auth=("ops", PASSWORD), timeout=10).status_code == 200
        assert (
            httpx.post(base + "/-/reload", headers={"Authorization": "Bearer tok-123"}, timeout=10).status_code == 200
        )
        assert httpx.post(base + "/-/reload", timeout=10).status_code == 401
        assert reloads.calls == 3
    with serving(WebSecurity(), reloads) as server:  # nothing configured: loopback may change
        assert httpx.post(f"http://127.0.0.1:{server.port}/-/reload", timeout=10).status_code == 200
    assert not WebSecurity().may_change(WebSecurity().identify(None), "10.0.0.5")  # type: ignore[arg-type]


def test_the_web_config_reloads_with_the_main_config(pki, tmp_path, hashed):
    config = tmp_path / "cdc-watch.yaml"
    config.write_text(
        "connect_clusters:\n  - url: http://127.0.0.1:9\n    poll_interval: 1h\n    offsets_interval: 1h\n"
    )
    web = web_config(tmp_path, "")
    app = App(config, "127.0.0.1:0", clock=FakeClock(), web_config_path=web)
    app.web.start()  # the web side only: no pollers needed here
    try:
        base = f"http://127.0.0.1:{app.web.port}"
        assert httpx.get(base + "/metrics", timeout=10).status_code == 200
        web.write_text(tls_config(pki) + f"basic_auth_users:\n  prometheus: '{hashed}'\n")
        assert app.reload() == (True, [])
        with pytest.raises(httpx.HTTPError):
            httpx.get(base + "/metrics", timeout=10)  # plain HTTP is refused now
        url = f"https://127.0.0.1:{app.web.port}/metrics"
        assert httpx.get(url, verify=trust(pki), timeout=10).status_code == 401
        assert httpx.get(url, verify=trust(pki), auth=("prometheus", PASSWORD), timeout=10).status_code == 200
        web.write_text("tls_server_config:\n  bogus: 1\n")
        ok, problems = app.reload()
        assert not ok and problems == [f"{web}: tls_server_config.bogus: unknown key"]
        assert httpx.get(url, verify=trust(pki), auth=("prometheus", PASSWORD), timeout=10).status_code == 200
    finally:
        app.stop()
