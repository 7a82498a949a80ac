"""HA failover time: SIGKILL of the leader to the new leader's first chance to act.

    CDC_DEVSTACK_PORT_BROKER=... .venv/bin/python benchmarks/bench_failover.py [kills] [session_timeout]

Runs two replica processes (each the daemon's `Replica`: lease plus shared state, without
sources) against the devstack broker, in a group of their own. Each round kills the leader
with SIGKILL and times until the other replica's gate opens (`is_leader()` true: the state
topic was read and it may notify and remediate); then starts a fresh replica to stand by. The
daemon acts at its next poll evaluation, so its first action comes at most one poll interval
after the figure printed. Prints each round, the median and the worst, and the target
(session timeout + one 15 s poll interval); asserts nothing.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_POLL = 15.0


def child(bootstrap: str, group: str, session: str) -> None:
    from cdc_watch.config import HighAvailability
    from cdc_watch.ha.lease import Role
    from cdc_watch.ha.replica import Replica

    settings = HighAvailability.model_validate(
        {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "lease_topic": f"{group}-lease",
            "state_topic": f"{group}-state",
            "session_timeout": session,
            "heartbeat_interval": "1s",
            "step_down_margin": "2s",
            "timeout": "2s",
        }
    )
    replica = Replica(settings, member=f"bench-{os.getpid()}")
    replica.start()
    said = ""
    while True:
        role = replica.lease.role()
        word = "leader" if replica.is_leader() else ("follower" if role == Role.FOLLOWER else "")
        if word and word != said:
            print(f"{word} {time.time():.3f}", flush=True)
            said = word
        time.sleep(0.02)


class Proc:
    def __init__(self, bootstrap: str, group: str, session: str):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", bootstrap, group, session],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.events: list[tuple[str, float]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            word, at = line.split()
            with self._cond:
                self.events.append((word, float(at)))
                self._cond.notify_all()

    def wait(self, word: str, timeout: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: any(w == word for w, _ in self.events), timeout)
            return next((at for w, at in self.events if w == word), None)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    session = sys.argv[2] if len(sys.argv) > 2 else "6s"
    seconds = float(session.rstrip("s"))
    bootstrap = f"127.0.0.1:{os.environ.get('CDC_DEVSTACK_PORT_BROKER', '19092')}"
    group = f"bench-{uuid.uuid4().hex[:8]}"
    print(f"broker {bootstrap}, group {group}, session_timeout {session}, {kills} kills")
    procs = [Proc(bootstrap, group, session)]
    try:
        if procs[0].wait("leader", 60) is None:
            raise SystemExit("no leader within 60 s: is the devstack broker up?")
        figures = []
        for n in range(kills):
            standby = Proc(bootstrap, group, session)
            procs.append(standby)
            if standby.wait("follower", 60) is None:
                raise SystemExit("the standby replica did not join within 60 s")
            leader = next(p for p in procs if p.proc.poll() is None and p is not standby)
            killed = time.time()
            leader.kill()
            became = standby.wait("leader", seconds * 4 + 30)
            if became is None:
                print(f"kill {n + 1}: no takeover")
                continue
            figures.append(became - killed)
            print(f"kill {n + 1}: new leader acting {became - killed:.2f} s after SIGKILL")
        if figures:
            target = seconds + DEFAULT_POLL
            print(
                f"failover over {len(figures)} kills: median {statistics.median(figures):.2f} s, "
                f"worst {max(figures):.2f} s; target <= session timeout + one poll interval = {target:.0f} s "
                f"(the daemon's first action comes at its next poll, at most {DEFAULT_POLL:.0f} s later by default)"
            )
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
