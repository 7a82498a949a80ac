"""Configuration: YAML in, a validated and frozen `Config` out, or every problem listed.

Rules: unknown keys are errors; durations are written "30s" / "5m" / "1h"; secrets are
written as "${ENV_VAR}" or {file: /path}, never literally, and a missing one is an error that
names its key. `load_config` raises `ConfigError` carrying one line per problem, each with its
dotted location.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_LISTEN_ADDRESS = ":10108"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class ConfigError(Exception):
    """A config that cannot be used; `problems` holds one "location: message" per issue."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(value: Any) -> float:
    """"30s" -> 30.0. Bare numbers are refused so a unit is never guessed."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('a duration is written with a unit, e.g. "30s", "5m", "1h"')
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f'invalid duration {value!r}; write e.g. "500ms", "30s", "5m", "1h", "7d"')
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    return seconds


def resolve_secret(value: Any) -> SecretStr:
    """Accept "${ENV}" or {file: path}; refuse a literal so secrets never sit in config files."""
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        match = _ENV_REF.match(value.strip())
        if not match:
            raise ValueError('write secrets as "${ENV_VAR}" or {file: /path/to/secret}, never literally')
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return SecretStr(os.environ[name])
    if isinstance(value, dict) and set(value) == {"file"}:
        path = Path(str(value["file"]))
        try:
            return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    raise ValueError('write secrets as "${ENV_VAR}" or {file: /path/to/secret}')


Duration = Annotated[float, BeforeValidator(parse_duration)]
Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(Section):
    username: str = Field(min_length=1)
    password: Secret


class TLS(Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TLS:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name} {path} does not exist")
        return self


class HttpEndpoint(Section):
    """Transport settings shared by every HTTP source."""

    auth: BasicAuth | None = None
    tls: TLS = TLS()
    timeout: Duration = 10.0


def _check_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


class ConnectCluster(HttpEndpoint):
    name: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]+$")
    urls: tuple[str, ...] = Field(min_length=1)
    poll_interval: Duration = 15.0
    offsets_interval: Duration = 60.0
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _url_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            if "urls" in data:
                raise ValueError("give either url or urls, not both")
            data = dict(data)
            data["urls"] = [data.pop("url")]
        return data

    @field_validator("urls")
    @classmethod
    def _urls_are_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(u) for u in urls)

    def selects(self, connector: str) -> bool:
        """Whether include/exclude glob patterns keep this connector."""
        if not any(fnmatch.fnmatchcase(connector, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(connector, p) for p in self.exclude)


class Config(Section):
    connect_clusters: tuple[ConnectCluster, ...] = Field(min_length=1)
    state_file: Path | None = None
    poll_jitter: float = Field(default=0.1, ge=0.0, le=0.5)

    @model_validator(mode="after")
    def _unique_cluster_names(self) -> Config:
        names = [c.name for c in self.connect_clusters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"connect cluster names must be unique; repeated: {', '.join(dupes)}")
        return self


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


def parse_config(raw: Any) -> Config:
    if raw is None:
        raise ConfigError(["(top level): the file is empty"])
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): expected a mapping of settings"])
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
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
        raise ConfigError(problems) from None


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError([f"{path}: not valid YAML at {where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_config(raw)
