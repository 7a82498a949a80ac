"""HTTP API for alerts and silences, served by web.py: routing-free request handling.

GET /api/v1/alerts              firing and pending alerts (JSON)
GET /api/v1/silences            active silences
POST /api/v1/silences           {"matchers": {"alert": ..., "connector": ...}, "duration": "2h", "comment": ...}
DELETE /api/v1/silences/<id>    remove a run-time silence

Changing silences is allowed from loopback clients, or from anywhere when the lifecycle API is
enabled (--web.enable-lifecycle): anyone who can reach the port could otherwise mute alerts.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from cdc_watch.config import parse_duration

JSON = "application/json"
MAX_SILENCE_SECONDS = 30 * 86400.0

Reply = tuple[int, bytes, str]


def _json(status: int, body: Any) -> Reply:
    return status, (json.dumps(body, indent=1) + "\n").encode(), JSON


def may_change(client: str, lifecycle: bool) -> bool:
    """Whether this client may change silences (see the module docstring)."""
    if lifecycle:
        return True
    try:
        return ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


def handle(alerting: Any, method: str, path: str, body: bytes, client: str, lifecycle: bool) -> Reply | None:
    """A reply, or None when the path is not ours."""
    if not path.startswith("/api/v1/"):
        return None
    if alerting is None:
        return _json(404, {"error": "alerting is not enabled"})
    if method == "GET" and path == "/api/v1/alerts":
        entries = sorted(alerting.alerts.entries.values(), key=lambda e: (e.severity.rank, e.key.alert, e.key.labels))
        return _json(
            200,
            {
                "alerts": [
                    {
                        "alert": e.key.alert,
                        "labels": dict(e.key.labels),
                        "severity": str(e.severity),
                        "state": str(e.phase),
                        "active_since": e.active_since,
                        "fired_at": e.fired_at,
                    }
                    for e in entries
                ]
            },
        )
    if method == "GET" and path == "/api/v1/silences":
        return _json(200, {"silences": alerting.list_silences()})
    if method == "POST" and path == "/api/v1/silences":
        if not may_change(client, lifecycle):
            return _json(
                403, {"error": "silences can be changed from loopback only, unless --web.enable-lifecycle is set"}
            )
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError("expected a JSON object")
            matchers = request.get("matchers")
            if (
                not isinstance(matchers, dict)
                or not matchers
                or not all(isinstance(v, str) and v for v in matchers.values())
            ):
                raise ValueError("matchers must be a non-empty object of strings")
            duration = parse_duration(request.get("duration"))
            if duration > MAX_SILENCE_SECONDS:
                raise ValueError("a silence lasts at most 30d")
            silence = alerting.add_silence(
                matchers, duration, str(request.get("comment", "")), str(request.get("created_by", ""))
            )
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, {"silence": silence.to_json()})
    if method == "DELETE" and path.startswith("/api/v1/silences/"):
        if not may_change(client, lifecycle):
            return _json(
                403, {"error": "silences can be changed from loopback only, unless --web.enable-lifecycle is set"}
            )
        ident = path.rsplit("/", 1)[1]
        return (
            _json(200, {"removed": ident})
            if alerting.remove_silence(ident)
            else _json(404, {"error": "no such run-time silence"})
        )
    return _json(404, {"error": "not found"})
