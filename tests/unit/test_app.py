"""The composition root and its HTTP endpoints, run against loopback fakes of Kafka Connect fed
with recorded replies: readiness, the landing page, reload (good, rejected, failing to build),
the lifecycle API, the shutdown budget with a poll hung in flight, and no connector password
reaching /metrics, the landing page or the log.

Waits are on conditions the daemon signals (a poll result, a request reaching a fake), never a
fixed sleep; the fake clock keeps timestamps fixed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from cdc_watch import __version__, cli
from cdc_watch import app as app_module
from cdc_watch.app import STOP_BUDGET_SECONDS, App
from cdc_watch.core.clock import FakeClock
from cdc_watch.web import WebHooks, WebServer
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body

EXPAND = "/connectors?expand=status&expand=info"
SECRET = "Rec0rded-Db-Pw-77"  # put in a recorded reply as the connector's database.password


class Polled:
    """A result hook that lets a test wait for poll results."""

    def __init__(self) -> None:
        self.results: list = []
        self._cond = threading.Condition()

    def __call__(self, result, _snapshot) -> None:
        with self._cond:
            self.results.append(result)
            self._cond.notify_all()

    def wait_for(self, sources: set[str], timeout: float = 10.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: sources <= {r.source for r in self.results}, timeout)
        assert ok, f"no poll result from {sources - {r.source for r in self.results}}"


def serve_connect(fake: FakeHTTP, expanded: str = "connectors_expand_healthy", root: Reply | None = None) -> dict:
    reply = body("connect", expanded)
    fake.route("GET", "/", root or Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, Reply(200, reply))
    for name in reply:
        fake.route("GET", f"/connectors/{name}/offsets", Reply(200, body("connect", "connector_offsets_running")))
    return reply


def write_config(path: Path, url: str, name: str = "prod", extra: str = "") -> Path:
    path.write_text(
        f"connect_clusters:\n  - name: {name}\n    url: {url}\n    timeout: 30s\n"
        f"    poll_interval: 1h\n    offsets_interval: 1h\n{extra}poll_jitter: 0\n"
    )
    return path


@pytest.fixture
def connect():
    with FakeHTTP() as fake:
        yield fake
    assert not fake.unexpected, [(s.method, s.path) for s in fake.unexpected]


@pytest.fixture
def make_app(tmp_path):
    started: list[App] = []

    def make(url: str, lifecycle: bool = False, extra: str = "") -> tuple[App, Polled]:
        polled = Polled()
        app = App(
            write_config(tmp_path / "cdc-watch.yaml", url, extra=extra),
            "127.0.0.1:0",
            clock=FakeClock(),
            enable_lifecycle=lifecycle,
            on_result=polled,
        )
        started.append(app)
        return app, polled

    yield make
    for app in started:
        app.stop()


def get(app: App, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{app.web.port}{path}", timeout=5)


def post(app: App, path: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{app.web.port}{path}", timeout=10)


def sample(app: App, line_start: str) -> str:
    lines = [line for line in get(app, "/metrics").text.splitlines() if line.startswith(line_start)]
    assert len(lines) == 1, lines
    return lines[0].rsplit(" ", 1)[1]


def alive(app: App) -> list[str]:
    return sorted(p.source.name for p in app._pollers if p._thread is not None and p._thread.is_alive())


def test_ready_goes_from_503_to_200_once_every_source_has_polled(connect, make_app):
    gate = threading.Event()
    serve_connect(connect, root=Reply(200, body("connect", "root"), gate=gate))
    app, polled = make_app(connect.url)
    app.start()
    assert get(app, "/-/healthy").status_code == 200
    ready = get(app, "/-/ready")
    assert ready.status_code == 503 and "not every source" in ready.text
    gate.set()
    polled.wait_for({"connect:prod", "connect_offsets:prod"})
    assert get(app, "/-/ready").status_code == 200
    # The offsets source waited for the Connect poll instead of failing before it.
    assert all(r.ok for r in polled.results), [r.error for r in polled.results]


def test_landing_page_shows_version_config_and_every_source(connect, make_app):
    serve_connect(connect)
    app, polled = make_app(connect.url)
    app.start()
    polled.wait_for({"connect:prod", "connect_offsets:prod"})
    page = get(app, "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"cdc_watch {__version__}" in html
    assert str(app.config_path) in html and "(loaded)" in html
    for source, kind in (("connect:prod", "connect"), ("connect_offsets:prod", "connect_offsets")):
        assert f"<td>{source}</td><td>{kind}</td><td class='ok'>up</td>" in html


def test_reload_switches_to_the_new_config(connect, make_app):
    serve_connect(connect)
    app, polled = make_app(connect.url)
    app.start()
    polled.wait_for({"connect:prod", "connect_offsets:prod"})
    old = list(app._pollers)
    with FakeHTTP() as dr:
        serve_connect(dr, "connectors_expand_two_workers")
        write_config(app.config_path, dr.url, name="dr")
        assert app.reload() == (True, [])
        polled.wait_for({"connect:dr", "connect_offsets:dr"})
        assert sorted(app.store.current().sources) == ["connect:dr", "connect_offsets:dr"]
        assert all(p._thread is not None and not p._thread.is_alive() for p in old)
        assert [c.name for c in app.config.connect_clusters] == ["dr"]
        assert sample(app, "cdc_config_last_reload_successful") == "1"
        assert not dr.unexpected
        app.stop()


@pytest.mark.parametrize("how", ["invalid-file", "unusable-tls", "sources-fail"])
def test_a_failed_reload_keeps_the_old_pollers_and_says_so(connect, make_app, monkeypatch, caplog, tmp_path, how):
    serve_connect(connect)
    app, polled = make_app(connect.url)
    app.start()
    polled.wait_for({"connect:prod", "connect_offsets:prod"})
    before, config = list(app._pollers), app.config
    if how == "invalid-file":
        app.config_path.write_text("connect_clusters:\n  - url: http://x\n    bogus: 1\n")
    elif how == "unusable-tls":
        bad = tmp_path / "ca.pem"
        bad.write_text("not a certificate\n")
        write_config(app.config_path, connect.url.replace("http:", "https:"), extra="")
        app.config_path.write_text(
            app.config_path.read_text().replace("    timeout: 30s\n", "    timeout: 30s\n    tls: {ca_file: ca.pem}\n")
        )
    else:

        def broken(*_args, **_kwargs):
            raise ssl.SSLError(336265225, "[SSL] PEM lib")

        monkeypatch.setattr(app_module, "build_sources", broken)
    with caplog.at_level(logging.ERROR, logger="cdc_watch.app"):
        ok, problems = app.reload()
    assert not ok and problems
    if how == "invalid-file":
        assert problems == ["connect_clusters[0].bogus: unknown key"]
    elif how == "unusable-tls":
        assert (
            problems[0].startswith("connect_clusters[prod].tls.ca_file:")
            and "not a usable PEM CA bundle" in problems[0]
        )
    else:
        assert problems[0].startswith("cannot build the sources of the new configuration: SSLError")
    assert app._pollers == before and alive(app) == ["connect:prod", "connect_offsets:prod"]
    assert app.config is config
    assert sample(app, "cdc_config_last_reload_successful") == "0"
    assert "last reload FAILED, previous configuration in use" in get(app, "/").text
    assert caplog.text.count("configuration reload rejected") == 1


def test_post_reload_needs_the_lifecycle_flag(connect, make_app):
    serve_connect(connect)
    app, _ = make_app(connect.url, lifecycle=False)
    app.start()
    refused = post(app, "/-/reload")
    assert refused.status_code == 403 and "--web.enable-lifecycle" in refused.text


def test_post_reload_with_the_lifecycle_flag(connect, make_app):
    serve_connect(connect)
    app, polled = make_app(connect.url, lifecycle=True)
    app.start()
    polled.wait_for({"connect:prod", "connect_offsets:prod"})
    assert post(app, "/-/reload").status_code == 200
    app.config_path.write_text("connect_clusters: []\n")
    rejected = post(app, "/-/reload")
    assert rejected.status_code == 500 and "connect_clusters:" in rejected.text
    assert alive(app) == ["connect:prod", "connect_offsets:prod"]


def test_post_reload_answers_even_when_reload_raises():
    def reload():
        raise RuntimeError("boom with secret-ish detail")

    server = WebServer(
        "127.0.0.1:0",
        WebHooks(
            metrics=lambda: b"",
            snapshot=lambda: None,
            config_summary=lambda: ("c", True),
            reload=reload,
            enable_lifecycle=True,
        ),
    )
    server.start()
    try:
        reply = httpx.post(f"http://127.0.0.1:{server.port}/-/reload", timeout=5)
        assert reply.status_code == 500 and "internal error" in reply.text and "boom" not in reply.text
        assert httpx.get(f"http://127.0.0.1:{server.port}/-/healthy", timeout=5).status_code == 200
    finally:
        server.stop()


def wait_for_request(fake: FakeHTTP, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not fake.requests and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert fake.requests, "no request reached the fake"


def test_stop_finishes_within_the_budget_with_a_poll_and_a_slack_webhook_hung(connect, make_app, monkeypatch):
    hung = threading.Event()  # never set: both requests stay in flight
    serve_connect(connect, root=Reply(200, body("connect", "root"), gate=hung))
    with FakeHTTP() as slack:
        slack.route("POST", "/hook", Reply(200, "ok", content_type="text/plain", gate=hung))
        monkeypatch.setenv("CW_TEST_SLACK_URL", f"{slack.url}/hook")
        app, _ = make_app(
            connect.url, extra='alerting:\n  slack: {webhook_url: "${CW_TEST_SLACK_URL}", timeout: 30s}\n'
        )
        app.start()
        wait_for_request(connect)
        notice = type(
            "Notice",
            (),
            {
                "cluster": "prod",
                "connector": "inventory-connector",
                "outcome": "restarted",
                "text": lambda self: "restarted",
            },
        )()
        app.alerting.notify_remediation(notice)
        wait_for_request(slack)
        t0 = time.monotonic()
        app.stop()
        elapsed = time.monotonic() - t0
    assert elapsed < 5.0, f"stop took {elapsed:.1f}s"
    assert elapsed >= STOP_BUDGET_SECONDS - 0.5  # it did wait for the work in flight, within the budget
    with pytest.raises(httpx.HTTPError):
        get(app, "/-/healthy")  # the web server is down


def test_no_connector_password_reaches_metrics_the_landing_page_or_the_log(connect, make_app, caplog):
    reply = serve_connect(connect, "connectors_expand_failed_task_non_retriable")
    for entry in reply.values():
        entry["info"]["config"]["database.password"] = SECRET
        for task in entry["status"]["tasks"]:
            if task.get("trace"):
                task["trace"] += f"\nCaused by: Access denied (using password {SECRET}) password={SECRET}"
    connect.route("GET", EXPAND, Reply(200, reply))
    name = next(iter(reply))
    # An error body that echoes the password, as a misbehaving proxy or worker might.
    connect.route(
        "GET",
        f"/connectors/{name}/offsets",
        Reply(500, {"error_code": 500, "message": f"cannot read offsets: password={SECRET}"}),
    )
    # Offsets are read for connectors of a configured database (nothing listens on port 9).
    database = "databases:\n  - {name: db, host: 127.0.0.1, port: 9, user: u, connectors: ['*'], poll_interval: 1h}\n"
    app, polled = make_app(connect.url, extra=database)
    with caplog.at_level(logging.DEBUG):
        app.start()
        polled.wait_for({"connect:prod", "connect_offsets:prod"})
        metrics, page = get(app, "/metrics").text, get(app, "/").text
        app.stop()
    assert 'state="FAILED"} 1' in metrics  # the reply was read
    records = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "offsets not read" in records
    for where, text in (("/metrics", metrics), ("landing page", page), ("log", records)):
        assert SECRET not in text, where


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_the_run_loop_survives_a_failing_reload_and_stops_on_sigterm(connect, make_app, restore_signals, monkeypatch):
    serve_connect(connect)
    app, polled = make_app(connect.url)
    reloaded = threading.Event()

    def reload():
        reloaded.set()
        raise RuntimeError("reload blew up")

    monkeypatch.setattr(app, "reload", reload)

    def signals() -> None:
        polled.wait_for({"connect:prod"})
        os.kill(os.getpid(), signal.SIGHUP)
        assert reloaded.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=signals, daemon=True)
    sender.start()
    app.run_until_signalled()  # returns only after SIGTERM, despite the reload raising
    sender.join(5)
    assert reloaded.is_set() and app._stopped.is_set()


def test_run_exits_2_when_the_sources_cannot_be_built(connect, tmp_path, monkeypatch, restore_signals):
    def broken(*_args, **_kwargs):
        raise ssl.SSLError(336265225, "[SSL] PEM lib")

    monkeypatch.setattr(app_module, "build_sources", broken)
    args = cli.build_parser().parse_args(
        [
            "run",
            "--config.file",
            str(write_config(tmp_path / "c.yaml", connect.url)),
            "--web.listen-address",
            "127.0.0.1:0",
        ]
    )
    assert cli.run(args) == cli.EXIT_CONFIG


def test_run_exits_2_on_an_unusable_ca_file(tmp_path, restore_signals):
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    config = tmp_path / "c.yaml"
    config.write_text("connect_clusters:\n  - url: https://127.0.0.1:1\n    tls: {ca_file: ca.pem}\n")
    args = cli.build_parser().parse_args(["run", "--config.file", str(config), "--web.listen-address", "127.0.0.1:0"])
    assert cli.run(args) == cli.EXIT_CONFIG


def test_ready_stays_503_while_a_source_has_only_failed(connect, make_app):
    connect.route("GET", "/", Reply(500, {"error_code": 500, "message": "worker starting"}))
    app, polled = make_app(connect.url)
    app.start()
    polled.wait_for({"connect:prod"})
    assert not polled.results[0].ok  # polled, but never successfully
    assert get(app, "/-/healthy").status_code == 200
    ready = get(app, "/-/ready")
    assert ready.status_code == 503 and "polled successfully" in ready.text


def test_sigterm_closes_idle_and_half_sent_connections_with_a_poll_in_flight(connect, make_app, restore_signals):
    hung = threading.Event()  # never set: the first poll stays in flight
    serve_connect(connect, root=Reply(200, body("connect", "root"), gate=hung))
    app, _ = make_app(connect.url)
    clients: list[socket.socket] = []

    def misbehave() -> None:
        wait_for_request(connect)
        port = app.web.port
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b"Healthy.\n"):
            chunk = idle.recv(4096)
            assert chunk, reply
            reply += chunk
        half = socket.create_connection(("127.0.0.1", port), timeout=10)
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Half")
        clients.extend((idle, half))
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=misbehave, daemon=True)
    sender.start()
    app.run_until_signalled()
    sender.join(10)
    assert len(clients) == 2, clients
    for sock in clients:
        with contextlib.suppress(ConnectionResetError):  # a reset is a close too
            assert sock.recv(4096) == b""  # closed by the daemon, not by a timeout of ours
        sock.close()
    assert not app.web.http._thread.is_alive()


def test_metrics_carry_the_process_and_runtime_families_and_the_build_revision(connect, make_app, monkeypatch):
    from prometheus_client.parser import text_string_to_metric_families

    from cdc_watch.exporter import render as render_module
    from cdc_watch.exporter.catalogue import BY_NAME

    monkeypatch.setenv(render_module.REVISION_ENV, "abc1234")
    serve_connect(connect)
    app, polled = make_app(connect.url)
    app.start()
    polled.wait_for({"connect:prod", "connect_offsets:prod"})
    families = {f.name: f for f in text_string_to_metric_families(get(app, "/metrics").text)}
    outside = {name for name in families if name not in BY_NAME and f"{name}_total" not in BY_NAME}
    # Outside the catalogue: prometheus_client's process and Python collectors only (docs/metrics.md).
    assert outside and all(name.startswith(("process_", "python_")) for name in outside), outside
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_gc_collections"} <= outside
    assert families["cdc_build_info"].samples[0].labels["revision"] == "abc1234"
    assert families["cdc_web_metrics_renders"].samples[0].value >= 1
