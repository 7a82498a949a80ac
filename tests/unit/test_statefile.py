"""State file: sections survive a reopen; corrupt files are set aside, never fatal."""

from __future__ import annotations

import json
import logging

from cdc_watch.core.statefile import StateFile


def test_sections_round_trip(tmp_path):
    path = tmp_path / "state.json"
    StateFile(path).save("alerts", {"CdcTaskFailed": {"since": 12.5}})
    reopened = StateFile(path)
    assert reopened.section("alerts") == {"CdcTaskFailed": {"since": 12.5}}
    assert reopened.section("missing") is None


def test_section_is_a_copy(tmp_path):
    state = StateFile(tmp_path / "s.json")
    state.save("a", {"n": 1})
    copy = state.section("a")
    copy["n"] = 2
    assert state.section("a") == {"n": 1}


def test_corrupt_file_is_set_aside_with_a_warning(tmp_path, caplog):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        state = StateFile(path)
    assert state.section("alerts") is None
    assert not path.exists()
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
    assert "set aside" in caplog.text
    state.save("alerts", {})
    assert json.loads(path.read_text())["sections"] == {"alerts": {}}


def test_wrong_layout_counts_as_corrupt(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 99, "sections": {}}))
    assert StateFile(path).section("x") is None
    assert list(tmp_path.glob("state.json.corrupt-*"))


def test_memory_only(tmp_path):
    state = StateFile(None)
    state.save("a", [1])
    assert state.section("a") == [1]
    assert list(tmp_path.iterdir()) == []
