"""What a delivered notification costs on disk, and what a SIGKILL during delivery repeats.

    .venv/bin/python benchmarks/bench_outbox.py [kills]

1. Bookkeeping per delivered message with 1,000 messages of 3.2 KB waiting (3.2 MB, the size
   measured in issue 16): the previous way (the whole state file rewritten with fsync after
   each delivery) against the outbox journal (one appended `done` line, compactions included),
   next to two floors measured in the same run: one fsynced append of a short line, one fsynced
   write of 3.2 MB.
2. SIGKILL during delivery: a child process delivers 200 notices from its outbox to a local
   Slack capture endpoint (incoming webhook, then bot token) and is killed with SIGKILL; a
   second run on the same journal delivers the rest. Killed two ways: the moment the endpoint
   has a random one of them (the worst moment: the endpoint has it, the child has not heard
   back), and at a random moment of the delivery. Counts, per kill, the notices lost and the
   notices a person sees twice (a chat.update of a message already posted is not a second one).
3. A warning logged for each of 20,000 connectors with Sentry's send_logs on: the cost per
   warning and the events queued for Sentry, next to the same warnings without Sentry.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sentry_sdk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cdc_watch.config import SentrySettings, SlackSettings
from cdc_watch.core.clock import SystemClock
from cdc_watch.core.statefile import Journal, StateFile
from cdc_watch.notify.delivery import Delivery, Outbox
from cdc_watch.notify.sentry import close_sentry, init_sentry
from cdc_watch.notify.slack import SlackChannel
from tests.support.capture import CaptureServer

ITEMS, ITEM_BYTES, MEASURED = 1000, 3200, 200
NOTICES = 200


def _item(n: int) -> dict:
    notice = {"text": f"notice {n:05d} " + "x" * (ITEM_BYTES - 200), "severity": "info", "group": [], "at": 0.0}
    return {"id": f"id{n:05d}", "channel": "slack", "kind": "notice", "payload": {"notice": notice}}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def _fsynced(path: Path, mode: str, data: bytes) -> float:
    """Seconds to write `data` to `path` (opened with `mode`) and fsync it."""
    t0 = time.perf_counter()
    with path.open(mode) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return time.perf_counter() - t0


def bookkeeping(tmp: Path) -> None:
    items = [_item(n) for n in range(ITEMS)]
    state = StateFile(tmp / "old.json")
    old = []
    for k in range(MEASURED):  # the previous version: the outbox inside the alerts section
        t0 = time.perf_counter()
        state.save("alerts", {"state": {}, "notify": [], "outbox": items[k + 1 :]})
        old.append(time.perf_counter() - t0)
    os.sync()  # the rewrites' write-back must not slow the next phase's fsyncs
    outbox = Outbox(Journal(tmp / "new.outbox"))
    outbox.add(items)
    new = []
    for item in items:  # every delivery, so the compactions it triggers are counted too
        t0 = time.perf_counter()
        outbox.done(item["id"], True)
        new.append(time.perf_counter() - t0)
    os.sync()
    line = b'{"delivered":true,"id":"id00001","op":"done"}\n'
    blob = json.dumps(items).encode()
    floor_append = [_fsynced(tmp / "floor", "ab", line) for _ in range(MEASURED)]
    floor_rewrite = [_fsynced(tmp / "floor.big", "wb", blob) for _ in range(20)]
    print(f"bookkeeping per delivered message, {ITEMS} waiting, {len(blob) / 1e6:.1f} MB:")
    print(f"  state file rewrite (previous): median {_ms(statistics.median(old))}, max {_ms(max(old))}")
    print(
        f"  outbox journal (now):          median {_ms(statistics.median(new))}, max {_ms(max(new))}"
        f" (compactions included), mean {_ms(statistics.fmean(new))}"
    )
    print(
        f"  floors: fsynced append {_ms(statistics.median(floor_append))},"
        f" fsynced write of {len(blob) / 1e6:.1f} MB {_ms(statistics.median(floor_rewrite))}"
    )


def child(journal: str, mode: str, url: str, first: bool) -> None:
    """One daemon's delivery, on its own: the notices of its outbox to Slack, as fast as allowed."""
    if mode == "webhook":
        os.environ["BENCH_OUTBOX_SLACK"] = url + "/slack/webhook/default"
        settings = SlackSettings.model_validate({"webhook_url": "${BENCH_OUTBOX_SLACK}"})
    else:
        os.environ["BENCH_OUTBOX_SLACK"] = "xoxb-bench"
        settings = SlackSettings.model_validate(
            {"token": "${BENCH_OUTBOX_SLACK}", "channel": "#b", "api_url": url + "/api/"}
        )
    outbox = Outbox(Journal(Path(journal)), keep_upto=None)
    if first:
        outbox.add([_item(n) for n in range(NOTICES)])
    delivery = Delivery({"slack": SlackChannel(settings)}, SystemClock(), max_per_minute=1000, outbox=outbox)
    for item in outbox.items():
        delivery.submit("slack", item["payload"], ident=item["id"], kind="notice", receipt=item.get("receipt"))
    delivery.run_pending()


def _prefix(mode: str) -> str:
    return "/slack/webhook/" if mode == "webhook" else "/api/chat.postMessage"


def delivery_time(mode: str) -> float:
    """Seconds from the first notice reaching the endpoint to the last, uninterrupted."""
    capture = CaptureServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, __file__, "--child", str(Path(tmp) / "outbox"), mode, capture.url, "first"],
            check=True,
            timeout=120,
        )
    capture.stop()
    return capture.last_at - capture.first_at


def kills(mode: str, rounds: int, rng: random.Random, span: float | None) -> None:
    lost, twice, updated = [], [], []
    prefix = _prefix(mode)
    for _ in range(rounds):
        capture = CaptureServer().start()
        with tempfile.TemporaryDirectory() as tmp:
            journal = str(Path(tmp) / "outbox")
            args = [sys.executable, __file__, "--child", journal, mode, capture.url]
            proc = subprocess.Popen([*args, "first"])
            if span is None:
                capture.wait_for(prefix, rng.randint(5, NOTICES - 20), timeout=60)
            else:
                capture.wait_for(prefix, 1, timeout=60)
                time.sleep(rng.uniform(0.0, span * 0.9))  # a benchmark, not a test: a random moment
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            subprocess.run([*args, "again"], check=True, timeout=120)
        capture.stop()
        texts = [r.json()["text"].split()[2] for r in capture.received(prefix)]
        lost.append(NOTICES - len(set(texts)))
        twice.append(len(texts) - len(set(texts)))
        updated.append(len(capture.received("/api/chat.update")))
    how = "when the endpoint has notice k" if span is None else "at a random moment"
    print(
        f"  {mode}, killed {how}: {rounds} kills; lost per kill {lost}; seen twice per kill {twice};"
        f" re-sent as chat.update {updated}"
    )


def warnings_cost() -> None:
    os.environ["BENCH_OUTBOX_DSN"] = "http://publickey@127.0.0.1:9/42"
    queued: list[str] = []
    root = logging.getLogger()
    root.handlers[:] = [logging.NullHandler()]
    root.setLevel(logging.WARNING)
    log = logging.getLogger("cdc_watch.sources.connect.poll")

    def storm() -> float:
        t0 = time.perf_counter()
        for i in range(20000):
            log.warning(
                "offsets not read; keeping the previous ones",
                extra={"source": "connect_offsets:prod", "connector": f"c{i}", "reason": "timeout", "error": "x"},
            )
        return (time.perf_counter() - t0) / 20000

    init_sentry(
        SentrySettings.model_validate({"dsn": "${BENCH_OUTBOX_DSN}"}), lambda _c, p: queued.append(p) or True, []
    )
    with_sentry = storm()
    close_sentry()
    sentry_sdk.init(dsn="", default_integrations=False)
    floor = storm()
    print("20,000 per-connector warnings, Sentry send_logs on:")
    print(
        f"  {with_sentry * 1e6:.1f} us per warning, {len(queued)} Sentry event(s) queued; floor without Sentry {floor * 1e6:.1f} us"
    )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        bookkeeping(Path(tmp))
    warnings_cost()
    rng = random.Random(16)
    print(f"SIGKILL while {NOTICES} notices are being delivered (each delivery: send, then journal):")
    for mode in ("webhook", "bot"):
        span = delivery_time(mode)
        print(f"  {mode}: {NOTICES} notices delivered in {span:.2f} s uninterrupted")
        kills(mode, rounds, rng, None)
        kills(mode, rounds, rng, span)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "first")
    else:
        main()
