"""The configuration schema: frozen pydantic models for every section, with their defaults.

Rules: unknown keys are errors; durations are written as Prometheus does ("30s", "1h30m", "2w"); secrets are
written as "${ENV_VAR}" or {file: /path}, never literally, and a missing one is an error that
names its key. Relative secret and TLS file paths resolve against the config file's directory;
TLS files are loaded at validation, so an unusable one is a config problem, not a crash at
start. `load_config` raises `ConfigError` carrying one line per problem, each with its dotted
location.
"""

from __future__ import annotations

import fnmatch
import os
import re
import ssl
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cdc_watch.core.redact import strip_userinfo

DEFAULT_LISTEN_ADDRESS = ":10108"
# Upstream reply caps (`max_reply_size`). Recorded on the devstack: Connect's
# `?expand=status&expand=info` reply takes about 0.9 KiB per healthy connector and about 12 KiB
# per connector whose 4 tasks all FAILED with a trace, so 64 MiB holds 20,000 healthy connectors
# but a mass failure of only about 5,000 (a fleet past that sets a larger cap: 256MiB for 20,000,
# docs/configuration.md); a Jolokia bulk reply of a worker with one Debezium task is 11 KiB.
DEFAULT_MAX_REPLY_SIZE = 64 << 20
DEFAULT_JOLOKIA_MAX_REPLY_SIZE = 16 << 20
MAX_REPLY_SIZE_LIMIT = 1 << 30

# Durations as Prometheus writes them (prometheus/common model.ParseDuration): integer terms in
# the order y w d h m s ms, each unit at most once ("1h30m", "2w", "1y"; a year is 365 days), at
# most what a Go time.Duration holds (about 292 years). One term with a fraction ("1.5m") is
# also read, as cdc_watch always has.
_UNIT_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
_UNIT_ORDER = tuple(_UNIT_MS)
_TERM = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_FRACTION = re.compile(r"^(\d+\.\d+)(ms|y|w|d|h|m|s)$")
_MAX_DURATION_MS = (2**63 - 1) // 1_000_000
_DURATION_HINT = 'write e.g. "500ms", "30s", "5m", "1h30m", "7d", "2w", "1y"'
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def duration_seconds(value: Any) -> float:
    """ "1h30m" -> 5400.0, zero allowed ("0", "0s"). Bare numbers are refused so a unit is never guessed."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('a duration is written with a unit, e.g. "30s", "5m", "1h"')
    text = value.strip()
    if text == "0":
        return 0.0
    if fraction := _FRACTION.match(text):
        return float(fraction.group(1)) * _UNIT_MS[fraction.group(2)] / 1000
    total_ms, pos, last = 0, 0, -1
    while pos < len(text):
        term = _TERM.match(text, pos)
        if term is None:
            raise ValueError(f"invalid duration {value!r}; {_DURATION_HINT}")
        rank = _UNIT_ORDER.index(term.group(2))
        if rank <= last:
            raise ValueError(
                f"invalid duration {value!r}: units go from the largest to the smallest (y w d h m s ms), each once"
            )
        total_ms += int(term.group(1)) * _UNIT_MS[term.group(2)]
        if total_ms > _MAX_DURATION_MS:
            raise ValueError(f"duration {value!r} is out of range (at most 292y)")
        pos, last = term.end(), rank
    if pos == 0:
        raise ValueError(f"invalid duration {value!r}; {_DURATION_HINT}")
    return total_ms / 1000


def parse_duration(value: Any) -> float:
    """A duration that must be greater than zero (see `duration_seconds` for the grammar)."""
    seconds = duration_seconds(value)
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    return seconds


def _resolve_path(value: Path, info: ValidationInfo | None) -> Path:
    """A relative path is taken from the config file's directory (`base_dir` in the context)."""
    base = (info.context or {}).get("base_dir") if info is not None else None
    return value if value.is_absolute() or base is None else Path(base) / value


def resolve_secret(value: Any, info: ValidationInfo | None) -> SecretStr:
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
        if not os.environ[name]:
            raise ValueError(f"environment variable {name} is empty")
        return SecretStr(os.environ[name])
    if isinstance(value, dict) and set(value) == {"file"}:
        path = _resolve_path(Path(str(value["file"])), info)
        try:
            secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
        if not secret:
            raise ValueError(f"secret file {path} is empty")
        return SecretStr(secret)
    raise ValueError('write secrets as "${ENV_VAR}" or {file: /path/to/secret}')


Duration = Annotated[float, BeforeValidator(parse_duration)]
Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(Section):
    username: str = Field(min_length=1)
    password: Secret


def _ssl_reason(exc: Exception) -> str:
    """OpenSSL's reason without the "(_ssl.c:1234)" suffix."""
    if isinstance(exc, ssl.SSLError):
        return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(exc))
    return getattr(exc, "strerror", None) or type(exc).__name__


def _no_key_password() -> bytes:
    # An encrypted key fails to load instead of OpenSSL prompting on the terminal.
    return b""


class TLS(Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _usable_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        path = _resolve_path(path, info)
        if not path.is_file():
            raise ValueError(f"{path} does not exist")
        if info.field_name == "ca_file":
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
            except (ssl.SSLError, OSError, ValueError) as exc:
                raise ValueError(f"{path} is not a usable PEM CA bundle: {_ssl_reason(exc)}") from None
        return path

    @model_validator(mode="after")
    def _usable_cert_chain(self) -> TLS:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        if self.cert_file is not None:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                    str(self.cert_file), str(self.key_file) if self.key_file else None, password=_no_key_password
                )
            except (ssl.SSLError, OSError, ValueError) as exc:
                what = "cert_file and key_file" if self.key_file else "cert_file (with its key)"
                raise ValueError(
                    f"{what} cannot be loaded as a PEM certificate and unencrypted key: {_ssl_reason(exc)}"
                ) from None
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """The client context: the CA bundle (else the system's) and the client certificate,
        which is presented whether or not the server is verified (`verify: false` skips the
        certificate and host name checks only)."""
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file is not None:
            context.load_cert_chain(
                str(self.cert_file), str(self.key_file) if self.key_file else None, password=_no_key_password
            )
        return context


def _reply_size(size: ByteSize) -> ByteSize:
    if not 1024 <= size <= MAX_REPLY_SIZE_LIMIT:
        raise ValueError("max_reply_size must be between 1KiB and 1GiB")
    return size


ReplySize = Annotated[ByteSize, AfterValidator(_reply_size)]
"""Bytes, or a size with a unit ("64MiB", "512KiB"; pydantic's ByteSize also reads "MB" = 10^6)."""


class HttpEndpoint(Section):
    """Transport settings shared by every HTTP source."""

    auth: BasicAuth | None = None
    tls: TLS = TLS()
    timeout: Duration = 10.0
    max_reply_size: ReplySize = ByteSize(DEFAULT_MAX_REPLY_SIZE)


_AUTH_HINT = "put them under auth: (username, password)"


def _no_userinfo(url: str, hint: str = _AUTH_HINT) -> str:
    """Refuse `user:password@` in a URL: it would be echoed in error messages, logs and the
    landing page. The message never repeats the URL's credentials."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = url.split("://", 1)[-1].split("/", 1)[0]
    if "@" in netloc:
        raise ValueError(f"{strip_userinfo(url)!r} carries credentials (user:password@); {hint}")
    return url


def _check_url(url: str, hint: str = _AUTH_HINT) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(f"{strip_userinfo(url)!r} is not an http:// or https:// URL")
    return _no_userinfo(url, hint).rstrip("/")


def _url_shorthand(data: Any) -> Any:
    """`url: X` is short for `urls: [X]`."""
    if isinstance(data, dict) and "url" in data:
        if "urls" in data:
            raise ValueError("give either url or urls, not both")
        data = dict(data)
        data["urls"] = [data.pop("url")]
    return data


class JolokiaSettings(HttpEndpoint):
    """Jolokia agents inside the Connect workers: a fixed list of URLs, or a template filled in
    from each worker id `host:port` reported by the REST API (`{host}`, `{port}` = REST port)."""

    urls: tuple[str, ...] = ()
    url_template: str | None = None
    poll_interval: Duration = 15.0
    max_concurrency: int = Field(default=4, ge=1, le=32)
    max_reply_size: ReplySize = ByteSize(DEFAULT_JOLOKIA_MAX_REPLY_SIZE)

    @model_validator(mode="before")
    @classmethod
    def _one_url(cls, data: Any) -> Any:
        return _url_shorthand(data)

    @field_validator("urls")
    @classmethod
    def _urls_are_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(u) for u in urls)

    @field_validator("url_template")
    @classmethod
    def _template_is_url(cls, template: str | None) -> str | None:
        if template is None:
            return None
        _no_userinfo(template)
        try:
            example = template.format(host="worker.example", port="8083")
        except (KeyError, IndexError, ValueError):
            raise ValueError("url_template may only use the placeholders {host} and {port}") from None
        if "{host}" not in template:
            raise ValueError("url_template must contain {host}")
        _check_url(example)
        return template.rstrip("/")

    @model_validator(mode="after")
    def _one_way(self) -> JolokiaSettings:
        if bool(self.urls) == (self.url_template is not None):
            raise ValueError("give exactly one of urls (or url) and url_template")
        return self


_BOOTSTRAP = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")


def _bootstrap_list(value: Any) -> Any:
    """ "a:9092,b:9092" (as Kafka clients write it) is also read as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class KafkaSasl(Section):
    """SASL credentials as Kafka clients take them; the password is a secret."""

    mechanism: str = Field(default="SCRAM-SHA-512", pattern=r"^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$")
    username: str = Field(min_length=1)
    password: Secret


class KafkaEndpoint(Section):
    """Transport settings shared by everything that talks to a Kafka broker: `host:port`
    bootstrap servers, TLS (`tls:`, the same keys as the HTTP sources) and SASL. The security
    protocol follows from which of the two are given (PLAINTEXT, SSL, SASL_PLAINTEXT,
    SASL_SSL); `timeout` bounds each request to the broker."""

    bootstrap_servers: Annotated[tuple[str, ...], BeforeValidator(_bootstrap_list)] = Field(min_length=1, max_length=64)
    tls: TLS | None = None
    sasl: KafkaSasl | None = None
    timeout: Duration = 10.0

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, servers: tuple[str, ...]) -> tuple[str, ...]:
        for server in servers:
            if "@" in server:
                raise ValueError("a bootstrap server carries credentials (user@); put them under sasl:")
            if not _BOOTSTRAP.match(server):
                raise ValueError(f"{server!r} is not host:port")
            port = int(server.rsplit(":", 1)[1])
            if not 1 <= port <= 65535:
                raise ValueError(f"{server!r}: port {port} is out of range")
        return servers

    @property
    def security_protocol(self) -> str:
        if self.sasl is not None:
            return "SASL_SSL" if self.tls is not None else "SASL_PLAINTEXT"
        return "SSL" if self.tls is not None else "PLAINTEXT"


class HighAvailability(KafkaEndpoint):
    """Leader election through a Kafka broker's consumer group (docs/ha.md): every replica
    joins `group_id` on the one-partition `lease_topic`; the member assigned its partition is
    the leader, and only the leader notifies and remediates. The leader writes the state that
    paging and remediation need to `state_topic`; a new leader reads it before it acts.

    A replica counts as leader only while its last broker round trip is younger than
    `session_timeout - step_down_margin`, so it stops acting before the broker can hand the
    lease to another replica."""

    backend: str = Field(default="kafka", pattern=r"^kafka$")
    group_id: str = Field(default="cdc-watch", pattern=r"^[A-Za-z0-9_.-]{1,200}$")
    lease_topic: str = Field(default="cdc-watch-lease", pattern=r"^[A-Za-z0-9_.-]{1,200}$")
    state_topic: str = Field(default="cdc-watch-state", pattern=r"^[A-Za-z0-9_.-]{1,200}$")
    session_timeout: Duration = 10.0
    heartbeat_interval: Duration = 1.0
    step_down_margin: Duration = 2.0
    catch_up_timeout: Duration = 5.0  # a new leader reads the state topic to its end within this
    max_state_bytes: int = Field(default=1 << 20, ge=64 << 10, le=16 << 20)  # one state record

    @model_validator(mode="after")
    def _timings(self) -> HighAvailability:
        if not 1.0 <= self.session_timeout <= 300.0:
            raise ValueError("session_timeout must be between 1s and 5m")
        if self.heartbeat_interval * 3 > self.session_timeout:
            raise ValueError("heartbeat_interval must be at most a third of session_timeout")
        if self.step_down_margin >= self.session_timeout - self.heartbeat_interval:
            raise ValueError("step_down_margin must be shorter than session_timeout minus heartbeat_interval")
        if self.lease_topic == self.state_topic:
            raise ValueError("lease_topic and state_topic must differ")
        return self


class ConnectCluster(HttpEndpoint):
    name: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]+$")
    urls: tuple[str, ...] = Field(min_length=1)
    poll_interval: Duration = 15.0
    offsets_interval: Duration = 60.0
    offsets_concurrency: int = Field(default=4, ge=1, le=32)  # offsets requests in flight at once
    offsets_budget: Duration = 30.0  # one offsets cycle ends within this
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    jolokia: JolokiaSettings | None = None
    # The Kafka cluster this Connect cluster writes to: schema-history topic checks, the freshness canary.
    kafka: KafkaEndpoint | None = None
    kafka_interval: Duration = 60.0  # the schema history topic checks (source kafka:<name>)

    @model_validator(mode="before")
    @classmethod
    def _one_url(cls, data: Any) -> Any:
        return _url_shorthand(data)

    @field_validator("urls")
    @classmethod
    def _urls_are_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(u) for u in urls)

    def selects(self, connector: str) -> bool:
        """Whether include/exclude glob patterns keep this connector."""
        if not any(fnmatch.fnmatchcase(connector, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(connector, p) for p in self.exclude)


_CANARY_TABLE = r"^[A-Za-z0-9_$]{1,64}\.[A-Za-z0-9_$]{1,64}$"


class Canary(Section):
    """The freshness canary of one database (docs/configuration.md#canary): a writer account that
    may only write the canary table, and which connectors to probe."""

    user: str = Field(min_length=1)
    password: Secret | None = None
    table: str = Field(default="cdc_watch.cdc_canary", pattern=_CANARY_TABLE)  # schema.table
    # The topic of the canary table's change events; {topic_prefix}, {schema} and {table} are filled in.
    topic: str = Field(default="{topic_prefix}.{schema}.{table}", min_length=1, max_length=249)
    connectors: tuple[str, ...] = ("*",)  # glob patterns on "connector" or "cluster/connector"
    interval: Duration = 60.0
    timeout: Duration = 30.0  # a probe not on the topic within this is lost
    max_connectors: int = Field(default=50, ge=1, le=1000)  # probed per round; the rest are skipped

    @field_validator("topic")
    @classmethod
    def _topic_template(cls, topic: str) -> str:
        try:
            topic.format(topic_prefix="p", schema="s", table="t")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"topic template {topic!r}: only {{topic_prefix}}, {{schema}} and {{table}} may be used ({exc})"
            ) from None
        return topic

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Canary:
        if self.timeout >= self.interval:
            raise ValueError("canary timeout must be shorter than its interval (one probe at a time)")
        return self

    @property
    def schema_name(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]


class Database(Section):
    """A MySQL / MariaDB / Aurora MySQL server whose binlog cdc_watch watches (read-only).

    Connectors are matched to it by their `database.hostname`/`database.port` (plus
    `hostnames`, other names for the same server); `connectors` glob patterns on
    "connector" or "cluster/connector" override that matching.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    host: str | None = None
    port: int = Field(default=3306, ge=1, le=65535)
    socket: Path | None = None
    user: str = Field(min_length=1)
    password: Secret | None = None
    tls: TLS | None = None
    connect_timeout: Duration = 5.0
    read_timeout: Duration = 10.0
    poll_interval: Duration = 15.0
    hostnames: tuple[str, ...] = ()
    connectors: tuple[str, ...] = ()
    connector_user: str | None = Field(
        default=None, min_length=1
    )  # grants checked for this user, not the connectors' database.user
    canary: Canary | None = None

    @model_validator(mode="after")
    def _host_or_socket(self) -> Database:
        if (self.host is None) == (self.socket is None):
            raise ValueError("give exactly one of host and socket")
        if self.socket is not None and self.tls is not None:
            raise ValueError("tls applies to host connections, not to a socket")
        return self


def parse_hold(value: Any) -> float:
    """Like a duration, but zero is allowed ("0s": fire or resolve at once)."""
    return duration_seconds(value)


HoldDuration = Annotated[float, BeforeValidator(parse_hold)]


class RuleOverride(Section):
    """Per-rule settings under `alerting.rules.<AlertName>`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enabled: bool = True
    for_: HoldDuration | None = Field(default=None, alias="for")
    severity: str | None = Field(default=None, pattern=r"^(critical|warning|info)$")


class RulesConfig(Section):
    """Thresholds of the health rules (cdc_watch/rules/table.py); docs/configuration.md lists defaults."""

    keep_firing_for: HoldDuration = 60.0
    vanished_after: Duration = 300.0
    worker_memory: Duration = 900.0
    binlog_lag_bytes: int = Field(default=1 << 30, ge=1)  # CdcBinlogLagHigh
    streaming_lag: Duration = 300.0  # CdcStreamingLagHigh: behind source, while events flow
    purge_eta: Duration = 6 * 3600.0  # CdcBinlogPurgeRisk: warn when the needed file goes sooner
    snapshot_stall: Duration = 1800.0  # CdcSnapshotStalled: no progress for this long
    failover_window: Duration = 600.0  # CdcFailoverDetected stays up this long after a failover
    offset_commit_failure_ratio: float = Field(default=0.0, ge=0.0, lt=1.0)  # CdcOffsetCommitsFailing: above this
    canary_stale: Duration = 300.0  # CdcCanaryStale: no canary probe seen on the topic for this long
    overrides: dict[str, RuleOverride] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _known_rules(cls, overrides: dict[str, RuleOverride], info: ValidationInfo) -> dict[str, RuleOverride]:
        known = (info.context or {}).get("alert_names")
        if known is None:
            return overrides
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown alert(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return overrides


class SlackSettings(Section):
    """Either an incoming webhook (per-severity webhooks optional) or a bot token and channel."""

    webhook_url: Secret | None = None
    severity_webhook_urls: dict[str, Secret] = Field(default_factory=dict)
    token: Secret | None = None
    channel: str | None = None
    severity_channels: dict[str, str] = Field(default_factory=dict)
    api_url: str = "https://slack.com/api/"
    min_severity: str = Field(default="info", pattern=r"^(critical|warning|info)$")
    timeout: Duration = 10.0

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackSettings:
        if (self.webhook_url is None) == (self.token is None):
            raise ValueError("give exactly one of webhook_url and token")
        if self.token is not None and not self.channel:
            raise ValueError("token needs channel")
        if self.webhook_url is None and self.severity_webhook_urls:
            raise ValueError("severity_webhook_urls needs webhook_url")
        if self.token is None and self.severity_channels:
            raise ValueError("severity_channels needs token")
        for key in (*self.severity_webhook_urls, *self.severity_channels):
            if key not in ("critical", "warning", "info"):
                raise ValueError(f"unknown severity {key!r}; use critical, warning or info")
        _check_url(self.api_url, "Slack authenticates with token:")
        return self


class SentrySettings(Section):
    dsn: Secret
    environment: str | None = None
    min_severity: str = Field(default="warning", pattern=r"^(critical|warning|info)$")
    send_logs: bool = True  # the daemon's own warnings and errors, via the logging integration
    timeout: Duration = 10.0


class AlertmanagerSettings(HttpEndpoint):
    """Alertmanagers the daemon posts its alerts to (`/api/v2/alerts` under each URL), as
    Prometheus does: every one gets every alert. `auth` (basic) or `bearer_token`, `tls` and
    `timeout` apply to all of them."""

    urls: tuple[str, ...] = Field(min_length=1, max_length=16)
    bearer_token: Secret | None = None
    resend_interval: Duration = 60.0  # Prometheus's --rules.alert.resend-delay default

    @model_validator(mode="before")
    @classmethod
    def _one_url(cls, data: Any) -> Any:
        return _url_shorthand(data)

    @field_validator("urls")
    @classmethod
    def _urls_are_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        checked = tuple(_check_url(u, "put them under auth: or use bearer_token") for u in urls)
        if len(set(checked)) != len(checked):
            raise ValueError("each Alertmanager URL may be listed once")
        return checked

    @model_validator(mode="after")
    def _one_credential(self) -> AlertmanagerSettings:
        if self.auth is not None and self.bearer_token is not None:
            raise ValueError("give at most one of auth and bearer_token")
        return self


class SilenceRule(Section):
    """A permanent silence from config: matching alerts are exported but never notified."""

    alert: str | None = None
    connect_cluster: str | None = None
    connector: str | None = None
    database: str | None = None
    comment: str = ""

    @model_validator(mode="after")
    def _matches_something(self) -> SilenceRule:
        if not any((self.alert, self.connect_cluster, self.connector, self.database)):
            raise ValueError("a silence needs at least one of alert, connect_cluster, connector, database")
        return self


class AlertingConfig(Section):
    rules: RulesConfig = RulesConfig()
    runbook_url: str = "https://github.com/cdc-watch/cdc-watch/blob/main/docs/runbook.md"
    dashboard_url: str | None = None  # template: {connect_cluster}, {connector}, {database}
    repeat_interval: Duration = 4 * 3600.0
    max_messages_per_minute: int = Field(default=20, ge=1, le=1000)
    max_retries: int = Field(default=5, ge=0, le=20)
    queue_size: int = Field(default=1000, ge=10, le=100000)
    queue_max_bytes: int = Field(default=16 << 20, ge=64 << 10, le=1 << 30)
    slack: SlackSettings | None = None
    sentry: SentrySettings | None = None
    alertmanager: AlertmanagerSettings | None = None
    silences: tuple[SilenceRule, ...] = ()

    @field_validator("runbook_url", "dashboard_url")
    @classmethod
    def _links_carry_no_credentials(cls, url: str | None) -> str | None:
        return None if url is None else _no_userinfo(url, "links are shown in every notification")


class RemediationConfig(Section):
    """Safe auto-restart of failed connectors and tasks (cdc_watch/remediation.py).

    Off unless `enabled`. Backoff before restart n+1 is min((n*n+n) * backoff_base, backoff_max)
    after n restarts (Strimzi's schedule with backoff_base=1m: 0, 2, 6, 12, 20 ... 60 minutes).
    """

    enabled: bool = False
    dry_run: bool = False
    exclude: tuple[str, ...] = ()  # glob patterns on "connector" or "cluster/connector"
    # Connectors an operator reconciles (Strimzi KafkaConnector, ...): never restarted, and the
    # mutating `cdc-watch connectors` commands refuse them without --force. Same pattern form.
    operator_managed: tuple[str, ...] = ()
    backoff_base: Duration = 60.0
    backoff_max: Duration = 3600.0
    max_restarts: int | None = Field(default=None, ge=1)
    max_restarts_window: Duration = 3600.0
    reset_after: Duration = 600.0
    unknown_failures: str = Field(default="restart", pattern=r"^(restart|skip)$")
    max_restarts_per_poll: int = Field(default=5, ge=1, le=1000)
    restart_not_streaming: bool = False
    not_streaming_for: Duration = 300.0

    def excludes(self, cluster: str, connector: str) -> bool:
        return _matches(self.exclude, cluster, connector)

    def operator_manages(self, cluster: str, connector: str) -> bool:
        return _matches(self.operator_managed, cluster, connector)


def _matches(patterns: tuple[str, ...], cluster: str, connector: str) -> bool:
    """A glob pattern matches "connector" or "cluster/connector"."""
    return any(fnmatch.fnmatchcase(connector, p) or fnmatch.fnmatchcase(f"{cluster}/{connector}", p) for p in patterns)


class WebSettings(Section):
    """The daemon's own HTTP side beyond `--web.config.file` (TLS and basic auth live there)."""

    # Bearer token that may reload and change silences (Authorization: Bearer <token>).
    admin_token: Secret | None = None


class ExporterConfig(Section):
    """What /metrics holds."""

    # false: no series with a `task` label (Connect task states, Jolokia task figures);
    # cdc_connector_tasks_by_state counts each connector's tasks by state instead.
    per_task_metrics: bool = True


class Config(Section):
    connect_clusters: tuple[ConnectCluster, ...] = Field(min_length=1)
    databases: tuple[Database, ...] = ()
    state_file: Path | None = None
    poll_jitter: float = Field(default=0.1, ge=0.0, le=0.5)
    alerting: AlertingConfig = AlertingConfig()
    remediation: RemediationConfig = RemediationConfig()
    web: WebSettings = WebSettings()
    exporter: ExporterConfig = ExporterConfig()
    high_availability: HighAvailability | None = None

    @model_validator(mode="after")
    def _unique_cluster_names(self) -> Config:
        names = [c.name for c in self.connect_clusters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"connect cluster names must be unique; repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _canary_has_kafka(self) -> Config:
        canaries = [d.name for d in self.databases if d.canary is not None]
        if canaries and not any(c.kafka is not None for c in self.connect_clusters):
            raise ValueError(
                f"the canary of {', '.join(canaries)} reads the connectors' topics: give connect_clusters[].kafka"
            )
        return self

    @model_validator(mode="after")
    def _unique_database_names(self) -> Config:
        names = [d.name for d in self.databases]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"database names must be unique; repeated: {', '.join(dupes)}")
        return self
