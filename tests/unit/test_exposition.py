"""The text exposition writer: valid for Prometheus' parser, catalogue-bound, escaped."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.exporter.exposition import MetricsWriter, format_value, labels


def parse(body: bytes) -> dict[str, list]:
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def test_output_parses_and_keeps_types_and_help():
    out = MetricsWriter()
    out.add("cdc_connect_up", labels(("connect_cluster", "prod")), 1)
    out.add("cdc_source_polls_total", labels(("source", "connect:prod")), 7)
    families = parse(out.render())
    assert families["cdc_connect_up"].type == "gauge"
    assert families["cdc_source_polls"].type == "counter"
    assert families["cdc_source_polls"].samples[0].value == 7
    assert "answered the last poll" in families["cdc_connect_up"].documentation


def test_label_values_are_escaped():
    nasty = 'we"ird\\name\nx'
    out = MetricsWriter()
    out.add("cdc_connector_tasks", labels(("connect_cluster", "c"), ("connector", nasty)), 2)
    sample = parse(out.render())["cdc_connector_tasks"].samples[0]
    assert sample.labels["connector"] == nasty


def test_one_hot_marks_exactly_the_current_state():
    out = MetricsWriter()
    out.one_hot(
        "cdc_task_state",
        labels(("connect_cluster", "c"), ("connector", "x"), ("task", "0")),
        "state",
        "FAILED",
        ("RUNNING", "FAILED", "PAUSED"),
    )
    samples = parse(out.render())["cdc_task_state"].samples
    assert {s.labels["state"]: s.value for s in samples} == {"RUNNING": 0, "FAILED": 1, "PAUSED": 0}


def test_unknown_metric_is_refused_and_none_is_no_sample():
    out = MetricsWriter()
    with pytest.raises(KeyError):
        out.add("cdc_not_in_catalogue", "", 1)
    out.add("cdc_connect_up", labels(("connect_cluster", "c")), None)
    assert out.render() == b""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (True, "1"),
        (0.25, "0.25"),
        (3.0, "3"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (1e20, "1e+20"),
    ],
)
def test_value_formatting(value, text):
    assert format_value(value) == text
