"""Loading the configuration: YAML in, a validated `Config` out, or every problem listed.

`load_config` raises `ConfigError` carrying one line per problem, each with its dotted
location.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from cdc_watch.config.schema import Config


class ConfigError(Exception):
    """A config that cannot be used; `problems` holds one "location: message" per issue."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _location(loc: tuple[Any, ...], raw: Any) -> str:
    """Dotted location; list indexes become the item's `name` when it has one."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            entry = node[item] if item < len(node) else None
            label = entry.get("name") if isinstance(entry, dict) else None
            siblings = [e.get("name") for e in node if isinstance(e, dict)]
            if siblings.count(label) != 1:
                label = None
            parts[-1:] = [f"{parts[-1]}[{label if isinstance(label, str) else item}]"] if parts else [str(item)]
            node = entry
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_config(raw: Any, base_dir: Path | None = None, alert_names: Collection[str] | None = None) -> Config:
    """Validate a decoded config; relative file paths resolve against `base_dir` (else the
    working directory)."""
    if raw is None:
        raise ConfigError(["(top level): the file is empty"])
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): expected a mapping of settings"])
    try:
        return Config.model_validate(raw, context={"base_dir": base_dir, "alert_names": alert_names})
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, raw)) from None


def validation_problems(exc: ValidationError, raw: Any) -> list[str]:
    """One "location: message" line per error of a pydantic validation of `raw`."""
    problems = []
    errors = exc.errors(include_url=False, include_input=False)
    failed_paths = {tuple(e["loc"]) for e in errors}
    for err in errors:
        loc = tuple(err["loc"])
        # pydantic adds "too short" to a list whose every item failed; the items say why.
        if err["type"] == "too_short" and any(p[: len(loc)] == loc and p != loc for p in failed_paths):
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{_location(loc, raw)}: {message}")
    return problems


def read_yaml(path: Path) -> Any:
    """The decoded YAML of `path`; ConfigError naming the file when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError([f"{path}: not valid YAML at {where}: {getattr(exc, 'problem', exc)}"]) from None


def load_config(path: Path, *, alert_names: Collection[str] | None) -> Config:
    """Reads and validates the file at `path`.

    `alert_names` are the alerts that `alerting.rules.overrides` may name (the rule table's,
    passed in by the caller because the rules sit above this package); None skips that check.
    """
    return parse_config(read_yaml(path), path.resolve().parent, alert_names)
