"""The Connect MBean attribute table (sources/jolokia/mbeans.py) is the one place a Connect JMX
metric is added: the bulk request, the exporter and the catalogue all derive from it. These
tests hold the table to the naming rules and find catalogue metrics nothing writes."""

from __future__ import annotations

import pytest

from cdc_watch.exporter import jolokia as exporter
from cdc_watch.exporter.catalogue import BY_NAME, CATALOGUE, MetricType
from cdc_watch.sources.jolokia import mbeans, parse

ROWS = [a for a in mbeans.ATTRIBUTES if a.metric]
# Jolokia-subsystem metrics written by hand in exporter/jolokia.py (derived values, one-hot
# states, Debezium's typed MBeans), not one row each of the table.
HAND_WRITTEN_PREFIXES = ("cdc_debezium_", "cdc_jolokia_")
HAND_WRITTEN = {
    "cdc_worker_connector_tasks",
    "cdc_worker_last_rebalance_timestamp_seconds",
    "cdc_task_last_error_timestamp_seconds",
}


@pytest.mark.parametrize("row", ROWS, ids=lambda a: a.metric)
def test_every_exported_attribute_is_a_catalogue_metric_with_the_labels_of_its_group(row):
    spec = BY_NAME.get(row.metric)
    assert spec is not None, f"{row.metric} is not in the catalogue"
    assert spec.subsystem == "jolokia"
    if row.group in mbeans.TASK_GROUPS:
        assert spec.labels == ("connect_cluster", "connector", "task")
    else:
        assert row.group in mbeans.ENDPOINT_GROUPS
        assert spec.labels == ("connect_cluster", "endpoint")
    assert (spec.type is MetricType.COUNTER) == row.metric.endswith("_total")
    # Milliseconds on the wire are seconds in the metric, and nothing else is scaled.
    assert (row.scale == mbeans.MS) == (row.name.endswith("-ms") and row.metric.endswith("_seconds"))


def test_the_bulk_request_asks_for_every_attribute_of_the_table():
    asked = {}
    for group, request in parse.BULK:
        if "attribute" in request:
            asked.setdefault(group, []).extend(request["attribute"])
    for group in {a.group for a in mbeans.ATTRIBUTES}:
        assert asked.get(group) == list(mbeans.attributes(group)), group


def test_the_exporter_writes_every_row_and_the_catalogue_lists_no_orphan():
    written = {a.metric for a in (*exporter.TASK_METRICS, *exporter.WORKER_METRICS)} | {
        a.metric for a in (*exporter.REBALANCE_METRICS, *exporter.CLIENT_METRICS)
    }
    assert written == {a.metric for a in ROWS}
    orphans = [
        s.name
        for s in CATALOGUE
        if s.subsystem == "jolokia"
        and s.name not in written
        and s.name not in HAND_WRITTEN
        and not s.name.startswith(HAND_WRITTEN_PREFIXES)
    ]
    assert orphans == [], "catalogue metrics of the Jolokia source that nothing writes"


def test_one_row_per_attribute_and_one_metric_per_row():
    keys = [(a.group, a.name) for a in mbeans.ATTRIBUTES]
    assert len(keys) == len(set(keys))
    metrics = [a.metric for a in ROWS]
    assert len(metrics) == len(set(metrics))
