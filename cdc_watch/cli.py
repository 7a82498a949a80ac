"""The `cdc-watch` command line: `run`, `check-config`, `connectors ...`, `preflight`, `--version`.

Flags mirror the Prometheus ecosystem (`--config.file`, `--web.listen-address`,
`--log.level`, `--log.format logfmt|json`). The shared flags go before or after the command
and its action (`cdc-watch connectors --config.file X status NAME`), and every command takes
`--version`. `--config.file` defaults to $CDC_WATCH_CONFIG, else
`cdc-watch.yaml` in the working directory (the Docker image sets
CDC_WATCH_CONFIG=/etc/cdc-watch/config.yaml). Exit codes: 0 ok, 2 bad configuration or usage
(also a configuration that cannot be started, e.g. unusable TLS material or listen address).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from pathlib import Path

from cdc_watch import __version__
from cdc_watch.commands import connectors as connectors_command
from cdc_watch.commands import preflight as preflight_command
from cdc_watch.commands import shared_default
from cdc_watch.commands import silence as silence_command
from cdc_watch.config import DEFAULT_LISTEN_ADDRESS, ConfigError, load_config
from cdc_watch.core import logs
from cdc_watch.rules.table import ALERT_NAMES

EXIT_OK = 0
EXIT_CONFIG = 2
CONFIG_ENV = "CDC_WATCH_CONFIG"
DEFAULT_CONFIG_FILE = "cdc-watch.yaml"


def default_config_file() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json", "text")  # text: the earlier name of logfmt, kept as an alias
VERSION = f"cdc-watch {__version__}"

RUN_EXAMPLES = """examples:
  cdc-watch run --config.file /etc/cdc-watch/config.yaml
  cdc-watch run --config.file cdc-watch.yaml --web.listen-address 127.0.0.1:10108 --log.format json
  cdc-watch run --web.enable-lifecycle    # then reload with: curl -X POST http://127.0.0.1:10108/-/reload
  cdc-watch check-config --config.file cdc-watch.yaml    # validate first: exit 0 valid, 2 invalid
"""


def add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """The flags every command takes (`--config.file`, `--log.level`, `--log.format`,
    `--version`), accepted before the command, after it and after its action alike; only the
    top-level parser holds their defaults (see `commands.shared_default`)."""

    def default(value: object) -> object:
        return shared_default(value, top)

    parser.add_argument(
        "--config.file",
        dest="config_file",
        type=Path,
        metavar="FILE",
        default=default(default_config_file()),
        help=f"configuration file (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG_FILE}; now {default_config_file()})",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        choices=LOG_LEVELS,
        default=default("info"),
        help="only log messages at this level or above (default: info)",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=LOG_FORMATS,
        default=default("logfmt"),
        help="log line format on stderr: logfmt (key=value; 'text' is an alias) or json (default: logfmt)",
    )
    parser.add_argument("--version", action="version", version=VERSION, help="print the version and exit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdc-watch",
        description="Monitor, alert on and heal Kafka Connect + Debezium MySQL pipelines.",
        epilog="Each command has its own --help. Exit codes: 0 ok, 2 bad configuration or usage; the "
        "operator commands also use 1 (failed upstream) and 3 (unreachable). "
        "Tested live with Kafka Connect 3.9 to 4.3 and Debezium 3.0 to 3.6 (Jolokia 1.7, MariaDB 10.11); "
        "a cluster outside that range is logged as a warning at its first poll. "
        "The full matrix: docs/compatibility.md.",
    )
    add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the daemon: poll, serve /metrics, alert, heal",
        description=textwrap.fill(
            "Run the daemon: poll the Kafka Connect clusters, Jolokia agents and databases of the configuration "
            "in the background, serve /metrics, /-/healthy, /-/ready and a landing page, evaluate the health "
            "rules, send notifications and, if the configuration enables it, restart failed connectors. SIGHUP "
            "(or POST /-/reload with --web.enable-lifecycle) reloads the configuration; SIGTERM or SIGINT stops "
            "it within 5 s. Exit codes: 0 stopped by a signal, 2 bad configuration or unusable listen address "
            "or TLS material.",
            79,
        ),
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(run)
    run.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=DEFAULT_LISTEN_ADDRESS,
        metavar="[HOST]:PORT",
        help="address for /metrics, /-/healthy, /-/ready and the landing page (default: %(default)s)",
    )
    run.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        default=None,
        metavar="FILE",
        help="exporter-toolkit web configuration (TLS, basic auth, headers); reloaded with the config",
    )
    run.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="allow POST /-/reload; it still needs authorization: the admin token, a basic-auth user,"
        " or loopback when neither is configured (docs/security.md)",
    )

    check = commands.add_parser(
        "check-config",
        help="validate the configuration file and exit (0 valid, 2 invalid)",
        description="Validate the configuration file: every problem is listed by its dotted location. "
        "Exit codes: 0 valid, 2 invalid.",
    )
    add_common(check)

    connectors_command.add_parser(commands, add_common)
    preflight_command.add_parser(commands, add_common)
    silence_command.add_parser(commands, add_common)
    return parser


def check_config(path: Path) -> int:
    try:
        config = load_config(path, alert_names=ALERT_NAMES)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    clusters = ", ".join(c.name for c in config.connect_clusters)
    print(f"{path}: valid ({len(config.connect_clusters)} Connect cluster(s): {clusters})")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from cdc_watch.app import App

    try:
        app = App(
            args.config_file,
            args.listen_address,
            enable_lifecycle=args.enable_lifecycle,
            web_config_path=args.web_config_file,
        )
    except ConfigError as exc:
        logging.getLogger("cdc_watch").error(
            "invalid configuration", extra={"config": str(args.config_file), "problems": "; ".join(exc.problems)}
        )
        return EXIT_CONFIG
    except (OSError, ValueError) as exc:
        logging.getLogger("cdc_watch").error("cannot start", extra={"error": str(exc)})
        return EXIT_CONFIG
    try:
        app.run_until_signalled()
    except (OSError, ValueError) as exc:  # a source that cannot be built (stopped again already)
        logging.getLogger("cdc_watch").error("cannot start", extra={"error": str(exc)})
        return EXIT_CONFIG
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(
        "warning" if args.log_level == "warn" else args.log_level, "json" if args.log_format == "json" else "logfmt"
    )
    if args.command == "check-config":
        return check_config(args.config_file)
    if args.command == "connectors":
        return connectors_command.run(args)
    if args.command == "preflight":
        return preflight_command.run(args)
    if args.command == "silence":
        return silence_command.run(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
