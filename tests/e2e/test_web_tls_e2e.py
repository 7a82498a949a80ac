"""The devstack's real Prometheus (2.42, Debian) scrapes the daemon over TLS with basic auth,
configured through `--web.config.file` in the exporter-toolkit format.

The daemon watches the real devstack; its web config has a certificate signed by a CA made in
the test and one bcrypt user. Prometheus gets `scheme: https`, a `tls_config` trusting that CA
and `basic_auth`; the test waits until `up` is 1 and the daemon's metrics arrive, then shows
that a scrape job with the wrong password is `up == 0` while the right one stays up.
"""

from __future__ import annotations

import bcrypt
import httpx
import pytest

from cdc_watch.app import App
from tests.e2e.conftest import RunningDaemon, full_config
from tests.support.pki import make_pki

pytestmark = pytest.mark.stack

PASSWORD = "prom-scrape-pw-e2e"


def query(stack, expr: str) -> list[dict]:
    reply = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    reply.raise_for_status()
    return reply.json()["data"]["result"]


def test_prometheus_scrapes_the_daemon_over_tls_with_basic_auth(stack, stack_env, capture, tmp_path):
    pki = make_pki(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
    )
    config = tmp_path / "cdc-watch.yaml"
    config.write_text(full_config(stack))
    app = App(config, "127.0.0.1:0", web_config_path=web)
    app.start()
    wait_for = RunningDaemon(app).wait_for
    try:
        target = f"127.0.0.1:{app.web.port}"
        password_file = tmp_path / "password"
        password_file.write_text(PASSWORD)
        tls = ["scheme: https", "tls_config:", f"  ca_file: {pki.ca}", "  server_name: 127.0.0.1"]
        stack.start_prometheus(
            [target],
            job_name="cdc-watch-tls",
            scrape_job_extra=[*tls, "basic_auth:", "  username: prometheus", f"  password_file: {password_file}"],
        )
        wait_for(lambda: query(stack, 'up{job="cdc-watch-tls"} == 1'), 60, "Prometheus to scrape over TLS")
        wait_for(
            lambda: query(stack, 'cdc_connect_up{job="cdc-watch-tls",connect_cluster="devstack"} == 1'),
            60,
            "the daemon's metrics in Prometheus",
        )
        assert query(stack, 'process_resident_memory_bytes{job="cdc-watch-tls"} > 0')
        build = query(stack, 'cdc_build_info{job="cdc-watch-tls"}')
        assert build and build[0]["metric"]["revision"]
        # The same daemon with a wrong password: Prometheus sees 401, so up is 0.
        password_file.write_text("wrong password")
        stack.start_prometheus(
            [target],
            job_name="cdc-watch-tls",
            scrape_job_extra=[*tls, "basic_auth:", "  username: prometheus", f"  password_file: {password_file}"],
        )
        wait_for(lambda: query(stack, 'up{job="cdc-watch-tls"} == 0'), 60, "a refused scrape")
    finally:
        app.stop()
        stack.stop_prometheus()
