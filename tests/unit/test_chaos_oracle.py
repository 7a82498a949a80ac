"""devstack.chaos.Oracle on hand-built timelines: recall, precision, bounds, resolves."""

from __future__ import annotations

from devstack.chaos import AlertLog, Event, Names, Oracle, Timeline
from devstack.stack import ConnectorHandle

CONN = ConnectorHandle("t-1", "t-1", 1)
NAMES = Names("devstack", "devdb")


def _api(log: AlertLog, at: float, *alerts: tuple[str, dict[str, str], float]) -> None:
    log.observe_api(
        {"alerts": [{"alert": a, "labels": labels, "state": "firing", "fired_at": f} for a, labels, f in alerts]}, at
    )


def _timeline(*events: Event) -> Timeline:
    return Timeline(17, 0.0, list(events), ended_at=500.0)


TASK = ("CdcTaskFailed", {"connect_cluster": "devstack", "connector": "t-1", "task": "0"})


def test_a_fault_detected_within_its_bound_and_resolved_after_the_heal_is_recalled():
    log = AlertLog()
    _api(log, 105.0, (*TASK, 104.0))
    _api(log, 140.0, (*TASK, 104.0))
    _api(log, 150.0)  # resolved after the heal at 145
    report = Oracle(CONN, NAMES).judge(_timeline(Event("task_failed_non_retriable", 100.0, 145.0)), log)
    assert report.missed == [] and report.false_alerts == []
    assert report.recall == 1.0 and report.precision == 1.0
    assert report.kinds["task_failed_non_retriable"].delays == [4.0]


def test_too_late_unresolved_and_unexplained_alerts_are_reported():
    log = AlertLog()
    _api(log, 130.0, (*TASK, 130.0))  # 30 s after injection, bound 15 s
    _api(log, 300.0, (*TASK, 130.0), ("CdcBinlogLagHigh", {"connect_cluster": "devstack", "connector": "t-1"}, 299.0))
    report = Oracle(CONN, NAMES, resolve_bound=60.0).judge(
        _timeline(Event("task_failed_non_retriable", 100.0, 145.0), Event("pause", 200.0, 230.0)), log
    )
    assert [m.split(": ", 1)[1] for m in report.missed] == ["CdcTaskFailed not within 15s"]
    assert len(report.false_alerts) == 1 and report.false_alerts[0].startswith("CdcBinlogLagHigh")
    assert report.kinds["pause"].false_alerts == 1
    assert report.recall == 0.0 and report.precision < 1.0


def test_a_fault_that_expects_nothing_only_counts_for_precision():
    log = AlertLog()
    report = Oracle(CONN, NAMES).judge(_timeline(Event("write_load", 10.0, 40.0)), log)
    assert report.recall == 1.0 and report.precision == 1.0 and report.kinds["write_load"].expected == 0
    assert "write_load" in report.table()


NOT_STREAMING = ("CdcNotStreaming", {"connect_cluster": "devstack", "connector": "t-1"})
DB_DOWN = ("CdcSourceUnreadable", {"source": "mysql:devdb"})


def test_resolves_are_judged_from_the_recovery_not_the_heal():
    """After a database restart the connector may take its keep-alive interval to reconnect:
    CdcNotStreaming firing until it streams again is true, and is judged from then."""

    def log_resolving_at(resolved: float) -> AlertLog:
        log = AlertLog()
        _api(log, 120.0, (*NOT_STREAMING, 118.0), (*DB_DOWN, 115.0))
        _api(log, 150.0, (*NOT_STREAMING, 118.0))  # database back at 145, connector not yet
        _api(log, resolved)
        return log

    slow_reconnect = Event("db_stop", 100.0, 145.0, settled_at=212.0)
    report = Oracle(CONN, NAMES, resolve_bound=60.0).judge(_timeline(slow_reconnect), log_resolving_at(240.0))
    assert report.missed == [] and report.recall == 1.0 and report.precision == 1.0

    late = Oracle(CONN, NAMES, resolve_bound=60.0).judge(_timeline(slow_reconnect), log_resolving_at(290.0))
    assert [m.split(": ", 1)[1] for m in late.missed] == ["CdcNotStreaming did not resolve after the heal"]

    unsettled = Event("db_stop", 100.0, 145.0)  # no settle recorded: the heal is the recovery
    assert Oracle(CONN, NAMES, resolve_bound=60.0).judge(_timeline(unsettled), log_resolving_at(240.0)).recall == 0.0
