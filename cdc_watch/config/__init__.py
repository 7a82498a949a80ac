"""Configuration: the schema (frozen pydantic models) and its loading from YAML with `${ENV}` and
file secrets. The names most callers need are re-exported here."""

from cdc_watch.config.load import ConfigError, load_config, parse_config
from cdc_watch.config.schema import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_MAX_REPLY_SIZE,
    TLS,
    AlertingConfig,
    AlertmanagerSettings,
    BasicAuth,
    Config,
    ConnectCluster,
    Database,
    HttpEndpoint,
    JolokiaSettings,
    RemediationConfig,
    RuleOverride,
    RulesConfig,
    SentrySettings,
    SilenceRule,
    SlackSettings,
    parse_duration,
)

__all__ = [
    "DEFAULT_LISTEN_ADDRESS",
    "DEFAULT_MAX_REPLY_SIZE",
    "TLS",
    "AlertingConfig",
    "AlertmanagerSettings",
    "BasicAuth",
    "Config",
    "ConfigError",
    "ConnectCluster",
    "Database",
    "HttpEndpoint",
    "JolokiaSettings",
    "RemediationConfig",
    "RuleOverride",
    "RulesConfig",
    "SentrySettings",
    "SilenceRule",
    "SlackSettings",
    "load_config",
    "parse_config",
    "parse_duration",
]
