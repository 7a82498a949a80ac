"""Command line for the devstack: python -m devstack {up,down,status,reset,env,fault,load,record}."""

from __future__ import annotations

import argparse
import json
import runpy
import shlex
import sys
import time
from pathlib import Path

from . import versions
from .model import SAMPLE_CONNECTOR, ConnectorHandle
from .proc import StackError
from .stack import REPO_ROOT, Stack

FAULTS_WITH_CONNECTOR = (
    "task_failed_retriable",
    "task_failed_non_retriable",
    "not_streaming",
    "stop_connector",
    "pause_connector",
    "resume_connector",
    "purge_binlog_past",
    "records_fail_transform",
)
FAULTS_PLAIN = ("db_stop", "db_start", "restore_debezium_password", "restore_settings", "restore_grants", "heal_all")
FAULTS_WITH_WORKER = ("kill_worker", "start_worker", "jolokia_unreachable", "jolokia_reachable")


def _handle(stack: Stack, name: str) -> ConnectorHandle:
    if name == SAMPLE_CONNECTOR:
        return stack.sample_connector
    config = stack.rest("GET", f"/connectors/{name}/config").json()
    return ConnectorHandle(name, config["topic.prefix"], int(config["database.server.id"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the stack (idempotent) and wait until the sample connector streams")
    rs = sub.add_parser("reset", help="down + wipe state + up")
    version_help = (
        f"Kafka Connect version: {', '.join(versions.VERSIONS)} (default: $CDC_DEVSTACK_CONNECT_VERSION, "
        f"else the running stack's, else {versions.DEFAULT}); workers of another version are restarted"
    )
    for p in (up, rs):
        p.add_argument("--connect-version", choices=list(versions.VERSIONS), default=None, help=version_help)
    for p in (up,):
        p.add_argument("--with-worker2", action="store_true", help="a second Connect worker in the same group")
        p.add_argument("--with-prometheus", action="store_true", help="also start Prometheus + Alertmanager")
        p.add_argument(
            "--scrape-target",
            action="append",
            default=[],
            metavar="HOST:PORT",
            help="Prometheus scrape target (repeatable)",
        )
        p.add_argument("--rules", action="append", default=[], metavar="FILE", help="Prometheus rule file (repeatable)")
        p.add_argument("--webhook-url", default=None, help="Alertmanager webhook receiver URL")
    sub.add_parser("down", help="stop every piece")
    st = sub.add_parser("status", help="pid, port and up/down of each piece")
    st.add_argument("--json", action="store_true")
    rs.add_argument("--with-worker2", action="store_true")
    sub.add_parser("env", help="print `export KEY=value` lines (passwords, URLs) for a shell to eval")

    fault = sub.add_parser("fault", help="inject or undo a fault")
    fault.add_argument(
        "name",
        choices=FAULTS_WITH_CONNECTOR
        + FAULTS_PLAIN
        + FAULTS_WITH_WORKER
        + ("set_binlog_format", "set_binlog_row_image", "set_binlog_retention", "revoke_grant"),
    )
    fault.add_argument("arg", nargs="?", help="worker number, binlog format/row image, retention seconds, or privilege")
    fault.add_argument("--connector", default=SAMPLE_CONNECTOR)

    load = sub.add_parser("load", help="write rows into inventory.customers at a steady rate")
    load.add_argument("--rate", type=float, default=10.0, help="rows per second")
    load.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")

    sub.add_parser("record", help="record real replies into tests/fixtures/recorded/ (stack must be up)")

    args = parser.parse_args(argv)
    stack = Stack(connect_version=getattr(args, "connect_version", None))
    try:
        if args.command == "up":
            t0 = time.monotonic()
            stack.up(
                with_worker2=args.with_worker2,
                with_prometheus=args.with_prometheus,
                scrape_targets=args.scrape_target,
                rule_files=[Path(r) for r in args.rules],
                alertmanager_webhook_url=args.webhook_url,
            )
            version = stack.connect_version
            print(
                f"devstack up in {time.monotonic() - t0:.1f}s: Kafka Connect {version.connect} + Debezium "
                f"{version.debezium}; state in {stack.base_dir}"
            )
            _print_status(stack)
        elif args.command == "down":
            stack.down()
            print("devstack down")
        elif args.command == "status":
            status = stack.status()
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                _print_status(stack, status)
        elif args.command == "reset":
            stack.reset(with_worker2=args.with_worker2)
            _print_status(stack)
        elif args.command == "env":
            for key, value in stack.env().items():
                print(f"export {key}={shlex.quote(value)}")
        elif args.command == "fault":
            faults = stack.faults
            if args.name in FAULTS_WITH_CONNECTOR:
                result = getattr(faults, args.name)(_handle(stack, args.connector))
            elif args.name in FAULTS_WITH_WORKER:
                result = getattr(faults, args.name)(int(args.arg or 1))
            elif args.name == "set_binlog_retention":
                if not args.arg or not args.arg.isdigit():
                    parser.error("fault set_binlog_retention needs a number of seconds")
                result = faults.set_binlog_retention(int(args.arg))
            elif args.name in ("set_binlog_format", "set_binlog_row_image", "revoke_grant"):
                if not args.arg:
                    parser.error(f"fault {args.name} needs an argument")
                result = getattr(faults, args.name)(args.arg)
            else:
                result = getattr(faults, args.name)()
            print(f"fault {args.name}: done" + (f": {json.dumps(result, default=str)[:2000]}" if result else ""))
        elif args.command == "load":
            handle = stack.faults.write_load(args.rate, args.duration)
            try:
                handle.join()
            except KeyboardInterrupt:
                handle.stop()
            print(f"wrote {handle.rows} rows")
        elif args.command == "record":
            sys.argv = [str(REPO_ROOT / "scripts" / "record_fixtures.py")]
            runpy.run_path(sys.argv[0], run_name="__main__")
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _print_status(stack: Stack, status: dict | None = None) -> None:
    status = status or stack.status()
    print(f"{'piece':<13} {'pid':>8} {'port':>6}  state  log")
    for piece, info in status.items():
        state = "up" if info["up"] else "down"
        extra = ""
        if "jolokia_port" in info:
            extra = f"  (jolokia :{info['jolokia_port']} {'up' if info['jolokia_up'] else 'down'}"
            extra += f", Connect {info['connect_version']})" if info.get("connect_version") else ")"
        print(f"{piece:<13} {info['pid'] or '-'!s:>8} {info['port']:>6}  {state:<5}  {info['log']}{extra}")


if __name__ == "__main__":
    sys.exit(main())
