"""TLS settings: files loaded at validation (check-config reports them), paths relative to the
config file, and the client certificate presented whether or not the server is verified."""

from __future__ import annotations

import pytest

from cdc_watch import cli
from cdc_watch.config import ConfigError, load_config, parse_config
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.rules.table import ALERT_NAMES
from cdc_watch.sources.connect.poll import ConnectSource
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body
from tests.support.tls import make_tls

EXPAND = "/connectors?expand=status&expand=info"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


def write_config(path, tls_section: str, url: str = "https://127.0.0.1:1") -> None:
    path.write_text(f"connect_clusters:\n  - name: prod\n    url: {url}\n    timeout: 2s\n    tls: {tls_section}\n")


def problems(path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, alert_names=ALERT_NAMES)
    return caught.value.problems


def test_a_ca_file_that_is_not_pem_fails_check_config_with_its_location(tmp_path, tls, capsys):
    config = tmp_path / "c.yaml"
    write_config(config, f"{{ca_file: {tls.not_pem}}}")
    assert cli.check_config(config) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"connect_clusters[prod].tls.ca_file: {tls.not_pem} is not a usable PEM CA bundle" in err


@pytest.mark.parametrize("which", ["cert", "key"])
def test_an_unusable_client_certificate_or_key_is_a_config_problem(tmp_path, tls, which):
    config = tmp_path / "c.yaml"
    cert, key = (tls.not_pem, tls.key) if which == "cert" else (tls.cert, tls.not_pem)
    write_config(config, f"{{cert_file: {cert}, key_file: {key}}}")
    (problem,) = problems(config)
    assert problem.startswith("connect_clusters[prod].tls: cert_file and key_file cannot be loaded")


def test_an_encrypted_key_is_refused_instead_of_prompting_for_its_passphrase(tmp_path, tls):
    import subprocess

    encrypted = tmp_path / "enc.key"
    subprocess.run(
        ["openssl", "pkey", "-in", str(tls.key), "-aes256", "-passout", "pass:pw", "-out", str(encrypted)],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "c.yaml"
    write_config(config, f"{{cert_file: {tls.cert}, key_file: {encrypted}}}")
    (problem,) = problems(config)
    assert "unencrypted key" in problem


def test_relative_tls_and_secret_paths_resolve_against_the_config_directory(tmp_path, tls, monkeypatch):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    (conf_dir / "ca.pem").write_bytes(tls.cert.read_bytes())
    (conf_dir / "pw").write_text("from-relative-file\n")
    config = conf_dir / "c.yaml"
    config.write_text(
        "connect_clusters:\n  - url: https://c\n    tls: {ca_file: ca.pem}\n"
        "    auth: {username: u, password: {file: pw}}\n"
    )
    monkeypatch.chdir(tmp_path)  # not the config's directory
    cluster = load_config(config, alert_names=ALERT_NAMES).connect_clusters[0]
    assert cluster.tls.ca_file == conf_dir / "ca.pem"
    assert cluster.auth.password.get_secret_value() == "from-relative-file"
    # Without a config file, relative paths stay relative to the working directory.
    with pytest.raises(ConfigError):
        parse_config({"connect_clusters": [{"url": "https://c", "tls": {"ca_file": "ca.pem"}}]})


def serve_cluster(fake: FakeHTTP) -> None:
    fake.route("GET", "/", Reply(200, body("connect", "root")))
    fake.route("GET", EXPAND, Reply(200, body("connect", "connectors_expand_healthy")))


def cluster_for(url: str, **tls):
    return parse_config(
        {"connect_clusters": [{"name": "prod", "url": url, "timeout": "2s", "tls": tls}]}
    ).connect_clusters[0]


def test_verify_false_still_presents_the_client_certificate(tls):
    with FakeHTTP(tls.server_context(require_client_cert=True)) as fake:
        serve_cluster(fake)
        state = ConnectSource(
            cluster_for(fake.url, verify=False, cert_file=str(tls.cert), key_file=str(tls.key))
        ).poll()
        assert state.connectors
        # Without the client certificate the server refuses the handshake.
        with pytest.raises(SourceFailure) as caught:
            ConnectSource(cluster_for(fake.url, verify=False)).poll()
        assert caught.value.reason in (ErrorReason.TLS, ErrorReason.CONNECT)


def test_verify_true_checks_the_server_against_ca_file(tls):
    with FakeHTTP(tls.server_context()) as fake:
        serve_cluster(fake)
        assert ConnectSource(cluster_for(fake.url, ca_file=str(tls.cert))).poll().connectors
        with pytest.raises(SourceFailure) as caught:
            ConnectSource(cluster_for(fake.url)).poll()  # system CAs do not know the test CA
        assert caught.value.reason is ErrorReason.TLS
