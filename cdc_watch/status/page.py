"""The status page at `/` for the person on call, rendered from the status document (pure).

What is firing comes first (severity, since when, evidence, runbook link), then the
connectors (problem rows first, filterable by cluster and state, paginated), the sources, the
silences (with forms to add and expire them) and the remediation log. Plain HTML with a little
inline CSS: no script, no asset from anywhere, a refresh every `REFRESH_SECONDS`. Every value
from upstream (connector names, traces, error messages) is escaped; nothing is trusted.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

REFRESH_SECONDS = 15
PAGE_SIZE = 100  # connector rows per page; 2,000 connectors are 20 pages
STATES = ("RUNNING", "PAUSED", "STOPPED", "RESTARTING", "UNASSIGNED", "FAILED", "UNKNOWN")
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d1d1f}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f6}.critical{background:#fde2e1}.warning{background:#fff4d6}.info{background:#e8f0fe}
.bad{color:#b3261e;font-weight:600}.ok{color:#1e7b34}.muted{color:#666}
pre{white-space:pre-wrap;max-height:12em;overflow:auto;margin:.3em 0;font-size:.85em;background:#f8f8f8;padding:.4em}
details summary{cursor:pointer}form.inline{display:inline}nav a{margin-right:.6em}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return '<span class="muted">never</span>'
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
    return f'<time datetime="{_e(stamp)}">{_e(stamp)}</time> <span class="muted">({_e(_ago(now - ts))})</span>'


def _ago(seconds: float) -> str:
    future = seconds < 0
    s = abs(int(seconds))
    text = f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h" if s < 172800 else f"{s // 86400}d"
    return f"in {text}" if future else f"{text} ago"


def _bytes(n: int | None) -> str:
    if n is None:
        return '<span class="muted">?</span>'
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return _e(f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}")
        value /= 1024
    return _e(n)


def _alerts(alerts: Sequence[Mapping[str, Any]], now: float) -> str:
    if not alerts:
        return '<p class="ok">Nothing is firing or pending.</p>'
    rows = []
    for a in alerts:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a["labels"].items()))
        ev = a.get("evidence") or {}
        facts = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in ev.get("facts") or [])
        why = f"<li>why: {_e(ev['why'])}</li>" if ev.get("why") else ""
        hint = f"<li>what to do: {_e(ev['hint'])}</li>" if ev.get("hint") else ""
        trace = f"<details><summary>trace</summary><pre>{_e(ev['trace'])}</pre></details>" if ev.get("trace") else ""
        runbook = f'<a href="{_e(a["runbook_url"])}">runbook</a>' if a.get("runbook_url") else ""
        since = a.get("fired_at") if a.get("state") == "firing" else a.get("active_since")
        rows.append(
            f'<tr class="{_e(a["severity"])}"><td>{_e(a["severity"])}</td><td>{_e(a["state"])}</td>'
            f"<td><strong>{_e(a['alert'])}</strong><br>{_e(a.get('summary'))}</td><td>{_e(labels)}</td>"
            f"<td>{_when(since, now)}</td><td><ul>{facts}{why}{hint}</ul>{trace}</td><td>{runbook}</td></tr>"
        )
    return (
        "<table><tr><th>severity</th><th>state</th><th>alert</th><th>on</th><th>since</th>"
        "<th>evidence</th><th></th></tr>" + "".join(rows) + "</table>"
    )


def _filters(doc: Mapping[str, Any], cluster: str, state: str) -> str:
    clusters = sorted({c["connect_cluster"] for c in doc["connectors"]})
    options = ['<option value="">all clusters</option>'] + [
        f'<option value="{_e(c)}"{" selected" if c == cluster else ""}>{_e(c)}</option>' for c in clusters
    ]
    states = [
        '<option value="">all states</option>',
        f'<option value="problem"{" selected" if state == "problem" else ""}>problems only</option>',
    ] + [f'<option value="{s}"{" selected" if s == state else ""}>{s}</option>' for s in STATES]
    return (
        '<form method="get" action="/">'
        f'<select name="cluster">{"".join(options)}</select> <select name="state">{"".join(states)}</select> '
        '<button type="submit">filter</button></form>'
    )


def _is_problem(c: Mapping[str, Any]) -> bool:
    return bool(c["alerts"]) or c["state"] != "RUNNING" or any(t["state"] != "RUNNING" for t in c["tasks"])


def select(connectors: Sequence[Mapping[str, Any]], cluster: str, state: str) -> list[Mapping[str, Any]]:
    """The connectors the filters keep: by cluster, and by connector or task state ("problem":
    any alert or anything not RUNNING)."""
    out = []
    for c in connectors:
        if cluster and c["connect_cluster"] != cluster:
            continue
        if state == "problem" and not _is_problem(c):
            continue
        if state and state != "problem" and c["state"] != state and all(t["state"] != state for t in c["tasks"]):
            continue
        out.append(c)
    return out


def _connector_row(c: Mapping[str, Any], now: float) -> str:
    tasks = []
    for t in c["tasks"]:
        cls = "bad" if t["state"] == "FAILED" else ("ok" if t["state"] == "RUNNING" else "")
        line = (
            f'<span class="{cls}">{_e(t["id"])}: {_e(t["state"])}</span> <span class="muted">{_e(t["worker"])}</span>'
        )
        if t.get("trace_excerpt"):
            line += f"<details><summary>trace</summary><pre>{_e(t['trace_excerpt'])}</pre></details>"
        tasks.append(line)
    s = c.get("streaming") or {}
    streaming = (
        "".join(
            [
                "connected"
                if s.get("connected")
                else '<span class="bad">not connected</span>'
                if s.get("connected") is False
                else '<span class="muted">?</span>',
                f"<br>{_e(round(s['behind_source_seconds'], 1))} s behind"
                if s.get("behind_source_seconds") is not None
                else "",
            ]
        )
        if s
        else '<span class="muted">-</span>'
    )
    b = c.get("binlog")
    if b:
        pos = b.get("position") or b.get("restart_position") or {}
        eta = b.get("purge_eta_seconds")
        avail = "ok" if b.get("available") else ("bad" if b.get("available") is False else "muted")
        binlog = (
            f"{_e(pos.get('file'))}:{_e(pos.get('position'))}<br>lag {_bytes(b.get('lag_bytes'))}"
            f'<br><span class="{avail}">{_e(b.get("status"))}</span>'
            + (f"<br>purge {_e(_ago(-eta))}" if eta is not None else "")
        )
    else:
        binlog = '<span class="muted">-</span>'
    r = c.get("remediation")
    remediation = (
        f"last restart {_when(r.get('last_restart'), now)}<br>next allowed {_when(r.get('next_allowed_restart'), now)}"
        + (f"<br>held back: {_e(r['suppressed'])}" if r.get("suppressed") else "")
        if r
        else '<span class="muted">-</span>'
    )
    alerts = "<br>".join(
        f'<span class="{_e(a["severity"])}">{_e(a["alert"])} ({_e(a["state"])})</span>' for a in c["alerts"]
    )
    row_class = "bad" if c["alerts"] else ""
    return (
        f'<tr class="{row_class}"><td>{_e(c["connect_cluster"])}</td><td><strong>{_e(c["connector"])}</strong></td>'
        f"<td>{_e(c['state'])}<br><span class='muted'>{_e(c['worker'])}</span></td><td>{'<br>'.join(tasks)}</td>"
        f"<td>{streaming}</td><td>{binlog}</td><td>{remediation}</td><td>{alerts}</td></tr>"
    )


def _pager(total: int, page: int, cluster: str, state: str) -> str:
    pages = max(1, -(-total // PAGE_SIZE))
    if pages == 1:
        return ""
    links = []
    for p in range(1, pages + 1):
        query = urlencode({k: v for k, v in (("cluster", cluster), ("state", state), ("page", str(p))) if v})
        links.append(f"<strong>{p}</strong>" if p == page else f'<a href="/?{_e(query)}">{p}</a>')
    return f"<nav>page {' '.join(links)}</nav>"


def _sources(sources: Sequence[Mapping[str, Any]], now: float) -> str:
    rows = []
    for s in sources:
        cls = "ok" if s["state"] == "up" else ("muted" if s["state"] == "pending" else "bad")
        err = s.get("error") or {}
        rows.append(
            f"<tr><td>{_e(s['source'])}</td><td>{_e(s['kind'])}</td><td class='{cls}'>{_e(s['state'])}</td>"
            f"<td>{_when(s.get('last_poll'), now)}</td><td>{_when(s.get('last_success'), now)}</td>"
            f"<td>{_e(err.get('reason'))} {_e(err.get('message'))}</td></tr>"
        )
    return (
        "<table><tr><th>source</th><th>kind</th><th>state</th><th>last poll</th><th>last success</th><th>error</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _silences(doc: Mapping[str, Any], now: float, can_change: bool) -> str:
    rows = []
    for s in doc.get("silences", []):
        matchers = ", ".join(f"{k}={v}" for k, v in sorted((s.get("matchers") or {}).items()))
        expire = ""
        if can_change and s.get("id"):
            expire = (
                f'<form class="inline" method="post" action="/-/silences/{_e(s["id"])}/expire">'
                '<button type="submit">expire</button></form>'
            )
        rows.append(
            f"<tr><td>{_e(matchers)}</td><td>{_e(s.get('comment'))}</td><td>{_when(s.get('until'), now)}</td>"
            f"<td>{_e(s.get('created_by') or 'runtime')}</td><td>{expire}</td></tr>"
        )
    table = (
        "<table><tr><th>matchers</th><th>comment</th><th>ends</th><th>from</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else '<p class="muted">No silences.</p>'
    )
    add = ""
    if can_change:
        add = (
            '<form method="post" action="/-/silences"><p>Silence alert <input name="alert" placeholder="CdcTaskFailed"> '
            'on connector <input name="connector" placeholder="any"> for <input name="duration" value="2h" size="5"> '
            'because <input name="comment" placeholder="reason"> <button type="submit">add silence</button></p></form>'
        )
    return table + add


def _remediation_log(log: Sequence[Mapping[str, Any]], now: float) -> str:
    if not log:
        return '<p class="muted">No restarts yet.</p>'
    rows = "".join(
        f"<tr><td>{_when(n.get('at'), now)}</td><td>{_e(n.get('connect_cluster'))}</td><td>{_e(n.get('connector'))}</td>"
        f"<td>{_e(n.get('action'))}</td><td>{_e(n.get('outcome'))}</td><td>{_e(n.get('detail'))}</td></tr>"
        for n in log
    )
    return (
        "<table><tr><th>when</th><th>cluster</th><th>connector</th><th>action</th><th>outcome</th><th>detail</th></tr>"
        + rows
        + "</table>"
    )


def _config(config: Mapping[str, Any] | None) -> str:
    if not config:
        return ""
    state = (
        "loaded"
        if config.get("last_reload_ok")
        else '<span class="bad">last reload FAILED, previous configuration in use</span>'
    )
    return f'<p class="muted">configuration <code>{_e(config.get("file"))}</code> ({state})</p>'


def render(
    doc: Mapping[str, Any], query: Mapping[str, str], *, can_change_silences: bool = False, notice: str = ""
) -> str:
    now = float(doc.get("generated_at") or 0.0)
    cluster, state = query.get("cluster", ""), query.get("state", "")
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    chosen = select(doc["connectors"], cluster, state)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    firing = sum(1 for a in doc["alerts"] if a["state"] == "firing")
    pending = len(doc["alerts"]) - firing
    problems = sum(1 for c in doc["connectors"] if _is_problem(c))
    headline = (
        f'<p class="bad">{firing} firing, {pending} pending</p>' if doc["alerts"] else '<p class="ok">All clear.</p>'
    )
    notice_html = f'<p class="info">{_e(notice)}</p>' if notice else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>cdc_watch status</title>
<style>{STYLE}</style></head><body>
<h1>cdc_watch status</h1>
<p class="muted">cdc_watch {_e(doc.get("version"))} &middot; as of {_when(now, now)} &middot; refreshes every {REFRESH_SECONDS} s &middot;
<a href="/metrics">metrics</a> &middot; <a href="/api/v1/status">status JSON</a> &middot;
<a href="/-/healthy">healthy</a> &middot; <a href="/-/ready">ready</a></p>
{_config(doc.get("config"))}
{notice_html}{headline}
<h2>Alerts</h2>
{_alerts(doc["alerts"], now) if doc.get("alerting") else '<p class="muted">Alerting is not enabled.</p>'}
<h2>Connectors ({len(doc["connectors"])}, {problems} with problems; {len(chosen)} shown by the filter)</h2>
{_filters(doc, cluster, state)}
<table><tr><th>cluster</th><th>connector</th><th>state</th><th>tasks</th><th>streaming</th><th>binlog</th><th>remediation</th><th>alerts</th></tr>
{"".join(_connector_row(c, now) for c in shown)}</table>
{_pager(len(chosen), page, cluster, state)}
<h2>Sources</h2>
{_sources(doc["sources"], now)}
<h2>Silences</h2>
{_silences(doc, now, can_change_silences)}
<h2>Remediation log</h2>
{_remediation_log(doc.get("remediation_log", []), now)}
</body></html>
"""
