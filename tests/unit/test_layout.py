"""The package layout holds: no import circle, each package imports only packages below it,
and the top of cdc_watch/ stays small. Read from the source (every import statement, also
those inside functions), so a lazy import cannot hide a circle."""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TREES = ("cdc_watch", "generate", "devstack")
# A package may import the ones with a lower rank, never one with the same or a higher rank.
RANK = {
    "core": 0,
    "config": 1,
    "sources": 2,
    "analysis": 3,
    "exporter": 4,
    "rules": 4,
    "remediation": 5,
    "notify": 5,
    "commands": 6,
    "status": 6,
    "ha": 6,
}
TOP = 7  # cli, app, web, __main__: the composition root and the entry points


def _modules() -> dict[str, Path]:
    out = {}
    for tree in TREES:
        for path in (REPO / tree).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[str]:
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


GRAPH = {m: {i for i in _imports(m, p) if i in MODULES and i != m} for m, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def _rank(module: str) -> int:
    parts = module.split(".")
    if parts == ["cdc_watch"]:
        return -1  # the package itself holds only __version__
    return RANK.get(parts[1], TOP) if len(parts) > 1 else TOP


def test_no_import_circle():
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("cdc_watch.")))
def test_a_package_imports_only_packages_below_it(module):
    mine = _rank(module)
    upward = sorted(
        other
        for other in GRAPH[module]
        if other.startswith("cdc_watch")
        and mine < TOP
        and (_rank(other) > mine or (_rank(other) == mine and other.split(".")[1] != module.split(".")[1]))
    )
    assert upward == [], f"{module} (rank {mine}) imports {upward}"


def test_the_top_of_the_package_stays_small():
    top = sorted(p.name for p in (REPO / "cdc_watch").glob("*.py"))
    assert len(top) <= 6, top


def test_the_checker_sees_a_circle():
    GRAPH["cdc_watch.core.clock"].add("cdc_watch.core.model")
    GRAPH["cdc_watch.core.model"].add("cdc_watch.core.clock")
    try:
        assert ["cdc_watch.core.clock", "cdc_watch.core.model"] in _cycles()
    finally:
        GRAPH["cdc_watch.core.clock"].discard("cdc_watch.core.model")
        GRAPH["cdc_watch.core.model"].discard("cdc_watch.core.clock")


# The project documents what it relies on itself: no file points at notes outside the
# repository, and the only outside addresses are the project's own home (the runbook base URL)
# and Slack's API default. Hosts without a dot, loopback and the reserved example/test names
# are placeholders.
OUTSIDE_NOTES = re.compile(r"\.\./shared|shared/reference|shared/STACK|landscape\.md|wave2\.md|§")
URL = re.compile(r"https?://(?:[^\s\"'<>@/]*@)?([^\s\"'<>/:)\]`,|]+)")
ALLOWED_HOSTS = {"github.com", "slack.com"}
PLACEHOLDER = re.compile(
    r"^(127\.\d+\.\d+\.\d+|10\.\d+\.\d+\.\d+|localhost|[^.]+|.*\.(example|test|internal|local|svc|connect)(\.com)?)$"
)


def _tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in listed.decode().split("\0") if name]


def test_no_file_points_outside_the_repository():
    found = []
    for path in _tracked():
        if path.suffix not in {".py", ".md", ".yml", ".yaml", ".json", ".toml", ".txt", ".libsonnet", ".jsonnet", ""}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        rel = path.relative_to(REPO)
        if rel == Path("tests/unit/test_layout.py"):
            continue
        found += [f"{rel}: {m.group(0)}" for m in OUTSIDE_NOTES.finditer(text)]
        for m in URL.finditer(text):
            host = m.group(1).lower()
            if host in ALLOWED_HOSTS:
                if host == "github.com" and not text[m.end() :].startswith("/cdc-watch/cdc-watch"):
                    found.append(f"{rel}: {m.group(0)}")
                continue
            if not PLACEHOLDER.match(host) and "{" not in host and "$" not in host:
                found.append(f"{rel}: {m.group(0)}")
    assert found == []
