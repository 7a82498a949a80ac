"""Which Kafka Connect versions are inside the tested matrix, and the warning at the first poll."""

from __future__ import annotations

import logging

import pytest

from cdc_watch.config import parse_config
from cdc_watch.sources.connect import parse
from cdc_watch.sources.connect.poll import ConnectSource
from tests.support.fake_http import FakeHTTP, Reply
from tests.support.recorded import body, recorded_versions

EXPAND = "/connectors?expand=status&expand=info"


@pytest.mark.parametrize("version", ["3.9.0", "4.0.0", "4.1.1", "4.2.0", "4.3.0", "7.9.0-ccs", "8.1.0-ccs"])
def test_inside_the_tested_range(version):
    assert parse.untested_version_warning(version) is None


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("4.4.0", "outside the tested range 3.9 to 4.3"),
        ("3.8.1", "outside the tested range"),
        ("3.4.0", "no offsets API"),
        ("7.4.0-ccs", "no offsets API"),  # Confluent Platform 7.4 is Apache Kafka 3.4
        ("garbage", "no offsets API"),
    ],
)
def test_outside_the_tested_range(version, words):
    assert words in parse.untested_version_warning(version)


@pytest.mark.parametrize("version", recorded_versions())
def test_every_recorded_version_is_inside(version):
    assert parse.untested_version_warning(body("connect", "root", version)["version"]) is None


def test_a_cluster_outside_the_matrix_is_logged_once_at_its_first_poll(caplog):
    newer = dict(body("connect", "root"), version="4.4.0")
    with FakeHTTP() as fake:
        fake.route("GET", "/", Reply(200, newer))
        fake.route("GET", EXPAND, Reply(200, body("connect", "connectors_expand_healthy")))
        cluster = parse_config({"connect_clusters": [{"name": "prod", "urls": [fake.url]}]}).connect_clusters[0]
        source = ConnectSource(cluster)
        with caplog.at_level(logging.WARNING, logger="cdc_watch.sources.connect.poll"):
            source.poll()
            source.poll()
        source.close()
    warnings = [r for r in caplog.records if "outside the tested range" in r.getMessage()]
    assert len(warnings) == 1 and "Kafka Connect 4.4.0" in warnings[0].getMessage()
    assert warnings[0].source == "connect:prod"
