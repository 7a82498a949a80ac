"""Operator commands (`cdc-watch connectors ...`, `cdc-watch preflight`) and their exit codes.

Each command is split in two: a pure module that turns replies into views and text
(`connect_views`, `cdc_watch.preflight`), and an I/O module that makes the requests and prints
(`connectors`, `preflight`). Exit codes are part of the interface scripts rely on.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation failed upstream: unknown connector, invalid config, a failing check
    USAGE = 2  # bad flags, unreadable config or connector file, rejected credentials
    UNREACHABLE = 3  # no worker of the cluster (or the database) answered


class CommandError(Exception):
    """A command that cannot go on; `message` is safe to print (no secrets)."""

    def __init__(self, code: ExitCode, message: str, detail: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or {}


Common = Callable[[argparse.ArgumentParser], None]
Shared = Callable[[argparse.ArgumentParser, bool], None]  # (parser, is the command itself)


def shared_default(value: object, top: bool) -> object:
    """The default of a flag a command and its actions share: only where it first appears.

    argparse copies a subparser's defaults over what its parent parsed, so the same flag with a
    default on an action would undo the value given before the action; with "not given" there,
    a flag is kept wherever it is given, and the last one given wins."""
    return value if top else argparse.SUPPRESS


def command_with_actions(
    commands: argparse._SubParsersAction,
    name: str,
    dest: str,
    add_common: Common,
    add_shared: Shared,
    help_text: str,
    description: str,
) -> Callable[[str, str], argparse.ArgumentParser]:
    """Add a command with actions (`connectors list`, `silence add`); returns the function that
    adds one action. The common and the command's shared flags go on both levels."""
    group = commands.add_parser(name, help=help_text, description=description)
    add_common(group)
    add_shared(group, True)
    actions = group.add_subparsers(dest=dest, required=True, metavar="ACTION")

    def action(action_name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(action_name, help=help_text, description=help_text)
        add_common(parser)
        add_shared(parser, False)
        return parser

    return action
