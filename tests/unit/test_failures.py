"""Classification of Connect failure traces: real traces from the devstack plus reference variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdc_watch.analysis.failures import (
    KINDS,
    Classification,
    FailureCategory,
    classify,
    exception_blocks,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "remediation"


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _task_trace(status: dict, task: int = 0) -> str:
    return next(t["trace"] for t in status["tasks"] if t["id"] == task)


def _recorded_retriable_trace() -> str:
    listing = _load("connectors_task_failed_retriable.json")["body"]
    failed = [e for e in listing.values() if any(t["state"] == "FAILED" for t in e["status"]["tasks"])]
    assert len(failed) == 1
    return _task_trace(failed[0]["status"])


def test_recorded_communications_link_failure_is_retriable_with_root_cause():
    result = classify(_recorded_retriable_trace())
    assert result.category is FailureCategory.RETRIABLE
    assert result.retriable
    # The root cause (java.net.ConnectException) names it, not the JDBC wrapper.
    assert result.kind == "connection_refused"
    assert result.summary.startswith(
        "io.debezium.DebeziumException: Error reading MySQL variables: Communications link failure"
    )
    assert "root cause: java.net.ConnectException: Connection refused" in result.summary
    assert "\tat " not in result.summary and "\n" not in result.summary


def test_recorded_access_denied_is_non_retriable_with_hint():
    status = _load("status_task_failed_access_denied.json")["body"]
    result = classify(_task_trace(status))
    assert result.category is FailureCategory.NON_RETRIABLE
    assert result.kind == "access_denied"
    assert "password" in result.hint
    assert "Access denied for user 'debezium'" in result.summary


def test_recorded_restart_reply_keeps_old_trace_which_still_classifies():
    body = _load("restart_202_restarting.json")["body"]
    assert body["tasks"][0]["state"] == "RESTARTING"
    assert classify(body["tasks"][0]["trace"]).kind == "connection_refused"


REFERENCE = _load("traces_from_reference.json")["traces"]


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_reference_traces(case: str):
    expected = REFERENCE[case]
    result = classify(expected["trace"])
    assert (result.category.value, result.kind) == (expected["category"], expected["kind"])
    assert result.kind in KINDS
    assert result.hint


def test_non_retriable_cause_beats_retriable_wrapper():
    trace = (
        "org.apache.kafka.connect.errors.RetriableException: An exception occurred in the change event producer. "
        "This connector will be restarted.\n\tat a.B.c(B.java:1)\n"
        "Caused by: com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure\n\tat a.B.c(B.java:1)\n"
        "Caused by: java.sql.SQLException: Access denied for user 'u'@'h' (using password: YES)\n\t... 4 more\n"
    )
    assert classify(trace).kind == "access_denied"


def test_deepest_retriable_cause_wins():
    trace = (
        "io.debezium.DebeziumException: Communications link failure\n\tat a.B.c(B.java:1)\n"
        "Caused by: java.net.SocketTimeoutException: Connect timed out\n\tat a.B.c(B.java:1)\n"
    )
    assert classify(trace).kind == "timeout"


def test_signature_in_a_frame_line_is_ignored():
    trace = "java.lang.IllegalStateException: boom\n\tat io.debezium.Access denied for user.x(Y.java:1)\n"
    assert classify(trace).category is FailureCategory.UNKNOWN


def test_multi_line_message_is_one_block():
    trace = "a.B: first line\nsecond line of the message\n\tat x.Y.z(Y.java:1)\nCaused by: c.D: root\n\t... 1 more\n"
    assert exception_blocks(trace) == [["a.B: first line", "second line of the message"], ["c.D: root"]]


@pytest.mark.parametrize("trace", [None, "", "   \n"])
def test_missing_trace_is_unknown(trace):
    result = classify(trace)
    assert result == Classification(FailureCategory.UNKNOWN, "unknown", result.hint, "")
    assert "worker log" in result.hint


def test_summary_is_scrubbed_of_secrets():
    result = classify(REFERENCE["password_in_trace"]["trace"])
    assert "s3cr3t-Pw-9" not in result.summary
    assert "[REDACTED]" in result.summary


def test_summary_scrubs_given_secret_values():
    result = classify("java.lang.RuntimeException: could not use hunter2hunter2 here\n", secrets=["hunter2hunter2"])
    assert "hunter2hunter2" not in result.summary


def test_summary_is_trimmed():
    trace = "java.lang.RuntimeException: " + "x" * 2000 + "\nCaused by: java.io.IOException: " + "y" * 2000 + "\n"
    summary = classify(trace).summary
    assert len(summary) <= 300
    assert summary.endswith("…")


def test_kinds_are_bounded_identifiers():
    assert len(KINDS) == len(set(KINDS))
    for kind in KINDS:
        assert kind.replace("_", "").isalpha() and kind.islower()
