"""Request handling for the status endpoints, routing-free like `notify/api.py`.

GET  /                               the status page (filters: ?cluster=, ?state=, ?page=)
GET  /api/v1/status                  the status document as JSON (docs/api.md)
POST /-/silences                     form: alert, connector, duration, comment -> add a silence
POST /-/silences/<id>/expire         form: expire a run-time silence

The two POSTs are the page's forms (no script needed) and change silences like the API does;
the caller (web/routes.py) says whether this client may change them (docs/security.md). They answer 303 to the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from cdc_watch.config import parse_duration
from cdc_watch.notify.api import MAX_SILENCE_SECONDS
from cdc_watch.status import page

Reply = tuple[int, bytes, str, Mapping[str, str]]  # status, body, content type, extra headers
HTML = "text/html; charset=utf-8"
JSON = "application/json"
MAX_FORM_FIELD = 500  # characters kept of a form field; a longer one is refused
_EXPIRE = re.compile(r"^/-/silences/([0-9a-f]{1,32})/expire$")


def _query(text: str) -> dict[str, str]:
    return {k: v[0][:MAX_FORM_FIELD] for k, v in parse_qs(text, keep_blank_values=False).items() if v}


def _back(notice: str) -> Reply:
    return 303, b"", "text/plain", {"Location": "/?" + urlencode({"notice": notice})}


def handle(
    document: Callable[[], dict[str, Any]],
    alerting: Any,
    method: str,
    path: str,
    query: str,
    body: bytes,
    may_change: bool,
) -> Reply | None:
    """A reply, or None when the path is not ours."""
    if method == "GET" and path == "/api/v1/status":
        return 200, (json.dumps(document(), indent=1, default=str) + "\n").encode(), JSON, {}
    if method == "GET" and path == "/":
        params = _query(query)
        text = page.render(
            document(),
            params,
            can_change_silences=may_change and alerting is not None,
            notice=params.get("notice", ""),
        )
        return 200, text.encode(), HTML, {}
    if method != "POST" or not path.startswith("/-/silences"):
        return None
    if alerting is None:
        return _back("alerting is not enabled")
    if not may_change:
        return 403, b"not allowed to change silences from here\n", "text/plain", {}
    form = _query(body.decode("utf-8", "replace"))
    if path == "/-/silences":
        matchers = {k: form[k] for k in ("alert", "connector", "connect_cluster", "database") if form.get(k)}
        if not matchers:
            return _back("a silence needs an alert or a connector")
        try:
            duration = parse_duration(form.get("duration", ""))
        except ValueError as exc:
            return _back(f"duration: {exc}")
        if duration > MAX_SILENCE_SECONDS:
            return _back("a silence lasts at most 30d")
        silence = alerting.add_silence(matchers, duration, form.get("comment", ""), "status page")
        return _back(f"silence {silence.id} added")
    match = _EXPIRE.match(path)
    if match is None:
        return None
    removed = alerting.remove_silence(match.group(1))
    return _back(f"silence {match.group(1)} expired" if removed else "no such run-time silence")
