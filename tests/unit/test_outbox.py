"""The outbox journal: bounds, compaction, and a crash at every step of a delivery.

A crash is simulated by a hook that raises `Crash` (a BaseException, so nothing in the daemon
catches it) at one named step; the objects of that run are then abandoned, as a SIGKILL would
leave them, and a new run is built on the same files. What reaches the capture endpoints
(Slack webhook, Slack Web API, Sentry) is counted: nothing may be lost, and a message may go
out twice only at the steps docs/notifications.md lists.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cdc_watch.core.clock import FakeClock
from cdc_watch.core.statefile import Journal, StateFile
from cdc_watch.notify.delivery import Delivery, Outbox
from generate.scenarios import Step
from tests.unit.test_notify import WEBHOOK, Harness, Recorder, failed, healthy, saved_outbox


class Crash(BaseException):
    """The process dies here."""


def crash_at(step: str, nth: int = 1, journal: Path | None = None):
    """A hook that crashes at the `nth` time `step` is reached; with `journal`, the last line
    of that file is first cut in half (the append was torn)."""
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name != step:
            return
        seen["n"] += 1
        if seen["n"] == nth:
            if journal is not None:
                data = journal.read_bytes()
                start = data.rstrip(b"\n").rfind(b"\n") + 1
                journal.write_bytes(data[: start + (len(data) - start) // 2])
            raise Crash(step)

    return hook


def bot(slack_env) -> dict:
    return {
        "slack": {"token": "${SLACK_TOKEN}", "channel": "#cdc", "api_url": slack_env.url + "/api/"},
        "rules": {"keep_firing_for": "0s"},
    }


SENTRY_ONLY = {"sentry": {"dsn": "${SENTRY_DSN}"}, "rules": {"keep_firing_for": "0s"}}


class Seen:
    """What one channel's endpoint got, as messages a person would see."""

    def __init__(self, channel: str, slack_env):
        self.channel, self.env = channel, slack_env

    def firing(self) -> tuple[int, int]:
        """(requests that carried the FIRING message, distinct messages a person sees)."""
        return self._count("FIRING")

    def resolved(self) -> tuple[int, int]:
        return self._count("RESOLVED")

    def _count(self, word: str) -> tuple[int, int]:
        if self.channel == "webhook":
            sent = [r for r in self.env.received("/slack/webhook/") if word in r.json()["text"]]
            return len(sent), len(sent)
        if self.channel == "bot":
            posts = [r for r in self.env.received("/api/chat.postMessage") if word in r.json()["text"]]
            updates = [r for r in self.env.received("/api/chat.update") if word in r.json()["text"]]
            return len(posts) + len(updates), len(posts)  # an update shows the same message again
        if word == "RESOLVED":  # Sentry gets firing alerts only
            return 0, 0
        events = [
            e
            for r in self.env.received("/api/42/envelope/")
            for e in r.sentry_events()
            if e.get("logger") == "cdc_watch.alerts"
        ]
        return len(events), len({e["event_id"] for e in events})  # Sentry keeps one event per id


def _config(channel: str, slack_env) -> dict:
    return {"webhook": WEBHOOK, "bot": bot(slack_env), "sentry": SENTRY_ONLY}[channel]


# (step, nth time reached, torn: cut the journal's last line first) -> FIRING (requests, messages seen)
# The journal appends of one FIRING item: 1 add, (bot: 2 posted), then done.
CRASHES = {
    "torn-add": ("appended", 1, True),
    "added": ("added", 1, False),
    "before_send": ("before_send", 1, False),
    "after_send": ("after_send", 1, False),
    "after_receipt": ("after_receipt", 1, False),
    "torn-done": ("appended", None, True),  # nth: the done append of the channel
    "after_done": ("after_done", 1, False),
    "mid-compaction": ("rewrite_written", 1, False),
    "after-compaction": ("rewrite_replaced", 1, False),
}
# Where a message may be sent twice (docs/notifications.md): the channel took it, the journal
# does not say so yet. Slack's Web API turns it into an update once the receipt is journaled;
# Sentry keeps the first event of an id.
TWICE = {
    ("webhook", "after_send"),
    ("webhook", "torn-done"),
    ("bot", "after_send"),
    ("sentry", "after_send"),
    ("sentry", "torn-done"),
}
UPDATED = {("bot", "after_receipt"), ("bot", "torn-done")}  # re-sent as chat.update of the same message


CASES = [
    (channel, crash)
    for channel in ("webhook", "bot", "sentry")
    for crash in CRASHES
    if crash != "after_receipt" or channel == "bot"  # only Slack's Web API returns a receipt
]


@pytest.mark.parametrize(("channel", "crash"), CASES)
def test_a_crash_at_any_step_loses_nothing_and_repeats_only_where_documented(
    slack_env, sentry_cleanup, tmp_path, channel, crash
):
    state = tmp_path / "state.json"
    journal = tmp_path / "state.json.outbox"
    step, nth, torn = CRASHES[crash]
    config = _config(channel, slack_env)
    first = Harness(config, state)
    if nth is None:
        nth = 3 if channel == "bot" else 2
    first.service.outbox.hook = crash_at(step, nth, journal if torn else None)
    first.service.outbox.compact_min_bytes = 0  # compact after every done: the compaction steps are reached
    with pytest.raises(Crash):
        first.evaluate(failed(0))
        first.evaluate(failed(0), advance=60)  # FIRING planned, journaled, state saved
        first.delivery.run_pending()
    assert not list(tmp_path.glob("*.tmp-*")) or crash == "mid-compaction"

    second = Harness(config, state, clock=first.clock)  # the restarted daemon, same files
    assert not list(tmp_path.glob("*.tmp-*"))  # a temp file the crash left is gone
    second.delivery.run_pending()
    second.step(failed(0), advance=15)  # the next poll: plans again what the lost state had planned
    second.step(healthy(), advance=15)
    seen = Seen(channel, slack_env)
    requests, messages = seen.firing()
    assert messages == (2 if (channel, crash) in TWICE and channel != "sentry" else 1), (requests, messages)
    if (channel, crash) in TWICE or (channel, crash) in UPDATED:
        assert requests == 2
    else:
        assert requests == 1
    if channel == "bot" and (channel, crash) in UPDATED:
        (update,) = slack_env.received("/api/chat.update")
        assert update.json()["ts"] == "1700000000.000001" and update.json()["channel"] == "C1"
    if channel != "sentry":
        assert seen.resolved() == (1, 1)
    assert saved_outbox(state) == []


def test_a_compaction_crash_keeps_the_old_journal_and_the_temp_file_goes(tmp_path):
    path = tmp_path / "j"
    outbox = Outbox(Journal(path), compact_ratio=1, compact_min_bytes=0)
    outbox.add([{"id": "a", "channel": "slack", "kind": "firing", "payload": {"x": 1}}])
    outbox.add([{"id": "b", "channel": "slack", "kind": "resolved", "payload": {"x": 2}}])
    outbox.hook = crash_at("rewrite_written")
    with pytest.raises(Crash):
        outbox.done("a", True)
    (temp,) = tmp_path.glob("j.tmp-*")
    again = Outbox(Journal(path), keep_upto=2)
    assert [i["id"] for i in again.items()] == ["b"] and not temp.exists()


# ------------------------------------------------------------------ the journal itself
def test_a_torn_last_line_is_dropped_and_cut_off_so_the_next_append_is_clean(tmp_path, caplog):
    path = tmp_path / "j"
    journal = Journal(path)
    journal.append([{"n": 1}, {"n": 2}])
    path.write_bytes(path.read_bytes() + b'{"n": 3, "half')  # the append of n=3 never returned
    with caplog.at_level(logging.INFO):
        reopened = Journal(path)
    assert reopened.records == [{"n": 1}, {"n": 2}] and "incomplete record" in caplog.text
    reopened.append([{"n": 4}])
    assert Journal(path).records == [{"n": 1}, {"n": 2}, {"n": 4}]


def test_an_unreadable_line_inside_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "j"
    path.write_bytes(b'{"n": 1}\n\x00\x00\x00\n{"n": 2}\n')
    with caplog.at_level(logging.WARNING):
        assert Journal(path).records == [{"n": 1}, {"n": 2}]
    assert "unreadable" in caplog.text


def test_temp_files_of_interrupted_writes_are_removed_at_start(tmp_path):
    state = tmp_path / "state.json"
    StateFile(state).save("a", {"n": 1})
    leftovers = [tmp_path / "state.json.tmp-abc123", tmp_path / "state.json.outbox.tmp-1"]
    kept = [
        tmp_path / "state.json.corrupt-1700000000",
        tmp_path / "state.json.outbox",
        tmp_path / "state.json.20261203",
    ]
    for path in leftovers + kept:
        path.write_text("{}")
    reopened = StateFile(state)
    reopened.journal("outbox")
    assert reopened.section("a") == {"n": 1}
    assert [p.exists() for p in leftovers] == [False, False] and all(p.exists() for p in kept)


def test_the_journal_stays_within_its_compaction_bound(tmp_path):
    path = tmp_path / "j"
    outbox = Outbox(Journal(path), compact_ratio=4, compact_min_bytes=4096)
    payload = {"text": "x" * 200}
    largest = 0
    for n in range(2000):
        outbox.add([{"id": f"i{n}", "channel": "slack", "kind": "firing", "payload": payload}])
        if n >= 5:
            outbox.done(f"i{n - 5}", True)  # five live at any time
        largest = max(largest, path.stat().st_size)
    live = sum(len(json.dumps({"op": "add", **i}, separators=(",", ":"))) + 1 for i in outbox.items())
    assert len(outbox) == 5 and largest <= max(4 * live, 4096) + 400  # plus the one record that tipped it
    assert [i["id"] for i in Outbox(Journal(path), keep_upto=outbox.seq).items()] == [
        f"i{n}" for n in range(1995, 2000)
    ]


def test_items_above_the_saved_seq_are_dropped_as_the_saved_state_plans_them_again(tmp_path):
    path = tmp_path / "j"
    outbox = Outbox(Journal(path))
    outbox.add([{"id": "a", "channel": "slack", "kind": "firing", "payload": 1}])
    saved = outbox.seq
    outbox.add([{"id": "b", "channel": "slack", "kind": "firing", "payload": 2}])  # crash before its state save
    reopened = Outbox(Journal(path), keep_upto=saved)
    assert [i["id"] for i in reopened.items()] == ["a"] and reopened.discarded == 1
    reopened.add([{"id": "c", "channel": "slack", "kind": "firing", "payload": 3}])
    assert [i["id"] for i in Outbox(Journal(path), keep_upto=reopened.seq).items()] == ["a", "c"]


def test_an_outbox_kept_in_the_state_file_by_an_older_version_is_moved_to_the_journal(slack_env, tmp_path):
    state = tmp_path / "state.json"
    first = Harness(WEBHOOK, state)
    first.evaluate(failed(0))
    first.evaluate(failed(0), advance=60)
    (item,) = saved_outbox(state)
    raw = json.loads(state.read_text())
    del raw["sections"]["alerts"]["outbox_seq"]
    raw["sections"]["alerts"]["outbox"] = [{k: item[k] for k in ("id", "channel", "kind", "payload")}]
    state.write_text(json.dumps(raw))
    (tmp_path / "state.json.outbox").unlink()
    second = Harness(WEBHOOK, state, clock=first.clock)
    assert "outbox" not in json.loads(state.read_text())["sections"]["alerts"]
    second.delivery.run_pending()
    assert len(slack_env.received("/slack/")) == 1 and saved_outbox(state) == []


# ------------------------------------------------------------------ bounds
def test_the_byte_bound_drops_the_lowest_priority_first_and_an_item_that_can_never_fit():
    recorder, done = Recorder(), []
    delivery = Delivery(
        {"slack": recorder}, FakeClock(), queue_size=100, queue_bytes=1000, on_done=lambda i, ok: done.append(i)
    )
    assert delivery.submit("slack", "r" * 400, ident="r1", kind="repeat")
    assert delivery.submit("slack", "x" * 400, ident="x1", kind="resolved")
    assert delivery.submit("slack", "f" * 400, ident="f1", kind="firing")  # 1200 bytes: the repeat goes
    assert delivery.pending_bytes() == 800 and done == ["r1"]
    assert delivery.submit("slack", "g" * 400, ident="f2", kind="firing")  # then the resolved
    assert done == ["r1", "x1"]
    assert not delivery.submit("slack", "h" * 1001, ident="f3", kind="firing")  # larger than the bound
    assert done == ["r1", "x1", "f3"] and delivery.pending() == 2
    assert delivery.dropped == {("slack", "repeat"): 1, ("slack", "resolved"): 1, ("slack", "firing"): 1}


def test_a_restart_with_more_than_the_bound_keeps_the_firing_and_journals_the_drops(slack_env, tmp_path):
    state = tmp_path / "state.json"
    config = {**WEBHOOK, "queue_size": 10}
    first = Harness({**WEBHOOK, "queue_size": 1000}, state)

    def tasks(state: str) -> Step:
        return Step(0, {"prod": {f"c{i}": ("RUNNING", {0: f"{state}@w1:8083"}) for i in range(12)}})

    first.evaluate(tasks("FAILED"))
    first.evaluate(tasks("FAILED"), advance=60)  # 12 FIRING planned, none sent
    first.evaluate(tasks("RUNNING"), advance=15)  # ... and 12 RESOLVED; then a crash
    assert len(saved_outbox(state)) == 24
    second = Harness(config, state, clock=first.clock)  # a smaller queue now
    assert second.delivery.pending() == 10
    kinds = [i["kind"] for i in saved_outbox(state)]
    assert kinds == ["firing"] * 10  # the resolved went first, then the two oldest firing
    assert 'cdc_notifications_dropped_total{channel="slack",kind="resolved"} 12' in second.metrics()
    assert 'cdc_notifications_dropped_total{channel="slack",kind="firing"} 2' in second.metrics()
    second.delivery.run_pending()
    assert len(slack_env.received("/slack/")) == 10 and saved_outbox(state) == []
