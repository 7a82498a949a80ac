"""No secret is written literally anywhere in the shipped tree (everything outside tests/).

Configs, manifests and examples reference secrets as "${NAME}" (or a file); example files that
list secret names leave their values empty; scripts generate the passwords they need.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", ".devstack", "tests", "__pycache__", ".pytest_cache", "build", "dist"}

SECRET_KEY = re.compile(r"(password|passwd|secret|token|dsn|webhook_url|api_?key)$", re.IGNORECASE)
ENV_REFERENCE = re.compile(r"\$\{[^}]+\}")
# A quoted literal after a secret-looking name or after IDENTIFIED BY; "..." and ${...} are placeholders.
LITERAL_IN_TEXT = [
    re.compile(r"IDENTIFIED BY\s+'(?!\$\{|\.\.\.')([^']+)'", re.IGNORECASE),
    re.compile(
        r"""["']?[\w.-]*(?:password|passwd|secret|api_?key)["']?\]?\s*[:=]\s*["'](?!\$\{|\.\.\.["'])([^"'\s]+)["']""",
        re.IGNORECASE,
    ),
]


def shipped_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        paths = [REPO / p for p in listed.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in REPO.rglob("*") if p.is_file()]
    return [p for p in paths if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(REPO).parts[:-1])]


def literal_secrets_in_data(node: object, where: str = "") -> list[str]:
    """Dotted locations of secret-named keys holding a literal, and of filled Kubernetes Secret values."""
    found: list[str] = []
    if isinstance(node, dict):
        values = ("data", "stringData") if node.get("kind") == "Secret" else ()
        for section in values:
            found += [f"{where}{section}.{k}" for k, v in (node.get(section) or {}).items() if v not in ("", None)]
        for key, value in node.items():
            if key in values:
                continue
            here = f"{where}{key}"
            if isinstance(value, str) and value and SECRET_KEY.search(str(key)) and not ENV_REFERENCE.search(value):
                found.append(here)
            else:
                found += literal_secrets_in_data(value, here + ".")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += literal_secrets_in_data(value, f"{where}[{index}].")
    return found


def literal_secrets_in_env_file(text: str) -> list[str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return [key for key, value in pairs if re.search(r"PASSWORD|SECRET|TOKEN|DSN|KEY", key) and value.strip()]


def literal_secrets_in_text(text: str) -> list[str]:
    return [m.group(0) for pattern in LITERAL_IN_TEXT for m in pattern.finditer(text)]


def find_literal_secrets(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    name = path.name
    if name.endswith((".yaml", ".yml")):
        return [hit for doc in yaml.safe_load_all(text) for hit in literal_secrets_in_data(doc)]
    if name.endswith(".json"):
        return literal_secrets_in_data(json.loads(text))
    if name.startswith(".env") or name.startswith("env.") or name.endswith(".env"):
        return literal_secrets_in_env_file(text)
    if name.endswith((".py", ".sh", ".md", ".java", ".cnf")) or name in {"Dockerfile"} or path.parent.name == "scripts":
        return literal_secrets_in_text(text)
    return []


def test_the_scan_covers_the_files_that_name_secrets():
    names = {p.relative_to(REPO).as_posix() for p in shipped_files()}
    assert {
        "config.example.yaml",
        "deploy/kubernetes/base/secret.example.yaml",
        "deploy/docker-compose/env.example",
        "deploy/docker-compose/compose.yaml",
        "scripts/record_ops.py",
        "devstack/stack.py",
    } <= names
    assert not any(n.startswith("tests/") for n in names)


@pytest.mark.parametrize(
    "sample, hits",
    [
        ({"auth": {"password": "hunter2"}}, ["auth.password"]),
        ({"auth": {"password": "${CONNECT_PASSWORD}"}}, []),
        ({"auth": {"password": {"file": "secrets/p"}}}, []),
        ({"kind": "Secret", "stringData": {"CONNECT_PASSWORD": "change-me"}}, ["stringData.CONNECT_PASSWORD"]),
        ({"kind": "Secret", "stringData": {"CONNECT_PASSWORD": ""}}, []),
        ({"database.password": "${env:DEBEZIUM_PASSWORD}"}, []),
        ({"automountServiceAccountToken": False}, []),
    ],
)
def test_data_scan_tells_literals_from_references(sample, hits):
    assert literal_secrets_in_data(sample) == hits


def test_text_and_env_scans_tell_literals_from_placeholders():
    assert literal_secrets_in_env_file("# x\nMYSQL_ROOT_PASSWORD=change-me\nOTHER=1\n") == ["MYSQL_ROOT_PASSWORD"]
    assert literal_secrets_in_env_file("MYSQL_ROOT_PASSWORD=\n") == []
    assert literal_secrets_in_text("""CREATE USER 'u'@'%' IDENTIFIED BY 'not-a-real-secret'""")
    assert literal_secrets_in_text("""bad["database.password"] = "not-the-password" """)
    assert not literal_secrets_in_text("""IDENTIFIED BY '...'; IDENTIFIED BY %s; IDENTIFIED BY '${PW}'""")
    assert not literal_secrets_in_text("""password=db.root_password, "database.password": "${env:PW}" """)


def test_no_literal_secret_outside_tests():
    found = {p.relative_to(REPO).as_posix(): hits for p in shipped_files() if (hits := find_literal_secrets(p))}
    assert found == {}
