"""The status page in a real browser: headless Chromium (Debian's chromium-headless-shell,
installed by scripts/bootstrap) loads `/` from the daemon on the devstack with a FAILED task,
and what a person sees is checked on the DOM the browser built. Screenshots are kept under
`.artifacts/` in the repository (ignored by git)."""

from __future__ import annotations

import html.parser
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.e2e.conftest import alerting_yaml, stack_config_yaml

pytestmark = pytest.mark.stack

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts"
BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium") or "/usr/bin/chromium-headless-shell"
# Flags for a closed network and root: no sandbox, nothing fetched in the background.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)
HOSTILE = "<img src=x onerror=alert(1)>\"'&ünï"


def browse(url: str, screenshot: Path | None = None) -> str:
    """The DOM Chromium built for `url` (and a screenshot when asked)."""
    with tempfile.TemporaryDirectory() as profile:
        args = [BROWSER, *FLAGS, f"--user-data-dir={profile}"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=60, check=True)
        done = subprocess.run([*args, "--dump-dom", url], capture_output=True, timeout=60, check=True)
    return done.stdout.decode()


class _Seen(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def seen(dom: str) -> _Seen:
    parser = _Seen()
    parser.feed(dom)
    return parser


def test_a_person_sees_the_failed_task_its_alert_and_the_runbook(stack, stack_env, connector, daemon_factory, capture):
    daemon = daemon_factory(stack_config_yaml(stack, extra=alerting_yaml()))
    stack.faults.task_failed_non_retriable(connector)
    daemon.wait_for(
        lambda: any(
            a["alert"] == "CdcTaskFailed" and a["state"] == "firing" and a["labels"].get("connector") == connector.name
            for a in daemon.get("/api/v1/status").json()["alerts"]
        ),
        60,
        "CdcTaskFailed firing in /api/v1/status",
    )
    dom = browse(daemon.url + "/", ARTIFACTS / "status-page-failed-task.png")
    page = seen(dom)
    text = " ".join(page.text)
    assert "CdcTaskFailed" in text and connector.name in text and "FAILED" in text
    assert text.index("CdcTaskFailed") < text.index("Connectors ("), "what fires comes first"
    assert any(tag == "a" and (a.get("href") or "").endswith("#cdctaskfailed") for tag, a in page.tags)
    assert (ARTIFACTS / "status-page-failed-task.png").stat().st_size > 10_000
    doc = daemon.get("/api/v1/status").json()
    row = next(c for c in doc["connectors"] if c["connector"] == connector.name)
    assert row["tasks"][0]["state"] == "FAILED" and doc["connectors"][0]["connector"] == connector.name


def test_hostile_connector_names_are_shown_as_text(stack, stack_env, daemon_factory, capture):
    stack.create_connector(name=HOSTILE)  # Connect takes the name as it is; it streams like any other
    try:
        daemon = daemon_factory(stack_config_yaml(stack, extra=alerting_yaml()))
        daemon.wait_for(
            lambda: any(c["connector"] == HOSTILE for c in daemon.get("/api/v1/status").json()["connectors"]),
            60,
            "the hostile connector in /api/v1/status",
        )
        dom = browse(daemon.url + "/", ARTIFACTS / "status-page-hostile-name.png")
        page = seen(dom)
        assert HOSTILE in " ".join(page.text)
        assert not any(tag == "img" for tag, _ in page.tags), "a connector name became an element"
        assert not any("onerror" in attrs for _, attrs in page.tags)
    finally:
        stack.delete_connector(HOSTILE)
