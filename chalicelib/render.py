"""Render an incident and its timeline as JSON (the contract), Markdown or HTML.

Everything that came from an event (resource names, tags, documents) is escaped: it is
attacker-controlled text.
"""

from __future__ import annotations

import html
import json
from typing import Any

from chalicelib.hipaa import describe
from chalicelib.record import Incident, TimelineEntry


def timeline_json(incident: Incident, entries: list[TimelineEntry]) -> dict[str, Any]:
    data = incident.model_dump(mode="json")
    fix = data.pop("fix")
    return {
        "incident_id": incident.incident_id, "status": incident.status.value,
        "resource": incident.resource, "controls": incident.controls,
        **{k: v for k, v in data.items() if k not in ("incident_id", "status", "resource",
                                                        "controls")},
        "prior_state": fix["before"] if fix else None,
        "entries": [e.model_dump(mode="json") for e in entries],
    }


def _md(text: Any) -> str:
    """Escape Markdown (and HTML, which many Markdown viewers render) in one cell."""
    out = str(text).replace("\\", "\\\\")
    for ch in "`*_[]|~":
        out = out.replace(ch, "\\" + ch)
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("\r", " ").replace("\n", " ")


def summary(entry: TimelineEntry) -> str:
    d = entry.detail
    if entry.kind.value == "detected":
        who = f" by {d['changed_by']}" if d.get("changed_by") else ""
        return f"{d.get('source')} {d.get('kind')}{who} (event {d.get('event_id')})"
    calls = d.get("calls") or d.get("planned_calls")
    if calls:
        return "; ".join(f"{c['service']}:{c['operation']}" for c in calls)
    for key in ("reason", "note", "status", "approval_id"):
        if d.get(key):
            return str(d[key])
    return ""


def timeline_md(incident: Incident, entries: list[TimelineEntry]) -> str:
    lines = [
        f"# Incident {_md(incident.incident_id)}",
        "",
        f"- **Status:** {_md(incident.status.value)}",
        f"- **Resource:** {_md(incident.resource)}",
        f"- **Account / region:** {_md(incident.account)} / {_md(incident.region)}",
        f"- **Policy / remediation:** {_md(incident.policy)} / {_md(incident.remediation)}",
        f"- **HIPAA controls:** {', '.join(_md(describe(c)) for c in incident.controls)}",
        f"- **Opened:** {incident.created_at.isoformat()}",
    ]
    if incident.resolved_at:
        ttr = incident.resolved_at - incident.created_at
        lines.append(f"- **Resolved:** {incident.resolved_at.isoformat()} "
                     f"(time to remediate {ttr.total_seconds():.1f} s)")
    lines += ["", "## Timeline", "", "| at | kind | actor | what |", "|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e.at.isoformat()} | {e.kind.value} | {_md(e.actor)} | "
                     f"{_md(summary(e))} |")
    if incident.fix:
        lines += ["", "## Before / after", "", "Before:", "", "```json",
                  json.dumps(incident.fix["before"], indent=2).replace("`", "\\u0060"), "```",
                  "", "After:", "", "```json",
                  json.dumps(incident.fix["after"], indent=2).replace("`", "\\u0060"), "```"]
    return "\n".join(lines) + "\n"


_CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#111}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}.k{font-weight:600}
pre{background:#f6f6f6;padding:.6rem;overflow:auto}.open{color:#a60}.resolved{color:#070}
.rolled_back{color:#06c}"""


def timeline_html(incident: Incident, entries: list[TimelineEntry]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(x.at.isoformat())}</td><td class=k>{e(x.kind.value)}</td>"
        f"<td>{e(x.actor)}</td><td>{e(summary(x))}</td></tr>" for x in entries)
    state = ""
    if incident.fix:
        state = (f"<h2>Before / after</h2><h3>Before</h3><pre>"
                 f"{e(json.dumps(incident.fix['before'], indent=2))}</pre><h3>After</h3><pre>"
                 f"{e(json.dumps(incident.fix['after'], indent=2))}</pre>")
    controls = ", ".join(e(describe(c)) for c in incident.controls)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>Incident {e(incident.incident_id)}</title><style>{_CSS}</style></head>"
            f"<body><h1>Incident {e(incident.incident_id)}</h1><table>"
            f"<tr><th>Status</th><td class='{e(incident.status.value)}'>"
            f"{e(incident.status.value)}</td></tr>"
            f"<tr><th>Resource</th><td>{e(incident.resource)}</td></tr>"
            f"<tr><th>Account / region</th><td>{e(incident.account)} / "
            f"{e(incident.region)}</td></tr>"
            f"<tr><th>Policy</th><td>{e(incident.policy)} ({e(incident.remediation)})</td></tr>"
            f"<tr><th>HIPAA controls</th><td>{controls}</td></tr></table>"
            f"<h2>Timeline</h2><table><tr><th>At</th><th>Kind</th><th>Actor</th>"
            f"<th>What</th></tr>{rows}</table>{state}</body></html>\n")
