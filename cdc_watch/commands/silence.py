"""`cdc-watch silence add|list|remove`: time-bound silences on the running daemon.

Talks to the daemon's HTTP port (`--web.url`, default http://127.0.0.1:10108), with
$CDC_WATCH_ADMIN_TOKEN as its bearer token when set (docs/security.md); the daemon keeps
silences in its state file, so they survive its restart. Exit codes: 0 ok, 1 daemon refused or
unreachable, 2 usage.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from typing import TextIO

import httpx

from cdc_watch.commands import Common, command_with_actions, shared_default
from cdc_watch.config import parse_duration

DEFAULT_URL = "http://127.0.0.1:10108"
TOKEN_ENV = "CDC_WATCH_ADMIN_TOKEN"  # sent as the bearer token when set (the daemon's web.admin_token)


def _add_url(parser: argparse.ArgumentParser, top: bool) -> None:
    parser.add_argument(
        "--web.url",
        dest="web_url",
        default=shared_default(DEFAULT_URL, top),
        metavar="URL",
        help=f"the daemon's HTTP address (default: {DEFAULT_URL})",
    )


def add_parser(commands: argparse._SubParsersAction, add_common: Common) -> None:
    leaf = command_with_actions(
        commands,
        "silence",
        "silence_action",
        add_common,
        _add_url,
        "add, list or remove time-bound alert silences on the running daemon",
        "Add, list or remove time-bound alert silences on the running daemon. Exit codes: 0 ok, "
        "1 the daemon refused or is unreachable, 2 usage.",
    )
    add = leaf("add", "silence matching alerts for a while")
    add.add_argument("--alert", help="alert name, e.g. CdcTaskFailed")
    add.add_argument("--connect-cluster", dest="connect_cluster", help="connect_cluster label to match")
    add.add_argument("--connector", help="connector name to match")
    add.add_argument("--database", help="database (databases entry name) to match")
    add.add_argument(
        "--for",
        dest="duration",
        required=True,
        metavar="DURATION",
        help='how long, e.g. "30m", "2h", "1h30m" (at most 30d)',
    )
    add.add_argument("--comment", default="", help="why, shown by list and kept with the silence")
    leaf("list", "list active silences")
    remove = leaf("remove", "remove a run-time silence by id")
    remove.add_argument("id", help="silence id, as printed by add and list")


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    out = out or sys.stdout  # looked up per call, not when the module was imported
    err = err or sys.stderr
    base = args.web_url.rstrip("/")
    token = os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(timeout=10, transport=transport, headers=headers) as client:
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
                try:
                    parse_duration(args.duration)
                except ValueError as exc:
                    print(f"--for: {exc}", file=err)
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
