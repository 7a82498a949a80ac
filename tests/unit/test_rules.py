"""Table-driven tests of the health rules (generate/scenarios.py) with a fake clock."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from cdc_watch.config import RulesConfig
from cdc_watch.core.clock import FakeClock
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState, Change, Phase
from generate.scenarios import SCENARIOS, Scenario, Step
from generate.snapshots import cluster_state, full_snapshot, jolokia_state, snapshot_for


def _firing(state: AlertState) -> frozenset:
    return frozenset((e.key.alert, e.key.labels) for e in state.entries.values() if e.phase is Phase.FIRING)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario: Scenario) -> None:
    cfg = RulesConfig.model_validate(scenario.config)
    clock = FakeClock()
    start = clock.now()
    state = AlertState()
    fired_total = resolved_total = 0
    previous = frozenset()
    for step in scenario.steps:
        clock.advance(start + step.at - clock.now())
        snapshot = full_snapshot(step, scenario.sources, clock.now(), start)
        state, transitions = rules.evaluate(state, snapshot, clock.now(), cfg)
        now_firing = _firing(state)
        assert now_firing == step.firing, f"{scenario.name} at t={step.at}s"
        # transitions are exactly the difference between consecutive firing sets
        fired = {(t.entry.key.alert, t.entry.key.labels) for t in transitions if t.change is Change.FIRED}
        resolved = {(t.entry.key.alert, t.entry.key.labels) for t in transitions if t.change is Change.RESOLVED}
        assert fired == now_firing - previous, f"{scenario.name} at t={step.at}s: fired"
        assert resolved == previous - now_firing, f"{scenario.name} at t={step.at}s: resolved"
        fired_total += len(fired)
        resolved_total += len(resolved)
        previous = now_firing
        # the state survives a round trip through the state file unchanged
        assert AlertState.from_json(state.to_json()) == state


def test_every_rule_has_a_scenario_that_fires_it() -> None:
    fired = {alert for s in SCENARIOS for step in s.steps for alert, _ in step.firing}
    assert fired == set(rules.BY_NAME)


def test_task_failed_evidence_says_why_and_keeps_secrets_out() -> None:
    trace = "org.apache.kafka.connect.errors.ConnectException: Access denied for user 'cdc' password=hunter2secret\nCaused by: java.sql.SQLException: Access denied for user 'cdc'@'10.0.0.1' (using password: YES)\n"
    # explained and scrubbed where it enters (the model keeps a Failure, never the trace); the
    # rules never scrub again
    state = cluster_state("prod", {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}, trace=trace)
    from types import MappingProxyType

    from cdc_watch.core.model import PollResult, SourceStatus
    from cdc_watch.core.snapshot import Snapshot

    status = SourceStatus("connect:prod", "connect").with_result(
        PollResult("connect:prod", "connect", 0, 0.1, data=state)
    )
    cfg = RulesConfig.model_validate({"overrides": {"CdcTaskFailed": {"for": "0s"}}})
    _new, transitions = rules.evaluate(AlertState(), Snapshot(MappingProxyType({"connect:prod": status})), 100.0, cfg)
    (transition,) = [t for t in transitions if t.entry.key.alert == "CdcTaskFailed"]
    evidence = transition.entry.evidence
    assert "hunter2secret" not in repr(evidence)
    assert "(using password: YES)" in evidence.trace
    assert evidence.kind == "access_denied"
    assert evidence.trace.splitlines()[-1].startswith("Caused by: java.sql.SQLException: Access denied")
    assert ("task state", "FAILED") in evidence.facts


def test_every_rule_has_promql_over_catalogue_metrics_and_a_runbook_anchor() -> None:
    import re
    from pathlib import Path

    from cdc_watch.exporter.catalogue import BY_NAME as METRICS

    cfg = RulesConfig()
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "runbook.md").read_text()
    for rule in rules.RULES:
        expr = rules.promql(rule, cfg)
        names = set(re.findall(r"\bcdc_[a-z_]+\b", expr))
        assert names and names <= set(METRICS), rule.name
        assert f'<a id="{rule.anchor}"></a>' in runbook, rule.name
        body = rules.prometheus_rule(rule, cfg, "https://example/runbook.md")
        assert body["for"] == rules.format_duration(rules.for_of(rule, cfg))
        assert body["annotations"]["runbook_url"].endswith("#" + rule.anchor)


def test_thresholds_from_config_reach_promql_and_for() -> None:
    cfg = RulesConfig.model_validate(
        {"worker_memory": "30m", "overrides": {"CdcWorkerLost": {"for": "5m", "severity": "critical"}}}
    )
    body = rules.prometheus_rule(rules.BY_NAME["CdcWorkerLost"], cfg, "rb")
    assert "[30m]" in body["expr"] and body["for"] == "5m" and body["labels"]["severity"] == "critical"


def test_unknown_rule_override_is_a_config_error() -> None:
    from cdc_watch.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "connect_clusters": [{"url": "http://x"}],
                "alerting": {"rules": {"overrides": {"CdcNope": {"for": "1m"}}}},
            },
            alert_names=rules.ALERT_NAMES,
        )
    assert "CdcNope" in str(err.value)


def test_format_duration() -> None:
    assert [rules.format_duration(s) for s in (0, 59, 60, 90, 3600, 360)] == ["0s", "59s", "1m", "1m30s", "1h", "6m"]


def test_bad_worker_memory_never_makes_an_evaluation_raise():
    memory = {"CdcWorkerLost": {"prod": {"bad-key": 1.0, "orders|x|w1:8083": 1.0, "orders|0|w1:8083": "soon"}}}
    state = AlertState(memory=MappingProxyType(memory))
    new, _ = rules.evaluate(
        state,
        snapshot_for(
            Step(0, {"prod": {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}}), (("connect:prod", "connect"),), 100.0
        ),
        100.0,
        RulesConfig(),
    )
    assert all(item.count("|") == 2 for item in new.memory["CdcWorkerLost"]["prod"])
    assert rules.check_memory(memory) == ({"CdcWorkerLost": {}}, ["CdcWorkerLost"])


def test_a_database_poll_between_two_jolokia_polls_is_not_a_still_position() -> None:
    """Seen on the devstack under write load: each MySQL poll saw the head move past the
    position of a Jolokia reading that was simply not renewed yet, so CdcNotStreaming went
    pending on every other evaluation. Only a later Jolokia poll can show a still position."""
    from generate.scenarios import ALL_SOURCES, DB_OK, db_step

    cfg = RulesConfig()
    start = 1000.0

    def observe(jolokia_at: float, mysql_at: float, head: int, memory):
        step = db_step(0, db={**DB_OK, "head": ("mysql-bin.000005", head)})
        sources = dict(full_snapshot(step, ALL_SOURCES, mysql_at, start).sources)
        sources["jolokia:prod"] = full_snapshot(step, ALL_SOURCES, jolokia_at, start).sources["jolokia:prod"]
        from cdc_watch.core.snapshot import Snapshot

        return rules._not_streaming(Snapshot(MappingProxyType(sources)), cfg, memory, mysql_at)

    first = observe(start, start, 5000, None)
    labels = next(iter(first.verdicts))
    assert first.verdicts[labels] is None
    # The database polled again (head moved) but Jolokia did not: no verdict against the stream.
    between = observe(start, start + 1, 10000, first.memory)
    assert between.verdicts[labels] is None
    # A later Jolokia poll still shows the same position, behind that head: that is still.
    later = observe(start + 2, start + 2, 14000, between.memory)
    assert later.verdicts[labels] is not None
    assert dict(later.verdicts[labels].facts)["behind by"] == "9000 bytes"  # behind the newest head


# --------------------------------------------------------------------------- paging policy, deletion, folding


def _connect_only(step: Step, at: float, connect_started: float | None = None):
    snapshot = snapshot_for(step, (("connect:prod", "connect"),), at)
    if connect_started is None:
        return snapshot
    from dataclasses import replace

    from cdc_watch.core.snapshot import Snapshot

    status = snapshot.sources["connect:prod"]
    moved = replace(status, last=replace(status.last, started_at=connect_started))
    return Snapshot(MappingProxyType({"connect:prod": moved}))


def _remediation(enabled: bool = True, restarts=None) -> rules.Remediation:
    from cdc_watch.config import RemediationConfig

    return rules.Remediation(RemediationConfig(enabled=enabled), restarts or {})


FAILED_ORDERS = Step(0, {"prod": {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}})


def test_a_retriable_failure_waits_for_the_restart_then_pages_when_it_did_not_help() -> None:
    cfg = RulesConfig()
    state, transitions = rules.evaluate(AlertState(), _connect_only(FAILED_ORDERS, 0.0), 0.0, cfg, _remediation())
    assert transitions == [] and next(iter(state.entries.values())).phase is Phase.PENDING
    # remediation restarted it at 1 s; the Connect poll of 15 s (started after) still shows FAILED
    view = _remediation(restarts={("prod", "orders"): (1, 1.0)})
    state, transitions = rules.evaluate(state, _connect_only(FAILED_ORDERS, 15.0), 15.0, cfg, view)
    assert [(t.change, t.entry.key.alert) for t in transitions] == [(Change.FIRED, "CdcTaskFailed")]


def test_a_retriable_failure_with_remediation_off_or_no_restart_waits_for_its_for() -> None:
    cfg = RulesConfig()
    for remediation in (None, _remediation(enabled=False), _remediation()):
        state, _ = rules.evaluate(AlertState(), _connect_only(FAILED_ORDERS, 0.0), 0.0, cfg, remediation)
        state, transitions = rules.evaluate(state, _connect_only(FAILED_ORDERS, 59.0), 59.0, cfg, remediation)
        assert transitions == []
        state, transitions = rules.evaluate(state, _connect_only(FAILED_ORDERS, 60.0), 60.0, cfg, remediation)
        assert [t.entry.key.alert for t in transitions] == ["CdcTaskFailed"]


def test_a_restart_older_than_the_poll_only_counts_when_the_poll_started_after_it() -> None:
    cfg = RulesConfig()
    view = _remediation(restarts={("prod", "orders"): (1, 20.0)})
    _, transitions = rules.evaluate(AlertState(), _connect_only(FAILED_ORDERS, 21.0, 19.0), 21.0, cfg, view)
    assert transitions == []  # that poll began before the restart: it says nothing of its effect


def test_a_non_retriable_failure_pages_at_the_first_poll_even_with_remediation_on() -> None:
    from generate.scenarios import ACCESS_DENIED

    step = Step(0, FAILED_ORDERS.clusters, trace=ACCESS_DENIED)
    _, transitions = rules.evaluate(AlertState(), _connect_only(step, 0.0), 0.0, RulesConfig(), _remediation())
    (fired,) = transitions
    assert fired.change is Change.FIRED and fired.entry.evidence.kind == "access_denied"


def test_a_confirmed_deletion_resolves_with_reason_deleted_and_the_notice_says_so() -> None:
    from cdc_watch.notify.plan import NotifyState, PlanSettings, plan
    from cdc_watch.rules.model import Resolution

    cfg = RulesConfig.model_validate({"overrides": {"CdcTaskFailed": {"for": "0s"}}})
    settings = PlanSettings(cfg, 3600.0, "https://runbook")
    state, transitions = rules.evaluate(AlertState(), _connect_only(FAILED_ORDERS, 0.0), 0.0, cfg)
    notify, _ = plan(NotifyState(), state, transitions, 0.0, settings)
    gone = Step(15, {"prod": {}}, deleted=("orders",))
    state, transitions = rules.evaluate(state, _connect_only(gone, 15.0), 15.0, cfg)
    (resolved,) = transitions
    assert resolved.change is Change.RESOLVED and resolved.reason is Resolution.DELETED
    assert not state.entries
    _, messages = plan(notify, state, transitions, 15.0, settings)
    (message,) = messages
    assert message.kind.value == "resolved" and message.alerts[0].resolution == "deleted"
    # missing without confirmation: held for vanished_after, as before
    state, _ = rules.evaluate(AlertState(), _connect_only(FAILED_ORDERS, 0.0), 0.0, cfg)
    state, transitions = rules.evaluate(state, _connect_only(Step(15, {"prod": {}}), 15.0), 15.0, cfg)
    assert transitions == [] and state.firing()


def test_not_streaming_folded_into_task_failed_sends_one_firing_message_and_no_resolve() -> None:
    from cdc_watch.notify.plan import NotifyState, PlanSettings, plan
    from cdc_watch.rules.model import Resolution
    from generate.scenarios import ALL_SOURCES, HEAD, db_step

    cfg = RulesConfig()
    settings = PlanSettings(cfg, 3600.0, "https://runbook")
    state, notify = AlertState(), NotifyState()
    sent = []
    disconnected = {"orders": {"position": HEAD, "connected": False}}
    failing = {"orders": ("RUNNING", {0: "FAILED@w1:8083"})}
    for at, step in (
        (0, db_step(0, jolokia=disconnected)),
        (120, db_step(120, jolokia=disconnected)),
        (135, db_step(135, connectors=failing, jolokia={})),
        (195, db_step(195, connectors=failing, jolokia={})),
    ):
        state, transitions = rules.evaluate(state, full_snapshot(step, ALL_SOURCES, at, 0.0), at, cfg)
        notify, messages = plan(notify, state, transitions, at, settings)
        sent += [(m.kind.value, [a.key.alert for a in m.alerts]) for m in messages]
        if at == 195:
            (folded,) = [t for t in transitions if t.change is Change.RESOLVED]
            assert folded.reason is Resolution.SUPERSEDED and folded.by == "CdcTaskFailed"
            (task,) = state.firing()
            assert ("supersedes", "CdcNotStreaming") in task.evidence.facts
    assert sent == [("firing", ["CdcNotStreaming"]), ("firing", ["CdcTaskFailed"])]


def test_a_page_names_a_bounded_number_of_failed_jolokia_endpoints():
    workers = tuple(f"w{i}:8083" for i in range(8))
    state = jolokia_state("prod", {}, members=workers[:1], silent=workers[1:])
    evidence = rules._endpoints_failed(state)
    assert evidence is not None
    facts = dict(evidence.facts)
    assert facts["endpoints failed"] == "w1:8083, w2:8083, w3:8083, w4:8083, w5:8083 and 2 more (7 of 8)"
    assert facts["reason"] == "connect"
    assert rules._endpoints_failed(jolokia_state("prod", {}, members=workers)) is None
