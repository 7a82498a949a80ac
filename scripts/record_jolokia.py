"""Record real Jolokia replies from the devstack into tests/fixtures/recorded/jolokia/.

Run with the stack up (both workers: `python -m devstack up --with-worker2`):
    .venv/bin/python scripts/record_jolokia.py
Each file holds the exact request sent, the decoded reply and a `_recorded` header saying where
it came from. Jolokia replies carry no connector configs, but every file is still checked for the
stack's real passwords before it is written.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cdc_watch.sources.jolokia.parse import bulk_request
from devstack import Stack, versions

OUT = versions.recorded_dir(Stack().connect_version, REPO) / "jolokia"


def _check_no_secrets(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            raise SystemExit("a real password appears in a recording; refusing to write it")


def _write(name: str, header: str, request: object, reply: object, secrets: list[str]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    text = json.dumps(
        {"_recorded": f"{header} ({stamp})", "request": request, "reply": reply}, indent=1, sort_keys=False
    )
    _check_no_secrets(text, secrets)
    (OUT / name).write_text(text + "\n")
    print(f"wrote {OUT / name}")


def main() -> None:
    stack = Stack()
    secrets = [v for k, v in stack._load_secrets().items() if "pass" in k.lower()]
    OUT.mkdir(parents=True, exist_ok=True)
    http = httpx.Client(timeout=15)
    body = bulk_request()
    version = http.get(stack.jolokia_url + "/version").json()["value"]
    cv = stack.connect_version
    where = (
        f"devstack Jolokia {version['agent']} (protocol {version['protocol']}, "
        f"{version['config'].get('agentType', 'servlet')} agent) in Connect {cv.connect} + Debezium {cv.debezium}"
    )
    # Worker 1 runs the sample Debezium connector; worker 2 runs nothing (every Debezium read 404s).
    _write(
        "bulk_worker_with_debezium.json",
        f"{where}, worker 1, sample connector streaming",
        body,
        http.post(stack.jolokia_url, json=body).json(),
        secrets,
    )
    if stack.worker_running(2):
        _write(
            "bulk_worker_idle.json",
            f"{where}, worker 2, no tasks",
            body,
            http.post(stack.jolokia2_url, json=body).json(),
            secrets,
        )
    # Jolokia 1.x defaults (no config): canonical keys, stack traces in errors.
    plain = [
        {"type": "read", "mbean": "debezium.mysql:type=connector-metrics,context=streaming,server=gone-prefix"},
        {
            "type": "read",
            "mbean": "kafka.connect:type=connect-worker-metrics,connector=*",
            "attribute": ["no-such-attribute"],
        },
        {"type": "read", "mbean": "kafka.connect:type=connector-task-metrics,*"},
    ]
    _write(
        "errors_default_params.json",
        f"{where}, worker 1, agent defaults (no config)",
        plain,
        http.post(stack.jolokia_url, json=plain).json(),
        secrets,
    )
    _write(
        "version.json",
        f"{where}, worker 1, GET /version",
        None,
        http.get(stack.jolokia_url + "/version").json(),
        secrets,
    )


if __name__ == "__main__":
    main()
