"""`cdc-watch connectors ...`: list, inspect, restart, pause, resume, stop, delete, show offsets
of and register connectors on a Kafka Connect cluster from the config (or `--url`).

This module does the I/O: it picks the cluster, sends the requests through the shared
`ConnectClient` (failover across workers, error classification) and prints what the pure
`connect_views` module made of the replies. Exit codes: see `cdc_watch.commands.ExitCode`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx

from cdc_watch.commands import CommandError, Common, ExitCode, command_with_actions, shared_default
from cdc_watch.commands import connect_views as views
from cdc_watch.config import ConfigError, ConnectCluster, RemediationConfig, load_config, parse_duration
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.redact import secret_values
from cdc_watch.rules.table import ALERT_NAMES
from cdc_watch.sources.connect.parse import (
    build_connector,
    is_rebalance_error,
    parse_offsets,
    parse_status,
)
from cdc_watch.sources.connect.poll import ConnectClient, ConnectSource, connector_path
from cdc_watch.sources.http import Reply

ACTIONS = ("list", "status", "restart", "pause", "resume", "stop", "delete", "offsets", "register")
CONFLICT_RETRIES = 3
CONFLICT_BACKOFF_SECONDS = 2.0
# Creating or restarting goes through the herder, which can take far longer than a status poll
# on a busy cluster (Connect itself gives up after 90 s); the config's poll timeout is too short.
DEFAULT_TIMEOUT = "60s"
MUTATING = frozenset({"restart", "pause", "resume", "stop", "delete", "register"})
# Changes an operator's reconcile reverts (Strimzi's KafkaConnector holds state and config):
# refused on connectors matching remediation.operator_managed unless --force. A restart is not
# reverted, so it stays allowed.
RECONCILED = frozenset({"pause", "resume", "stop", "delete", "register"})


def _add_target(parser: argparse.ArgumentParser, top: bool) -> None:
    """--url, --cluster, -o, --timeout: on the command and on every action (`shared_default`)."""
    parser.add_argument(
        "--url",
        action="append",
        default=shared_default(None, top),
        metavar="URL",
        help="Kafka Connect worker URL instead of a cluster from the config (repeatable)",
    )
    parser.add_argument(
        "--cluster",
        default=shared_default(None, top),
        help="name of the connect_clusters entry to use (default: the only one)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default=shared_default("table", top),
        help="output format (default: table)",
    )
    parser.add_argument(
        "--timeout",
        default=shared_default(DEFAULT_TIMEOUT, top),
        metavar="DURATION",
        help=f"per request, instead of the cluster's poll timeout (default: {DEFAULT_TIMEOUT})",
    )


def add_parser(commands: argparse._SubParsersAction, add_common: Common) -> None:
    action = command_with_actions(
        commands,
        "connectors",
        "action",
        add_common,
        _add_target,
        "list, inspect, restart, pause, resume, stop, delete and register connectors",
        "Operate the connectors of a Kafka Connect cluster. Exit codes: 0 ok, 1 the operation "
        "failed upstream (unknown connector, invalid config, ...), 2 usage or config error, 3 cannot reach the cluster.",
    )

    def leaf(name: str, help_text: str, needs_name: bool = True) -> argparse.ArgumentParser:
        parser = action(name, help_text)
        if needs_name:
            parser.add_argument("name", help="connector name")
        if name in RECONCILED:
            parser.add_argument(
                "--force",
                action="store_true",
                help="act even on a connector matching remediation.operator_managed (its operator may revert it)",
            )
        return parser

    leaf("list", "list connectors with their state and tasks", needs_name=False)
    leaf("status", "show a connector, its tasks and their errors")
    restart = leaf("restart", "restart a connector and its tasks")
    restart.add_argument(
        "--failed-only",
        action="store_true",
        help="restart only FAILED instances (includeTasks=true&onlyFailed=true, Connect 3.0+)",
    )
    leaf("pause", "pause a connector and its tasks")
    leaf("resume", "resume a PAUSED or STOPPED connector")
    leaf("stop", "stop a connector and shut its tasks down (Connect 3.5+)")
    delete = leaf("delete", "delete a connector (its committed offsets stay in the offsets topic)")
    delete.add_argument("--yes", action="store_true", help="confirm the deletion (required)")
    leaf("offsets", "show a connector's committed source offsets (Connect 3.5+)")
    register = leaf("register", "validate a connector config, then create or update the connector", needs_name=False)
    register.add_argument(
        "file", help="connector definition, JSON or YAML: {name, config} or a flat config with name ('-' for stdin)"
    )
    register.add_argument("--dry-run", action="store_true", help="validate only; change nothing")


def resolve_cluster(args: argparse.Namespace) -> tuple[ConnectCluster, RemediationConfig]:
    """The cluster to talk to: `--url` builds an ad-hoc one, otherwise the config's (by `--cluster`);
    with the config's remediation section, whose `operator_managed` patterns guard the changes."""
    try:
        timeout = parse_duration(args.timeout)
    except ValueError as exc:
        raise CommandError(ExitCode.USAGE, f"--timeout: {exc}") from None
    if args.url:
        try:
            cli = ConnectCluster.model_validate({"name": "cli", "urls": list(args.url), "timeout": f"{timeout}s"})
            return cli, RemediationConfig()
        except ValueError as exc:
            raise CommandError(ExitCode.USAGE, f"--url: {_first_error(exc)}") from None
    try:
        config = load_config(args.config_file, alert_names=ALERT_NAMES)
    except ConfigError as exc:
        raise CommandError(ExitCode.USAGE, f"{args.config_file}: " + "; ".join(exc.problems)) from None
    clusters = {c.name: c for c in config.connect_clusters}
    if args.cluster is not None:
        if args.cluster not in clusters:
            raise CommandError(
                ExitCode.USAGE, f"no connect cluster named {args.cluster!r}; known: {', '.join(clusters)}"
            )
        cluster = clusters[args.cluster]
    elif len(clusters) == 1:
        cluster = next(iter(clusters.values()))
    else:
        raise CommandError(
            ExitCode.USAGE,
            f"the config has {len(clusters)} connect clusters; pick one with --cluster ({', '.join(clusters)})",
        )
    return for_commands(cluster, timeout), config.remediation


def for_commands(cluster: ConnectCluster, timeout: float) -> ConnectCluster:
    """Operator commands see every connector (include/exclude only scope monitoring) and wait longer."""
    return cluster.model_copy(update={"include": ("*",), "exclude": (), "timeout": timeout})


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0]["msg"]).removeprefix("Value error, ")
    return str(exc)


class Operations:
    """The connector operations against one cluster; each returns (view, human text)."""

    def __init__(
        self,
        cluster: ConnectCluster,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.cluster = cluster
        self.client = ConnectClient(cluster, transport)
        self.transport = transport
        self.sleep = sleep

    def close(self) -> None:
        self.client.close()

    def _send(
        self, method: str, path: str, params: list[tuple[str, str]] | None = None, json_body: Any = None
    ) -> Reply:
        """One request, retried a few times while the cluster answers "rebalance in progress"."""
        reply = self.client.request(method, path, params=params, json_body=json_body)
        for _ in range(CONFLICT_RETRIES - 1):
            if not is_rebalance_error(reply.status_code, reply.body):
                break
            self.sleep(CONFLICT_BACKOFF_SECONDS)
            reply = self.client.request(method, path, params=params, json_body=json_body)
        return reply

    def _config(self, name: str) -> dict | None:
        """The connector's config, or None when it cannot be read now (busy herder, rebalance).

        Only ever used to scrub secrets from traces and to name the class: never printed as is.
        """
        try:
            reply = self._send("GET", connector_path(name, "/config"))
        except SourceFailure:
            return None
        return reply.body if reply.status_code == 200 and isinstance(reply.body, dict) else None

    def _secrets(self, name: str) -> frozenset[str]:
        config = self._config(name)
        return secret_values(config) if config is not None else frozenset()

    def list(self) -> tuple[Any, str]:
        source = ConnectSource(self.cluster, self.transport)
        try:
            state = source.poll(None)
        finally:
            source.close()
        items = [views.connector_view(c) for c in state.connectors.values()]
        return items, views.render_list(items)

    def status(self, name: str) -> tuple[Any, str]:
        reply = self._send("GET", connector_path(name, "/status"))
        config = self._config(name)
        if reply.status_code == 404 and config is not None:
            raise CommandError(
                ExitCode.FAILED,
                f"status of {name}: the connector exists but has no status yet "
                "(just created or reassigned); retry in a moment",
                {"status": 404, "reason": "no_status"},
            )
        if reply.status_code != 200:
            raise views.unexpected_reply(reply, f"status of {name}", connector=name)
        connector, _problems = build_connector(name, reply.body, config)
        secrets = secret_values(config) if config is not None else frozenset()
        view = views.with_full_traces(views.connector_view(connector), reply.body, secrets)
        return view, views.render_status(view)

    def restart(self, name: str, failed_only: bool) -> tuple[Any, str]:
        secrets = self._secrets(name)
        params = [("includeTasks", "true"), ("onlyFailed", "true" if failed_only else "false")]
        reply = self._send("POST", connector_path(name, "/restart"), params=params)
        if reply.status_code == 202:
            view = views.restart_view(name, reply.body, secrets)
        elif reply.status_code == 204:
            # Connect < 3.0 ignores the parameters and restarts the Connector instance only.
            view = self._restart_tasks_one_by_one(name, failed_only, secrets)
        else:
            raise views.unexpected_reply(reply, f"restart of {name}", connector=name)
        return view, views.render_restart(view)

    def _restart_tasks_one_by_one(self, name: str, failed_only: bool, secrets: frozenset[str]) -> dict[str, Any]:
        reply = self._send("GET", connector_path(name, "/status"))
        if reply.status_code != 200:
            raise views.unexpected_reply(reply, f"status of {name}", connector=name)
        _state, _kind, worker, _trace, tasks, _ = parse_status(name, reply.body, secrets)
        view: dict[str, Any] = {
            "name": name,
            "connector": {"state": str(_state), "worker_id": worker, "restarting": True},
            "tasks": [],
        }
        for task in tasks:
            selected = not failed_only or task.state == "FAILED"
            if selected:
                task_reply = self._send("POST", connector_path(name, f"/tasks/{task.id}/restart"))
                if task_reply.status_code not in (200, 202, 204):
                    raise views.unexpected_reply(task_reply, f"restart of task {name}-{task.id}", connector=name)
            view["tasks"].append(dict(views.task_view(task), restarting=selected))
        return view

    def _state_change(self, name: str, verb: str, what: str) -> tuple[Any, str]:
        reply = self._send("PUT", connector_path(name, f"/{verb}"))
        if reply.status_code not in (200, 202, 204):
            raise views.unexpected_reply(reply, f"{verb} of {name}", connector=name)
        view = {"name": name, "requested": verb}
        return (
            view,
            f"connector {name}: {what} requested (asynchronous; check with `cdc-watch connectors status {name}`)",
        )

    def pause(self, name: str) -> tuple[Any, str]:
        return self._state_change(name, "pause", "pause")

    def resume(self, name: str) -> tuple[Any, str]:
        return self._state_change(name, "resume", "resume")

    def stop(self, name: str) -> tuple[Any, str]:
        return self._state_change(name, "stop", "stop")

    def delete(self, name: str) -> tuple[Any, str]:
        reply = self._send("DELETE", connector_path(name))
        if reply.status_code not in (200, 204):
            raise views.unexpected_reply(reply, f"delete of {name}", connector=name)
        return {
            "name": name,
            "deleted": True,
        }, f"connector {name}: deleted (its committed offsets remain in the offsets topic)"

    def offsets(self, name: str) -> tuple[Any, str]:
        reply = self._send("GET", connector_path(name, "/offsets"))
        if reply.status_code != 200:
            raise views.unexpected_reply(reply, f"offsets of {name}", connector=name)
        try:
            pairs = parse_offsets(reply.body)
        except SourceFailure as failure:
            raise CommandError(ExitCode.FAILED, f"offsets of {name}: {failure.message}") from None
        view = views.offsets_view(name, pairs)
        return view, views.render_offsets(view)

    def register(self, name: str, config: dict[str, str], dry_run: bool) -> tuple[Any, str]:
        secrets = secret_values(config)
        connector_class = config["connector.class"]
        reply = self._send(
            "PUT", f"/connector-plugins/{quote(connector_class, safe='')}/config/validate", json_body=config
        )
        if reply.status_code != 200:
            unknown = views.unknown_class_message(reply, connector_class)
            if unknown:
                raise CommandError(ExitCode.FAILED, f"register {name}: {unknown}", {"reason": "unknown_class"})
            raise views.unexpected_reply(reply, f"validation of {name}", secrets=secrets)
        count, errors = views.validation_errors(reply.body, secrets)
        if count:
            raise CommandError(
                ExitCode.FAILED,
                views.render_validation(name, connector_class, errors),
                {"reason": "invalid_config", "name": name, "errors": {e.field: list(e.messages) for e in errors}},
            )
        if dry_run:
            view = {"name": name, "valid": True, "action": "none", "config": views.redact_config(config)}
            return view, f"connector {name}: configuration is valid ({connector_class}); nothing changed (--dry-run)"
        reply = self._send("PUT", connector_path(name, "/config"), json_body=config)
        if reply.status_code not in (200, 201):
            raise views.unexpected_reply(reply, f"register {name}", secrets=secrets)
        action = "created" if reply.status_code == 201 else "updated"
        applied = (
            reply.body.get("config")
            if isinstance(reply.body, dict) and isinstance(reply.body.get("config"), dict)
            else config
        )
        view = {"name": name, "valid": True, "action": action, "config": views.redact_config(applied or {})}
        return view, f"connector {name}: {action} ({connector_class})"


def read_connector_file(path: str, stdin: TextIO) -> tuple[str, dict[str, str]]:
    if path == "-":
        return views.load_connector_file(stdin.read(), "<stdin>")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(ExitCode.USAGE, f"{path}: cannot read: {exc.strerror}") from None
    return views.load_connector_file(text, path)


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stdin: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = args.output == "json"
    ops: Operations | None = None
    try:
        if args.action == "delete" and not args.yes:
            raise CommandError(ExitCode.USAGE, f"deleting {args.name} cannot be undone; add --yes to confirm")
        definition = read_connector_file(args.file, stdin or sys.stdin) if args.action == "register" else None
        cluster, remediation = resolve_cluster(args)
        if args.action in RECONCILED and not args.force and not getattr(args, "dry_run", False):
            name = definition[0] if definition is not None else args.name
            if remediation.operator_manages(cluster.name, name):
                raise CommandError(
                    ExitCode.USAGE,
                    f"{name} on {cluster.name} matches remediation.operator_managed: its operator reconciles it and "
                    f"would revert a {args.action}; change the operator's resource (Strimzi: the KafkaConnector) "
                    "instead, or add --force",
                )
        ops = Operations(cluster, transport, sleep)
        if args.action == "list":
            view, text = ops.list()
        elif args.action == "restart":
            view, text = ops.restart(args.name, args.failed_only)
        elif args.action == "register":
            assert definition is not None
            view, text = ops.register(*definition, dry_run=args.dry_run)
        else:
            view, text = getattr(ops, args.action)(args.name)
    except CommandError as exc:
        return _fail(exc.code, exc.message, exc.detail, as_json, out, err)
    except SourceFailure as failure:
        code = views.exit_code_for(failure)
        message = failure.message
        if failure.reason is ErrorReason.TIMEOUT and args.action in MUTATING:
            message += "; the change may still have been applied: check with `cdc-watch connectors status`"
        return _fail(code, message, {"reason": str(failure.reason)}, as_json, out, err)
    finally:
        if ops is not None:
            ops.close()
    print(views.to_json(view) if as_json else text, file=out)
    return ExitCode.OK


def _fail(code: ExitCode, message: str, detail: dict, as_json: bool, out: TextIO, err: TextIO) -> int:
    print(f"error: {message}", file=err)
    if as_json:
        print(views.to_json({"error": dict(detail, message=message, exit_code=int(code))}), file=out)
    return int(code)
