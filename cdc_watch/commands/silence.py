"""`cdc-watch silence add|list|remove`: time-bound silences on the running daemon.

Talks to the daemon's HTTP port (`--web.url`, default http://127.0.0.1:10108); the daemon keeps
silences in its state file, so they survive its restart. Exit codes: 0 ok, 1 daemon refused or
unreachable, 2 usage.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import TextIO

import httpx

DEFAULT_URL = "http://127.0.0.1:10108"


def add_parser(commands: argparse._SubParsersAction, _add_common) -> None:
    silence = commands.add_parser("silence", help="add, list or remove time-bound alert silences on the running daemon")
    silence.add_argument(
        "--web.url", dest="web_url", default=DEFAULT_URL, help="the daemon's HTTP address (default: %(default)s)"
    )
    actions = silence.add_subparsers(dest="silence_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="silence matching alerts for a while")
    add.add_argument("--alert", help="alert name, e.g. CdcTaskFailed")
    add.add_argument("--connect-cluster", dest="connect_cluster")
    add.add_argument("--connector")
    add.add_argument("--database")
    add.add_argument("--for", dest="duration", required=True, help='how long, e.g. "30m", "2h" (at most 30d)')
    add.add_argument("--comment", default="")
    actions.add_parser("list", help="list active silences")
    remove = actions.add_parser("remove", help="remove a run-time silence by id")
    remove.add_argument("id")


def run(
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    transport: httpx.BaseTransport | None = None,
) -> int:
    base = args.web_url.rstrip("/")
    try:
        with httpx.Client(timeout=10, transport=transport) as client:
            if args.silence_action == "add":
                matchers = {
                    k: v
                    for k, v in (
                        ("alert", args.alert),
                        ("connect_cluster", args.connect_cluster),
                        ("connector", args.connector),
                        ("database", args.database),
                    )
                    if v
                }
                if not matchers:
                    print("give at least one of --alert, --connect-cluster, --connector, --database", file=err)
                    return 2
                body = {"matchers": matchers, "duration": args.duration, "comment": args.comment, "created_by": _user()}
                response = client.post(f"{base}/api/v1/silences", json=body)
            elif args.silence_action == "list":
                response = client.get(f"{base}/api/v1/silences")
            else:
                response = client.delete(f"{base}/api/v1/silences/{args.id}")
    except httpx.HTTPError as exc:
        print(f"cannot reach the daemon at {base}: {type(exc).__name__}", file=err)
        return 1
    try:
        reply = response.json()
    except ValueError:
        reply = {"error": f"HTTP {response.status_code}"}
    if response.status_code != 200:
        print(f"refused: {reply.get('error', response.status_code)}", file=err)
        return 1
    if args.silence_action == "add":
        s = reply["silence"]
        print(f"silence {s['id']} until {_when(s['until'])}: {_matchers(s)}", file=out)
    elif args.silence_action == "list":
        for s in reply["silences"]:
            print(f"{s['id']}\t{_when(s['until'])}\t{_matchers(s)}\t{s.get('comment', '')}", file=out)
    else:
        print(f"removed {reply['removed']}", file=out)
    return 0


def _matchers(silence: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(silence["matchers"].items()))


def _when(ts: float | None) -> str:
    return "forever (config)" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""
