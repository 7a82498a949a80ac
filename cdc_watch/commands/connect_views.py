"""Pure shaping and rendering for `cdc-watch connectors ...` (no I/O).

Turns Kafka Connect REST replies into plain views (dicts that `--output json` prints as they
are) and into the human tables. Connector configs only ever leave this module redacted:
values of secret-looking keys become the redaction marker, and every other value, trace and
error text is scrubbed of the secrets seen in the same config.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from cdc_watch.commands import CommandError, ExitCode
from cdc_watch.core.model import ErrorReason, SourceFailure
from cdc_watch.core.redact import REDACTED, excerpt, is_secret_key, scrub, secret_values
from cdc_watch.sources.connect.model import ConnectorStatus, State, TaskStatus
from cdc_watch.sources.connect.parse import is_rebalance_error, parse_status
from cdc_watch.sources.http import Reply

UNREACHABLE_REASONS = frozenset({ErrorReason.TIMEOUT, ErrorReason.CONNECT, ErrorReason.TLS})


# ---------------------------------------------------------------- errors and exit codes


def exit_code_for(failure: SourceFailure) -> ExitCode:
    """Transport failures mean the cluster is unreachable (3); rejected credentials are a config problem (2)."""
    if failure.reason in UNREACHABLE_REASONS:
        return ExitCode.UNREACHABLE
    if failure.reason is ErrorReason.AUTH:
        return ExitCode.USAGE
    return ExitCode.FAILED


def reply_message(reply: Reply, secrets: Iterable[str] = ()) -> str:
    """Connect's error `message`, short, single-line and scrubbed (also of the given secrets)."""
    if isinstance(reply.body, Mapping) and isinstance(reply.body.get("message"), str):
        return excerpt(scrub(reply.body["message"], secrets), 300)
    return ""


def unexpected_reply(
    reply: Reply, what: str, connector: str | None = None, secrets: Iterable[str] = ()
) -> CommandError:
    """A CommandError (exit 1) for a reply the operation did not expect, with a readable reason."""
    message = reply_message(reply, secrets)
    if is_rebalance_error(reply.status_code, reply.body):
        return CommandError(
            ExitCode.FAILED,
            f"{what}: the Connect cluster is rebalancing (HTTP {reply.status_code}); retry in a few seconds",
            {"status": reply.status_code, "reason": "rebalance"},
        )
    if reply.status_code == 404:
        if message.startswith("HTTP 404") or not message:
            return CommandError(
                ExitCode.FAILED,
                f"{what}: this Kafka Connect version has no such endpoint (HTTP 404)",
                {"status": 404, "reason": "unsupported"},
            )
        if connector is not None:
            return CommandError(
                ExitCode.FAILED, f"{what}: connector {connector!r} not found", {"status": 404, "reason": "not_found"}
            )
    text = f"{what}: HTTP {reply.status_code}" + (f": {message}" if message else "")
    return CommandError(ExitCode.FAILED, text, {"status": reply.status_code, "reason": "http_status"})


# ---------------------------------------------------------------- configs


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A connector config safe to print: secret keys masked, every other value scrubbed."""
    secrets = secret_values(config)
    redacted: dict[str, Any] = {}
    for key, value in config.items():
        if is_secret_key(str(key)):
            redacted[key] = REDACTED
        elif isinstance(value, str):
            redacted[key] = scrub(value, secrets)
        else:
            redacted[key] = value
    return redacted


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_config_value(v) for v in value)
    return str(value)


def load_connector_file(text: str, source: str) -> tuple[str, dict[str, str]]:
    """Parse a connector definition: `{"name": .., "config": {..}}` or a flat config with `name`.

    JSON or YAML. Values become strings as Connect expects. Raises CommandError(USAGE) with a
    message that never repeats the file's values.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CommandError(ExitCode.USAGE, f"{source}: not valid JSON or YAML{where}") from None
    if not isinstance(raw, Mapping):
        raise CommandError(ExitCode.USAGE, f"{source}: expected an object with name and config")
    if "config" in raw:
        extra = sorted(set(raw) - {"name", "config"})
        if extra:
            raise CommandError(
                ExitCode.USAGE, f"{source}: unexpected top-level keys next to config: {', '.join(extra)}"
            )
        config = raw["config"]
        if not isinstance(config, Mapping):
            raise CommandError(ExitCode.USAGE, f"{source}: config must be an object of settings")
        name = raw.get("name", config.get("name"))
    else:
        config = raw
        name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CommandError(ExitCode.USAGE, f"{source}: the connector has no name")
    flat = {str(k): _config_value(v) for k, v in config.items() if v is not None}
    if flat.get("name", name) != name:
        raise CommandError(ExitCode.USAGE, f"{source}: name {name!r} differs from config.name {flat['name']!r}")
    flat["name"] = name
    if not flat.get("connector.class"):
        raise CommandError(ExitCode.USAGE, f"{source}: config has no connector.class")
    return name, flat


# ---------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    messages: tuple[str, ...]


def validation_errors(body: Any, secrets: Iterable[str] = ()) -> tuple[int, tuple[FieldError, ...]]:
    """`PUT /connector-plugins/{class}/config/validate` -> (error_count, errors per field).

    Only field names and error texts are kept (scrubbed); the echoed values are dropped.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("configs"), list):
        raise CommandError(ExitCode.FAILED, "validation reply has no configs list", {"reason": "decode"})
    secrets = tuple(secrets)
    errors = []
    for item in body["configs"]:
        value = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(value, Mapping):
            continue
        messages = tuple(scrub(str(m), secrets) for m in value.get("errors") or () if str(m).strip())
        if messages:
            errors.append(FieldError(str(value.get("name", "?")), messages))
    count = body.get("error_count")
    if not isinstance(count, int):
        count = sum(len(e.messages) for e in errors)
    return count, tuple(errors)


def unknown_class_message(reply: Reply, connector_class: str) -> str | None:
    """Connect answers 500 "Failed to find any class that implements Connector" for an unknown class."""
    message = reply.body.get("message") if isinstance(reply.body, Mapping) else None
    if isinstance(message, str) and "failed to find any class" in message.lower():
        return f"connector class {connector_class} is not installed on this Connect cluster"
    return None


def render_validation(name: str, connector_class: str, errors: Sequence[FieldError]) -> str:
    lines = [
        f"connector {name}: configuration is invalid ({sum(len(e.messages) for e in errors)} error(s), {connector_class})"
    ]
    width = max((len(e.field) for e in errors), default=0)
    for error in errors:
        for i, message in enumerate(error.messages):
            lines.append(f"  {(error.field if i == 0 else ''):<{width}}  {message}")
    return "\n".join(lines)


# ---------------------------------------------------------------- connectors and tasks


def trace_summary(trace: str | None) -> str:
    """The first line of a Java stack trace plus its innermost `Caused by:` (already scrubbed)."""
    if not trace:
        return ""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    head = lines[0] if lines else ""
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    if causes and causes[-1] != head:
        return excerpt(f"{head} | caused by: {causes[-1]}", 300)
    return excerpt(head, 300)


def task_view(task: TaskStatus) -> dict[str, Any]:
    return {
        "id": task.id,
        "state": str(task.state),
        "worker_id": task.worker_id,
        "trace": task.trace,
        "trace_digest": task.failure.digest if task.failure else None,
    }


def connector_view(connector: ConnectorStatus) -> dict[str, Any]:
    settings = connector.settings
    return {
        "name": connector.name,
        "type": connector.type,
        "state": str(connector.state),
        "worker_id": connector.worker_id,
        "connector_class": settings.connector_class if settings else None,
        "topic_prefix": (settings.topic_prefix or None) if settings else None,
        "database": (
            f"{settings.database_user}@{settings.database_hostname}:{settings.database_port}"
            if settings and settings.database_hostname
            else None
        ),
        "tasks": [task_view(t) for t in connector.tasks],
        "trace": connector.trace,
        "trace_digest": connector.failure.digest if connector.failure else None,
    }


def with_full_traces(view: dict[str, Any], status: Any, secrets: frozenset[str]) -> dict[str, Any]:
    """A one-connector view with the whole traces of its `/status` reply, scrubbed: the polled
    state keeps only an excerpt of each (issue 24), the status command shows all of it."""
    if not isinstance(status, Mapping):
        return view
    connector = status.get("connector")
    if isinstance(connector, Mapping) and isinstance(connector.get("trace"), str) and connector["trace"]:
        view["trace"] = scrub(connector["trace"], secrets)
    by_id = {t.get("id"): t.get("trace") for t in status.get("tasks") or () if isinstance(t, Mapping)}
    for task in view["tasks"]:
        trace = by_id.get(task["id"])
        if isinstance(trace, str) and trace:
            task["trace"] = scrub(trace, secrets)
    return view


def tasks_summary(tasks: Sequence[Mapping[str, Any]]) -> str:
    """ "1/1 RUNNING", "0/1 RUNNING (1 FAILED)", or "-" when there are none."""
    if not tasks:
        return "-"
    running = sum(1 for t in tasks if t["state"] == State.RUNNING)
    others: dict[str, int] = {}
    for t in tasks:
        if t["state"] != State.RUNNING:
            others[t["state"]] = others.get(t["state"], 0) + 1
    text = f"{running}/{len(tasks)} RUNNING"
    if others:
        text += " (" + ", ".join(f"{n} {s}" for s, n in sorted(others.items())) + ")"
    return text


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [["-" if v is None or v == "" else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    return "\n".join(lines)


def render_list(views: Sequence[Mapping[str, Any]]) -> str:
    if not views:
        return "no connectors"
    return table(
        ("NAME", "TYPE", "STATE", "TASKS", "CLASS", "WORKER"),
        (
            (
                v["name"],
                v["type"],
                v["state"],
                tasks_summary(v["tasks"]),
                short_class(v["connector_class"]),
                v["worker_id"],
            )
            for v in views
        ),
    )


def short_class(connector_class: str | None) -> str | None:
    return connector_class.rsplit(".", 1)[-1] if connector_class else connector_class


def render_status(view: Mapping[str, Any]) -> str:
    lines = [
        f"connector  {view['name']}",
        f"state      {view['state']}" + (f" on {view['worker_id']}" if view["worker_id"] else ""),
        f"type       {view['type']}",
        f"class      {view['connector_class'] or '-'}",
    ]
    if view.get("topic_prefix"):
        lines.append(f"topics     {view['topic_prefix']}.*")
    if view.get("database"):
        lines.append(f"database   {view['database']}")
    if view.get("trace"):
        lines.append(f"error      {trace_summary(view['trace'])}")
    lines.append("")
    if view["tasks"]:
        lines.append(
            table(
                ("TASK", "STATE", "WORKER", "ERROR"),
                ((t["id"], t["state"], t["worker_id"], trace_summary(t["trace"])) for t in view["tasks"]),
            )
        )
    else:
        lines.append("no tasks")
    return "\n".join(lines)


# ---------------------------------------------------------------- restart


def restart_view(name: str, body: Any, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The 202 restart plan: which instances Connect is restarting (state RESTARTING)."""
    state, _kind, worker, _trace, tasks, _problems = parse_status(name, body, frozenset(secrets))
    return {
        "name": name,
        "connector": {"state": str(state), "worker_id": worker, "restarting": state is State.RESTARTING},
        "tasks": [dict(task_view(t), restarting=t.state is State.RESTARTING) for t in tasks],
    }


def render_restart(view: Mapping[str, Any]) -> str:
    restarting = []
    if view["connector"]["restarting"]:
        restarting.append("the connector instance")
    task_ids = [str(t["id"]) for t in view["tasks"] if t["restarting"]]
    if task_ids:
        restarting.append(f"task(s) {', '.join(task_ids)}")
    if not restarting:
        return f"connector {view['name']}: nothing to restart (nothing matched; no FAILED instance with --failed-only)"
    return f"connector {view['name']}: restarting {' and '.join(restarting)}; follow with `cdc-watch connectors status {view['name']}`"


# ---------------------------------------------------------------- offsets


def offsets_view(name: str, pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> dict[str, Any]:
    return {"name": name, "offsets": [{"partition": dict(p), "offset": dict(o)} for p, o in pairs]}


def _pairs(mapping: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in mapping.items())


def render_offsets(view: Mapping[str, Any]) -> str:
    if not view["offsets"]:
        return f"connector {view['name']}: no committed offsets yet"
    return table(
        ("PARTITION", "OFFSET"),
        ((_pairs(item["partition"]), _pairs(item["offset"])) for item in view["offsets"]),
    )


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)
