"""`--web.config.file`: the exporter-toolkit web configuration (TLS, basic auth, response headers,
rate limit), validated into a frozen model, and what the server makes of it (an SSLContext, a
password check, who may change things).

The format is the one Prometheus exporters share, so a file written for node_exporter works here:
`tls_server_config`, `http_server_config`, `basic_auth_users`, `rate_limit`. Unknown keys are
errors with their dotted location, like the main config. What Python's `ssl` module cannot do
is refused by name rather than silently weakened: client_auth_type RequestClientCert and
RequireAnyClientCert (OpenSSL through Python cannot ask for a certificate without verifying it),
curve_preferences, and inline `cert`/`key` (load_cert_chain reads files; `client_ca` inline is
accepted). `http_server_config.http2` is accepted and has no effect: the server speaks HTTP/1.1
only (Prometheus falls back to it through ALPN).

Passwords are checked with PyPI `bcrypt` (hashes `$2a$`, `$2b$`, `$2y$`). A check costs tens of
milliseconds at cost 10, so a successful (user, password) pair is remembered as a keyed digest
(bounded: 64 entries); a failed one is never remembered, and an unknown user is checked against
a dummy hash so its answer takes as long as a known user's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import bcrypt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator

from cdc_watch.config import ConfigError
from cdc_watch.config.load import read_yaml, validation_problems

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's crypto/tls names for the TLS 1.0-1.2 suites it offers -> OpenSSL's names (TLS 1.3 suites
# are not configurable, in Go or here).
CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# The response headers the toolkit lets a file set, with the values it accepts (None: any).
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}
ClientAuth = Literal[
    "NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"
]
_UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
_GO_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
AUTH_CACHE_SIZE = 64
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(10))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _path(value: Any, info: ValidationInfo) -> Path | None:
    if value is None or value == "":
        return None
    path = Path(str(value))
    base = (info.context or {}).get("base_dir")
    return path if path.is_absolute() or base is None else Path(base) / path


class TlsServerConfig(_Section):
    cert_file: Path | None = None
    key_file: Path | None = None
    cert: str | None = None
    key: SecretStr | None = None
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: Path | None = None
    client_ca: str | None = None
    client_allowed_sans: tuple[str, ...] = ()
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()

    @field_validator("cert_file", "key_file", "client_ca_file", mode="before")
    @classmethod
    def _resolve(cls, value: Any, info: ValidationInfo) -> Path | None:
        return _path(value, info)

    @field_validator("cert", "key")
    @classmethod
    def _no_inline_pair(cls, value: Any) -> Any:
        if value:
            raise ValueError("inline certificates and keys are not supported; use cert_file and key_file")
        return value

    @field_validator("client_auth_type")
    @classmethod
    def _supported_client_auth(cls, value: str) -> str:
        if value in _UNSUPPORTED_CLIENT_AUTH:
            raise ValueError(
                f"{value} is not supported (Python's TLS cannot ask for a certificate without verifying it);"
                " use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            )
        return value

    @field_validator("cipher_suites")
    @classmethod
    def _known_suites(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in CIPHER_SUITES]
        if unknown:
            raise ValueError(f"unknown cipher suite(s): {', '.join(unknown)}")
        return value

    @field_validator("curve_preferences")
    @classmethod
    def _no_curves(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value:
            raise ValueError("curve_preferences is not supported (Python's ssl module cannot set a curve list)")
        return value

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None or self.key_file is not None


class HttpServerConfig(_Section):
    http2: bool = True  # accepted for compatibility; HTTP/1.1 is served either way
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _allowed_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            canonical = {h.lower(): h for h in HEADERS}.get(name.lower())
            if canonical is None:
                raise ValueError(f"header {name!r} cannot be set; allowed: {', '.join(HEADERS)}")
            allowed = HEADERS[canonical]
            if allowed is not None and text and text.lower() not in allowed:
                raise ValueError(f"{canonical} must be one of {', '.join(allowed)}")
            if "\r" in text or "\n" in text:
                raise ValueError(f"{canonical} must be one line")
        return {next(h for h in HEADERS if h.lower() == k.lower()): v for k, v in value.items() if v}


class RateLimit(_Section):
    interval: float = 0.0  # seconds between requests on average; 0 disables
    burst: int = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _go_duration(cls, value: Any) -> float:
        if value in (0, "0"):
            return 0.0
        match = _GO_DURATION.match(str(value))
        if not match:
            raise ValueError(f'invalid duration {value!r}; write e.g. "100ms", "1s", or 0 to disable')
        return float(match.group(1)) * _GO_UNITS[match.group(2)]


class WebConfig(_Section):
    tls_server_config: TlsServerConfig = TlsServerConfig()
    http_server_config: HttpServerConfig = HttpServerConfig()
    basic_auth_users: dict[str, SecretStr] = Field(default_factory=dict)
    rate_limit: RateLimit = RateLimit()

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for user, hashed in value.items():
            if not re.fullmatch(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", hashed.get_secret_value()):
                raise ValueError(f"user {user!r}: not a bcrypt hash (expected $2y$10$... as htpasswd -nB makes)")
        return value


def parse_web_config(raw: Any, base_dir: Path | None = None) -> WebConfig:
    if raw is None:
        return WebConfig()
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): expected a mapping of settings"])
    try:
        return WebConfig.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, raw)) from None


def load_web_config(path: Path) -> WebConfig:
    """Read, validate and try out a web config file: a TLS setup that cannot make a context is a
    ConfigError naming the key, as is everything the schema rejects."""
    raw = read_yaml(path)
    config = parse_web_config(raw, path.resolve().parent)
    server_context(config.tls_server_config)  # raises ConfigError when unusable
    return config


def _ssl_reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(exc))
    return getattr(exc, "strerror", None) or type(exc).__name__


def server_context(tls: TlsServerConfig) -> ssl.SSLContext | None:
    """The SSLContext for `tls`, or None when TLS is off; ConfigError with locations when unusable."""
    where = "tls_server_config"
    if not tls.enabled:
        if tls.client_ca_file or tls.client_ca or tls.client_auth_type != "NoClientCert":
            raise ConfigError([f"{where}: client authentication needs cert_file and key_file (TLS)"])
        return None
    if tls.cert_file is None:
        raise ConfigError([f"{where}.cert_file: missing (key_file is set)"])
    if tls.key_file is None:
        raise ConfigError([f"{where}.key_file: missing (cert_file is set)"])
    if TLS_VERSIONS[tls.min_version] > TLS_VERSIONS[tls.max_version]:
        raise ConfigError([f"{where}.min_version: {tls.min_version} is above max_version {tls.max_version}"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=lambda: b"")
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            [f"{where}.cert_file: cannot load {tls.cert_file} / {tls.key_file}: {_ssl_reason(exc)}"]
        ) from None
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    context.set_alpn_protocols(["http/1.1"])
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.cipher_suites:
        try:
            context.set_ciphers(":".join(CIPHER_SUITES[s] for s in tls.cipher_suites))
        except ssl.SSLError as exc:
            raise ConfigError([f"{where}.cipher_suites: {_ssl_reason(exc)}"]) from None
    if tls.client_auth_type != "NoClientCert":
        if tls.client_ca_file is None and not tls.client_ca:
            raise ConfigError([f"{where}.client_ca_file: needed for client_auth_type {tls.client_auth_type}"])
        try:
            if tls.client_ca_file is not None:
                context.load_verify_locations(cafile=str(tls.client_ca_file))
            if tls.client_ca:
                context.load_verify_locations(cadata=tls.client_ca)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigError([f"{where}.client_ca_file: not a usable PEM CA bundle: {_ssl_reason(exc)}"]) from None
        context.verify_mode = (
            ssl.CERT_REQUIRED if tls.client_auth_type == "RequireAndVerifyClientCert" else ssl.CERT_OPTIONAL
        )
    elif tls.client_ca_file or tls.client_ca:
        raise ConfigError([f"{where}.client_ca_file: set without a client_auth_type that verifies certificates"])
    if tls.client_allowed_sans and tls.client_auth_type != "RequireAndVerifyClientCert":
        raise ConfigError([f"{where}.client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert"])
    return context


def peer_san_allowed(peer_cert: dict[str, Any] | None, allowed: tuple[str, ...]) -> bool:
    """True when the verified client certificate has a SAN (DNS, IP, email or URI) in `allowed`."""
    if not allowed:
        return True
    names = {value for _kind, value in (peer_cert or {}).get("subjectAltName", ())}
    return any(name in names for name in allowed)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: `kind` is "token", "user" (basic auth) or "anonymous"."""

    kind: str
    name: str = ""


ANONYMOUS = Principal("anonymous")


class WebSecurity:
    """The active web security: built from a WebConfig and the main config's admin token,
    swapped whole on reload. Thread-safe: the password cache has its own lock."""

    def __init__(self, config: WebConfig | None = None, admin_token: str | None = None):
        self.config = config or WebConfig()
        self.context = server_context(self.config.tls_server_config)
        self.headers = tuple(self.config.http_server_config.headers.items())
        self._users = {u: h.get_secret_value().encode() for u, h in self.config.basic_auth_users.items()}
        self._token = admin_token.encode() if admin_token else None
        self._key = secrets.token_bytes(32)  # keys the cache digests; never leaves the process
        self._ok: dict[bytes, None] = {}
        self._lock = threading.Lock()
        self._bucket = _Bucket(self.config.rate_limit)

    @property
    def tls(self) -> bool:
        return self.context is not None

    @property
    def requires_login(self) -> bool:
        return bool(self._users)

    @property
    def has_credentials(self) -> bool:
        """A token or basic-auth users are configured: changes need them, loopback is not enough."""
        return bool(self._users) or self._token is not None

    def allow_request(self) -> bool:
        """The rate limit's verdict for one more request."""
        return self._bucket.take()

    def identify(self, authorization: str | None) -> Principal | None:
        """The principal an Authorization header proves, ANONYMOUS when it proves nothing and no
        login is required, or None when a login is required and missing or wrong (401).

        May take tens of milliseconds (bcrypt): call it off the event loop."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if self._token is not None and scheme.lower() == "bearer" and value:
            if hmac.compare_digest(value.encode(), self._token):
                return Principal("token")
            return None
        if scheme.lower() == "basic" and value and self._users:
            user = self._check_basic(value)
            if user is not None:
                return Principal("user", user)
            return None
        return None if self._users else ANONYMOUS

    def _check_basic(self, encoded: str) -> str | None:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None
        hashed = self._users.get(user)
        digest = hmac.new(self._key, b"\0".join((user.encode(), password.encode(), hashed or b"")), hashlib.sha256)
        key = digest.digest()
        with self._lock:
            if hashed is not None and key in self._ok:
                return user
        ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        if not ok:
            return None
        with self._lock:
            if len(self._ok) >= AUTH_CACHE_SIZE:
                self._ok.pop(next(iter(self._ok)))
            self._ok[key] = None
        return user

    def may_change(self, principal: Principal, client: str) -> bool:
        """Reload and silence changes: a token holder or a basic-auth user; with neither
        configured, a loopback client only."""
        if principal.kind in ("token", "user"):
            return True
        if self.has_credentials:
            return False
        try:
            return ipaddress.ip_address(client).is_loopback
        except ValueError:
            return False


class _Bucket:
    """Token bucket for `rate_limit` (interval between requests, burst); disabled at interval 0."""

    def __init__(self, limit: RateLimit):
        self._interval = limit.interval
        self._burst = max(1, limit.burst)
        self._tokens = float(self._burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        if self._interval <= 0:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) / self._interval)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def build_security(path: Path | None, admin_token: str | None) -> WebSecurity:
    """The WebSecurity for a web config file (None: none given) and token; ConfigError when unusable."""
    config = load_web_config(path) if path is not None else WebConfig()
    return WebSecurity(config, admin_token)


__all__ = ["ANONYMOUS", "Principal", "WebConfig", "WebSecurity", "build_security", "load_web_config"]
