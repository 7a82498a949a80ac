"""The one generator entry point: every committed artefact equals what `python -m generate`
writes, and `--check` notices a stale or stray file."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

from generate import __main__ as entry

REPO = Path(__file__).resolve().parents[2]


def test_every_generated_artefact_is_up_to_date(capsys):
    assert entry.main(["--check"]) == 0, capsys.readouterr().err


def test_check_reports_stale_and_stray_files_and_writing_fixes_them(tmp_path, monkeypatch, capsys):
    kept, stale, stray = tmp_path / "kept.txt", tmp_path / "stale.txt", tmp_path / "stray.txt"
    kept.write_text("same\n")
    stale.write_text("old\n")
    stray.write_text("left over\n")
    fake = types.SimpleNamespace(
        outputs=lambda: {kept: "same\n", stale: "new\n"},
        owned=lambda: sorted(tmp_path.glob("*.txt")),
    )
    monkeypatch.setattr(entry, "GENERATORS", {"fake": fake})
    assert entry.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "stale.txt is stale" in err and "stray.txt is stray" in err and "kept.txt" not in err
    assert stale.read_text() == "old\n" and stray.exists(), "--check writes nothing"
    assert entry.main([]) == 0
    assert stale.read_text() == "new\n" and not stray.exists() and kept.read_text() == "same\n"
    assert entry.main(["--check"]) == 0


@pytest.mark.parametrize("path", sorted((REPO / "generate").glob("*.py")), ids=lambda p: p.name)
def test_generators_import_nothing_from_tests(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith("tests"), f"{path.name} imports {node.module}"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("tests") for a in node.names), path.name
