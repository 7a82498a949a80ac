"""Config loading: validation, dotted error locations, secrets, defaults."""

from __future__ import annotations

import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cdc_watch.config import ConfigError, load_config, parse_config, parse_duration
from cdc_watch.rules.table import ALERT_NAMES

REPO = Path(__file__).resolve().parents[2]


def problems_of(raw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.problems


def test_minimal_config_names_one_url_and_gets_defaults():
    config = parse_config({"connect_clusters": [{"url": "http://connect:8083/"}]})
    cluster = config.connect_clusters[0]
    assert cluster.name == "default"
    assert cluster.urls == ("http://connect:8083",)
    assert cluster.poll_interval == 15.0
    assert cluster.timeout == 10.0
    assert cluster.tls.verify is True
    assert config.state_file is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("7d", 604800.0),
        ("1.5m", 90.0),
        ("1h30m", 5400.0),
        ("2w", 14 * 86400.0),
        ("1y", 365 * 86400.0),
        ("1y2w3d4h5m6s7ms", 365 * 86400 + 17 * 86400 + 4 * 3600 + 5 * 60 + 6.007),
        ("5m0s", 300.0),
        ("90m", 5400.0),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (30, "with a unit"),
        ("30", "invalid duration"),
        ("30 parsecs", "invalid duration"),
        ("0s", "greater than zero"),
        ("0", "greater than zero"),
        ("", "invalid duration"),
        (True, "with a unit"),
        ("30m1h", "from the largest to the smallest"),  # Prometheus: units in order y w d h m s ms
        ("1h1h", "from the largest to the smallest"),  # each unit once
        ("1ms1s", "from the largest to the smallest"),
        ("1h 30m", "invalid duration"),
        ("1.5h30m", "invalid duration"),  # a fraction only in a single term
        ("-5m", "invalid duration"),
        ("300y", "out of range"),  # past what a Go time.Duration holds (~292y)
    ],
)
def test_bad_durations_are_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        parse_duration(bad)


def test_compound_durations_in_the_config_and_zero_holds():
    config = parse_config(
        {
            "connect_clusters": [{"url": "http://c:8083", "poll_interval": "1m30s"}],
            "alerting": {"rules": {"keep_firing_for": "0s", "purge_eta": "1d12h"}},
        }
    )
    assert config.connect_clusters[0].poll_interval == 90.0
    assert config.alerting.rules.keep_firing_for == 0.0 and config.alerting.rules.purge_eta == 36 * 3600.0


def test_every_problem_is_listed_with_its_dotted_location(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    raw = {
        "connect_clusters": [
            {"name": "prod", "urls": ["ftp://x"], "timeout": 10, "bogus": 1},
            {"name": "dr", "url": "http://a", "auth": {"username": "u", "password": "${NOT_SET_ANYWHERE}"}},
        ],
        "extra": True,
    }
    problems = problems_of(raw)
    assert "connect_clusters[prod].bogus: unknown key" in problems
    assert any(p.startswith("connect_clusters[prod].timeout:") and "unit" in p for p in problems)
    assert any(p.startswith("connect_clusters[prod].urls:") for p in problems)
    assert "connect_clusters[dr].auth.password: environment variable NOT_SET_ANYWHERE is not set" in problems
    assert "extra: unknown key" in problems
    assert len(problems) == 5


def test_literal_secret_is_refused_and_not_echoed():
    problems = problems_of(
        {"connect_clusters": [{"url": "http://a", "auth": {"username": "u", "password": "hunter2-literal"}}]}
    )
    assert problems == [
        'connect_clusters[0].auth.password: write secrets as "${ENV_VAR}" or {file: /path/to/secret}, never literally'
    ]
    assert not any("hunter2" in p for p in problems)


def test_secret_from_env_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("CONNECT_PW", "from-env")
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    config = parse_config(
        {
            "connect_clusters": [
                {"name": "a", "url": "http://a", "auth": {"username": "u", "password": "${CONNECT_PW}"}},
                {"name": "b", "url": "http://b", "auth": {"username": "u", "password": {"file": str(secret_file)}}},
            ]
        }
    )
    assert config.connect_clusters[0].auth.password.get_secret_value() == "from-env"
    assert config.connect_clusters[1].auth.password.get_secret_value() == "from-file"
    assert "from-env" not in repr(config)


def test_an_empty_secret_is_refused(monkeypatch, tmp_path):
    """An unfilled placeholder (an empty Secret value, an empty file) fails at load, not at the first login."""
    monkeypatch.setenv("EMPTY_PW", "")
    empty_file = tmp_path / "pw"
    empty_file.write_text("\n")
    problems = problems_of(
        {
            "connect_clusters": [
                {"name": "a", "url": "http://a", "auth": {"username": "u", "password": "${EMPTY_PW}"}},
                {"name": "b", "url": "http://b", "auth": {"username": "u", "password": {"file": str(empty_file)}}},
            ]
        }
    )
    assert problems == [
        "connect_clusters[a].auth.password: environment variable EMPTY_PW is empty",
        f"connect_clusters[b].auth.password: secret file {empty_file} is empty",
    ]


def test_duplicate_cluster_names_and_empty_cluster_list():
    assert any(
        "repeated: x" in p
        for p in problems_of({"connect_clusters": [{"name": "x", "url": "http://a"}, {"name": "x", "url": "http://b"}]})
    )
    assert problems_of({"connect_clusters": []})[0].startswith("connect_clusters:")
    assert problems_of(None) == ["(top level): the file is empty"]


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("connect_clusters:\n  - url: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, alert_names=ALERT_NAMES)
    assert "line" in caught.value.problems[0]


def test_include_exclude_patterns():
    cluster = parse_config(
        {"connect_clusters": [{"url": "http://a", "include": ["inv-*", "orders"], "exclude": ["inv-tmp*"]}]}
    ).connect_clusters[0]
    assert cluster.selects("inv-1")
    assert cluster.selects("orders")
    assert not cluster.selects("inv-tmp-2")
    assert not cluster.selects("payments")


def test_example_config_is_valid(monkeypatch):
    for name in (
        "CONNECT_PASSWORD",
        "JOLOKIA_PASSWORD",
        "MYSQL_MONITOR_PASSWORD",
        "SLACK_WEBHOOK_URL",
        "SLACK_BOT_TOKEN",
        "SENTRY_DSN",
    ):
        monkeypatch.setenv(name, "example-value")
    example = (REPO / "config.example.yaml").read_text()
    for line in example.splitlines():
        if "${" in line:
            name = line.split("${", 1)[1].split("}", 1)[0]
            monkeypatch.setenv(name, "example-value")
    load_config(REPO / "config.example.yaml", alert_names=ALERT_NAMES)


def test_check_config_cli_exit_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("connect_clusters:\n  - url: http://127.0.0.1:1\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("connect_clusters:\n  - url: http://127.0.0.1:1\n    nope: 1\n")
    ok = subprocess.run(
        [sys.executable, "-m", "cdc_watch", "check-config", "--config.file", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    failed = subprocess.run(
        [sys.executable, "-m", "cdc_watch", "check-config", "--config.file", str(bad)], capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert "connect_clusters[0].nope: unknown key" in failed.stderr


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        ({"connect_clusters": [{"url": "http://admin:Pw-in-url@connect:8083"}]}, "connect_clusters[0].urls"),
        (
            {"connect_clusters": [{"urls": ["http://connect-1:8083", "https://admin:Pw-in-url@connect-2:8083"]}]},
            "connect_clusters[0].urls",
        ),
        (
            {"connect_clusters": [{"url": "http://c", "jolokia": {"url": "http://jmx:Pw-in-url@w:8778/jolokia"}}]},
            "connect_clusters[0].jolokia.urls",
        ),
        (
            {
                "connect_clusters": [
                    {"url": "http://c", "jolokia": {"url_template": "http://jmx:Pw-in-url@{host}:8778/jolokia"}}
                ]
            },
            "connect_clusters[0].jolokia.url_template",
        ),
        ({"connect_clusters": [{"url": "ftp://admin:Pw-in-url@c"}]}, "connect_clusters[0].urls"),
        (
            {
                "connect_clusters": [{"url": "http://c"}],
                "alerting": {
                    "slack": {
                        "token": "${CW_TOKEN}",
                        "channel": "#x",
                        "api_url": "https://u:Pw-in-url@slack.example/api/",
                    }
                },
            },
            "alerting.slack",
        ),
        (
            {
                "connect_clusters": [{"url": "http://c"}],
                "alerting": {"runbook_url": "https://u:Pw-in-url@wiki.example/runbook"},
            },
            "alerting.runbook_url",
        ),
        (
            {
                "connect_clusters": [{"url": "http://c"}],
                "alerting": {"dashboard_url": "https://Pw-in-url@grafana.example/d/x"},
            },
            "alerting.dashboard_url",
        ),
    ],
    ids=["connect", "connect-second", "jolokia", "jolokia-template", "not-http", "slack-api", "runbook", "dashboard"],
)
def test_credentials_in_a_url_are_refused_without_echoing_them(monkeypatch, raw, location):
    monkeypatch.setenv("CW_TOKEN", "xoxb-test")
    problems = problems_of(raw)
    assert len(problems) == 1 and problems[0].startswith(f"{location}:"), problems
    assert "Pw-in-url" not in problems[0]
    if "is not an http" not in problems[0]:
        assert "carries credentials" in problems[0]
        if location.startswith("connect_clusters"):
            assert "auth:" in problems[0]


def test_config_file_default_comes_from_cdc_watch_config(monkeypatch):
    from cdc_watch import cli

    monkeypatch.delenv("CDC_WATCH_CONFIG", raising=False)
    assert cli.build_parser().parse_args(["check-config"]).config_file == Path("cdc-watch.yaml")
    monkeypatch.setenv("CDC_WATCH_CONFIG", "/etc/cdc-watch/config.yaml")
    for argv in (["check-config"], ["run"], ["connectors", "list"], ["preflight", "--database", "db"]):
        assert cli.build_parser().parse_args(argv).config_file == Path("/etc/cdc-watch/config.yaml"), argv
    assert cli.build_parser().parse_args(["run", "--config.file", "x.yaml"]).config_file == Path("x.yaml")


def test_the_docker_image_sets_the_config_default_to_its_mounted_file():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "ENV CDC_WATCH_CONFIG=/etc/cdc-watch/config.yaml" in dockerfile


# A commented-out setting in the example ("# key: value", at its YAML indentation plus "# ").
_COMMENTED_SETTING = re.compile(r"^(\s*)# (\s*(?:- )?[A-Za-z_][A-Za-z0-9_]*:(?: |$).*)$")


def _models_in(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The config sections inside a field's type: ("one" | "many" | "map", model)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("one", annotation)]
    if origin in (typing.Union, types.UnionType):
        return [found for arg in args for found in _models_in(arg)]
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (tuple, list):
        return [("many", model) for _, model in _models_in(args[0])]
    if origin is dict:
        return [("map", model) for _, model in _models_in(args[1])]
    return []


def _setting_paths(model: type[BaseModel], data: Any = None, prefix: str = ""):
    """Dotted paths of every field of `model` (data None), or of those present in `data`."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        if data is not None:
            keys = [k for k in (key, "url" if key == "urls" else None) if k and isinstance(data, dict) and k in data]
            if not keys:
                continue
        path = f"{prefix}{key}"
        yield path
        value = data[keys[0]] if data is not None else None
        for kind, sub in _models_in(info.annotation):
            if data is None:
                yield from _setting_paths(sub, None, f"{path}.*." if kind == "map" else f"{path}.")
            elif kind == "one":
                yield from _setting_paths(sub, value if isinstance(value, dict) else {}, f"{path}.")
            elif kind == "many":
                for item in value if isinstance(value, list) else []:
                    yield from _setting_paths(sub, item, f"{path}.")
            else:
                for item in value.values() if isinstance(value, dict) else []:
                    yield from _setting_paths(sub, item, f"{path}.*.")


def test_example_config_shows_every_setting():
    from cdc_watch.config import Config

    lines = (REPO / "config.example.yaml").read_text().splitlines()
    activated = "\n".join(m.group(1) + m.group(2) if (m := _COMMENTED_SETTING.match(line)) else line for line in lines)
    shown = set(_setting_paths(Config, yaml.safe_load(activated)))
    every = set(_setting_paths(Config))
    assert len(every) > 100
    assert sorted(every - shown) == [], "add these settings to config.example.yaml (commented out if optional)"


def test_an_override_of_an_unknown_alert_is_a_problem_at_its_location(tmp_path):
    path = tmp_path / "cdc-watch.yaml"
    path.write_text(
        "connect_clusters:\n  - url: http://connect:8083\n"
        "alerting:\n  rules:\n    overrides:\n      CdcNoSuchAlert: {for: 1m}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, alert_names=ALERT_NAMES)
    assert any("alerting.rules.overrides" in p and "CdcNoSuchAlert" in p for p in err.value.problems)
    # Without the rule table's names the loader cannot judge them, and says nothing.
    assert load_config(path, alert_names=None).alerting.rules.overrides["CdcNoSuchAlert"] is not None
