"""The status document, the status page and their endpoints, on snapshots built from the
scenario vocabulary and the real rule engine (no fakes of the parts under test)."""

from __future__ import annotations

import html.parser
import json

import pytest

from cdc_watch.config import parse_config
from cdc_watch.remediation.policy import ConnectorRecord, RemediationState
from cdc_watch.rules import table as rules
from cdc_watch.rules.model import AlertState
from cdc_watch.status import endpoints, page, view
from generate.scenarios import Step
from generate.snapshots import snapshot_for

SOURCES = (("connect:prod", "connect"), ("jolokia:prod", "jolokia"))
HOSTILE = "<script>alert('x')</script>\"&'ünï"
RULES = parse_config(
    {
        "connect_clusters": [{"name": "prod", "url": "http://w1:8083"}],
        "alerting": {"rules": {"overrides": {"CdcTaskFailed": {"for": "0s"}}}},
    }
).alerting.rules


def _step(connectors: dict) -> Step:
    return Step(0, {"prod": connectors})


def _doc(connectors: dict, *, remediation: RemediationState | None = None, log=(), silences=(), now=1000.0):
    snapshot = snapshot_for(_step(connectors), SOURCES, now - 1)
    alerts, _ = rules.evaluate(AlertState(), snapshot, now, RULES)
    return view.build(
        view.Inputs(
            snapshot=snapshot,
            now=now,
            alerts=alerts,
            silences=silences,
            remediation=remediation,
            remediation_log=log,
            runbook_base="https://github.com/cdc-watch/cdc-watch/blob/main/docs/runbook.md",
            version="9.9",
        )
    )


FLEET = {
    "aaa-healthy": ("RUNNING", {0: "RUNNING@w1:8083"}),
    "orders": ("RUNNING", {0: "FAILED@w2:8083"}),
    "paused": ("PAUSED", {0: "PAUSED@w1:8083"}),
}


def test_the_document_puts_problems_first_and_carries_alerts_with_evidence_and_runbook():
    doc = _doc(
        FLEET,
        remediation=RemediationState().with_record(
            "prod", "orders", ConnectorRecord(attempts=2, last_attempt=900.0, next_allowed=1200.0)
        ),
    )
    assert [c["connector"] for c in doc["connectors"]] == ["orders", "paused", "aaa-healthy"]
    orders = doc["connectors"][0]
    assert orders["tasks"] == [
        {"id": 0, "state": "FAILED", "worker": "w2:8083", "trace_excerpt": orders["tasks"][0]["trace_excerpt"]}
    ]
    assert orders["tasks"][0]["trace_excerpt"]
    assert orders["remediation"] == {
        "attempts": 2,
        "last_restart": 900.0,
        "next_allowed_restart": 1200.0,
        "suppressed": None,
        "failure_kind": None,
    }
    firing = [a for a in doc["alerts"] if a["alert"] == "CdcTaskFailed"]
    assert len(firing) == 1 and firing[0]["state"] == "firing"
    assert firing[0]["labels"] == {"connect_cluster": "prod", "connector": "orders", "task": "0"}
    assert firing[0]["runbook_url"].endswith("#cdctaskfailed")
    assert firing[0]["evidence"]["facts"]
    assert [a["alert"] for a in orders["alerts"]] == ["CdcTaskFailed"]
    assert doc["connectors"][2]["alerts"] == [] and doc["connectors"][2]["remediation"] is None
    sources = {s["source"]: s for s in doc["sources"]}
    assert sources["connect:prod"]["state"] == "up" and sources["connect:prod"]["error"] is None
    json.dumps(doc)  # JSON-ready as it is


def test_a_failed_source_shows_its_reason_and_message():
    snapshot = snapshot_for(Step(0, {"prod": None}), SOURCES, 999.0)
    doc = view.build(view.Inputs(snapshot=snapshot, now=1000.0))
    connect = next(s for s in doc["sources"] if s["source"] == "connect:prod")
    assert connect["state"] == "down" and connect["error"]["reason"] and connect["error"]["message"]
    assert doc["alerting"] is False and doc["alerts"] == []


class _Text(html.parser.HTMLParser):
    """What a browser shows as text, and the elements it builds (to catch injected markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data):
        self.text.append(data)


def _parse(text: str) -> _Text:
    parser = _Text()
    parser.feed(text)
    return parser


def test_the_page_shows_what_fires_first_and_escapes_hostile_names():
    fleet = dict(FLEET) | {HOSTILE: ("RUNNING", {0: "FAILED@w1:8083"})}
    text = page.render(_doc(fleet), {})
    parsed = _parse(text)
    shown = "".join(parsed.text)
    assert "script" not in parsed.tags, "a connector name became markup"
    assert HOSTILE in shown, "a hostile name is shown as text"
    assert shown.index("CdcTaskFailed") < shown.index("Connectors (")
    assert any(link.endswith("#cdctaskfailed") for link in parsed.links)
    assert '<meta http-equiv="refresh"' in text and "<script" not in text.replace("&lt;script", "")
    assert "http://" not in text.replace("http-equiv", "") and "src=" not in text, "nothing fetched from outside"


def test_filters_and_pages_keep_the_page_readable_at_2000_connectors():
    fleet = {f"c{i:04d}": ("RUNNING", {0: "RUNNING@w1:8083"}) for i in range(2000)}
    fleet["c0500"] = ("RUNNING", {0: "FAILED@w1:8083"})
    doc = _doc(fleet)
    first = page.render(doc, {})
    assert first.count("<tr class=") <= page.PAGE_SIZE + 10
    assert "c0500" in first.split("Connectors (")[1].split("</table>")[0], "the failed one is on page 1"
    last = page.render(doc, {"page": "20"})
    assert "c1999" in last
    problems = page.select(doc["connectors"], "", "problem")
    assert [c["connector"] for c in problems] == ["c0500"]
    assert page.select(doc["connectors"], "other", "") == []
    assert [c["connector"] for c in page.select(doc["connectors"], "prod", "FAILED")] == ["c0500"]
    assert len(first.encode()) < 400_000, "one page stays small"


class _Alerting:
    def __init__(self) -> None:
        self.added: list[tuple] = []
        self.removed: list[str] = []

    def add_silence(self, matchers, duration, comment, created_by):
        self.added.append((matchers, duration, comment, created_by))
        return type("S", (), {"id": "abc123"})()

    def remove_silence(self, ident):
        self.removed.append(ident)
        return ident == "abc123"


def test_the_forms_add_and_expire_silences_only_when_allowed():
    alerting = _Alerting()
    doc = lambda: _doc(FLEET)  # noqa: E731 - a callable, as the app hands in
    denied = endpoints.handle(doc, alerting, "POST", "/-/silences", "", b"alert=CdcTaskFailed&duration=1h", False)
    assert denied is not None and denied[0] == 403 and alerting.added == []
    code, _, _, headers = endpoints.handle(
        doc,
        alerting,
        "POST",
        "/-/silences",
        "",
        b"alert=CdcTaskFailed&connector=orders&duration=1h&comment=deploy",
        True,
    )
    assert code == 303 and headers["Location"].startswith("/?notice=")
    assert alerting.added == [({"alert": "CdcTaskFailed", "connector": "orders"}, 3600.0, "deploy", "status page")]
    bad = endpoints.handle(doc, alerting, "POST", "/-/silences", "", b"alert=X&duration=forever", True)
    assert bad[0] == 303 and "duration" in bad[3]["Location"] and len(alerting.added) == 1
    assert endpoints.handle(doc, alerting, "POST", "/-/silences/abc123/expire", "", b"", True)[0] == 303
    assert alerting.removed == ["abc123"]
    assert endpoints.handle(doc, alerting, "POST", "/-/silences/../../x/expire", "", b"", True) is None


@pytest.mark.parametrize("path", ["/", "/api/v1/status"])
def test_the_endpoints_answer_html_and_json(path):
    code, body, content_type, _ = endpoints.handle(lambda: _doc(FLEET), None, "GET", path, "state=problem", b"", False)
    assert code == 200
    if path == "/":
        assert content_type.startswith("text/html") and b"orders" in body and b"aaa-healthy" not in body
    else:
        assert json.loads(body)["schema_version"] == view.SCHEMA_VERSION
