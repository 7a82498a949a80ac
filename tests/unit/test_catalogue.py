"""The metrics catalogue: naming conventions, docs in sync, exporter output bound to it."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cdc_watch.core.model import PollResult
from cdc_watch.core.snapshot import SnapshotStore
from cdc_watch.exporter.catalogue import BY_NAME, CATALOGUE, MetricType, render_markdown
from cdc_watch.exporter.connect import connect_metrics
from cdc_watch.exporter.render import render, self_metrics
from cdc_watch.sources.connect import parse
from tests.support.recorded import body

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
NAME = re.compile(r"^cdc_[a-z][a-z0-9_]*[a-z0-9]$")
FORBIDDEN_LABELS = {"job", "instance", "cluster", "env", "message", "error", "trace", "sql", "gtid", "offset"}


def test_docs_page_is_generated_from_the_catalogue():
    assert DOCS.read_text() == render_markdown(), "regenerate: python -m generate > docs/metrics.md"


def test_names_follow_the_house_style():
    assert len(BY_NAME) == len(CATALOGUE), "duplicate metric names"
    for spec in CATALOGUE:
        assert NAME.match(spec.name), spec.name
        assert (spec.type is MetricType.COUNTER) == spec.name.endswith("_total"), spec.name
        for bad in ("_ms", "_millis", "_percent", "_percentage", "_kb", "_mb"):
            assert bad + "_" not in spec.name + "_", spec.name
        assert not FORBIDDEN_LABELS & set(spec.labels), spec.name
        assert spec.help.strip() and spec.help.strip()[-1] == ".", spec.name


def test_connect_samples_carry_exactly_their_catalogue_labels():
    connectors, excluded, problems = parse.parse_expanded(body("connect", "connectors_expand_failed_task_retriable"))
    state = parse.build_cluster_state("prod", "http://w", ("3.9.0", "c", "k"), connectors, excluded, problems)
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    store.record(PollResult("connect:prod", "connect", 1.0, 0.2, state))
    text = render(store.current(), (self_metrics, connect_metrics)).decode()
    seen = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            spec = BY_NAME[sample.name]
            assert set(sample.labels) == set(spec.labels), sample
            seen.add(sample.name)
    assert {
        "cdc_connect_up",
        "cdc_connector_state",
        "cdc_task_state",
        "cdc_connect_worker_tasks",
        "cdc_source_up",
    } <= seen
    failed = [
        s
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "cdc_task_state" and s.labels["state"] == "FAILED" and s.value == 1
    ]
    assert len(failed) == 1


def test_unreachable_cluster_exports_up_zero_and_no_stale_connectors():
    store = SnapshotStore()
    store.register([("connect:prod", "connect")])
    from cdc_watch.core.model import ErrorReason, SourceError

    store.record(PollResult("connect:prod", "connect", 1.0, 0.2, None, SourceError(ErrorReason.TIMEOUT, "timed out")))
    text = render(store.current(), (self_metrics, connect_metrics)).decode()
    assert 'cdc_connect_up{connect_cluster="prod"} 0' in text
    assert 'cdc_source_poll_errors_total{source="connect:prod",reason="timeout"} 1' in text
    assert "cdc_connector_state" not in text


def test_poll_errors_have_a_zero_series_for_every_reason_before_any_failure():
    from cdc_watch.core.model import ErrorReason

    store = SnapshotStore()
    store.register([("connect:prod", "connect"), ("mysql:db1", "mysql")])
    text = render(store.current(), (self_metrics,)).decode()
    for source in ("connect:prod", "mysql:db1"):
        for reason in ErrorReason:
            assert f'cdc_source_poll_errors_total{{source="{source}",reason="{reason}"}} 0' in text
