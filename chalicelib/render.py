"""Render an incident and its timeline as JSON (the contract), Markdown or HTML.

Everything that came from an event (resource names, tags, documents, actors) is escaped:
it is attacker-controlled text. The HTML page is self-contained (no external assets).
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import json
from typing import Any

from chalicelib.hipaa import describe
from chalicelib.record import Incident, TimelineEntry


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def duration(delta: dt.timedelta) -> str:
    """`2 d 3 h`, `4 min 10 s`, `0.8 s`."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {sec} s"


def breach_clock(incident: Incident, now: dt.datetime | None = None) -> str | None:
    """`12 d 4 h left (deadline …)` until the breach risk assessment is recorded (whether
    or not the incident is fixed), then the assessment; None without a clock."""
    deadline = incident.breach_notification_deadline
    if deadline is None:
        return None
    who = f"{incident.breach_assessed_by} at {incident.breach_assessed_at:%Y-%m-%d %H:%M}" \
        if incident.breach_assessed_at else str(incident.breach_assessed_by)
    if incident.breach_status == "not_a_breach":
        return f"assessed not a breach by {who}: {incident.breach_assessment_reason}"
    if incident.breach_status == "notification_required":
        return (f"notification required by {deadline.isoformat()} (assessed by {who}: "
                f"{incident.breach_assessment_reason})")
    left = deadline - (now or _now())
    if left.total_seconds() < 0:
        return f"OVERDUE by {duration(-left)} (deadline {deadline.isoformat()})"
    return f"{duration(left)} left to notify (deadline {deadline.isoformat()})"


def summary(entry: TimelineEntry) -> str:
    """One line saying what an entry is about."""
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


def state_diff(before: Any, after: Any) -> list[str]:
    """A unified diff of two states as pretty JSON."""
    a = json.dumps(before, indent=2, sort_keys=True, default=str).splitlines()
    b = json.dumps(after, indent=2, sort_keys=True, default=str).splitlines()
    return list(difflib.unified_diff(a, b, "before", "after", lineterm="", n=3))


def fought(incident: Incident) -> str:
    """The IaC-fight flag in words: how often it was fixed, and who keeps reverting it."""
    who = ", ".join(incident.fighting_principals) or "an unknown principal"
    return (f"fixed {len(incident.fixes)} times and reverted each time by {who}; further "
            "fixes wait for approval")


def timeline_json(incident: Incident, entries: list[TimelineEntry], *,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    data = incident.model_dump(mode="json")
    fix = data.pop("fix")
    ttr = incident.time_to_remediate
    return {
        "incident_id": incident.incident_id, "status": incident.status.value,
        "resource": incident.resource, "controls": incident.controls,
        **{k: v for k, v in data.items() if k not in ("incident_id", "status", "resource",
                                                        "controls")},
        "time_to_remediate_seconds": ttr.total_seconds() if ttr else None,
        "breach_clock": breach_clock(incident, now),
        "prior_state": fix["before"] if fix else None,
        "fix": fix,
        "entries": [e.model_dump(mode="json") for e in entries],
    }


# -- Markdown ---------------------------------------------------------------------------
def md(text: Any) -> str:
    """Escape Markdown (and HTML, which many Markdown viewers render) in one cell."""
    out = str(text).replace("\\", "\\\\")
    for ch in "`*_[]|~#!":
        out = out.replace(ch, "\\" + ch)
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("\r", " ").replace("\n", " ")


def _code(lines: list[str], lang: str) -> list[str]:
    return [f"```{lang}", *(line.replace("`", "'") for line in lines), "```"]


def timeline_md(incident: Incident, entries: list[TimelineEntry], *,
                now: dt.datetime | None = None) -> str:
    lines = [
        f"# Incident {md(incident.incident_id)}",
        "",
        f"- **Status:** {md(incident.status.value)}",
        f"- **Resource:** {md(incident.resource)}",
        f"- **Account / region:** {md(incident.account)} / {md(incident.region)}",
        f"- **Policy / remediation:** {md(incident.policy)} / {md(incident.remediation)}",
        f"- **HIPAA controls:** {', '.join(md(describe(c)) for c in incident.controls)}",
        f"- **Opened:** {incident.created_at.isoformat()}",
    ]
    if incident.resolved_at and incident.time_to_remediate:
        lines.append(f"- **Resolved:** {incident.resolved_at.isoformat()} "
                     f"(time to remediate {duration(incident.time_to_remediate)})")
    clock = breach_clock(incident, now)
    if clock:
        lines.append(f"- **Breach notification clock:** {md(clock)}")
    if incident.fighting:
        lines.append(f"- **Fought over:** {md(fought(incident))}")
    lines += ["", "## Timeline", "", "| at | kind | actor | what |", "|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e.at.isoformat()} | {e.kind.value} | {md(e.actor)} | "
                     f"{md(summary(e))} |")
    if incident.fix:
        lines += ["", "## Before / after", ""]
        lines += _code(state_diff(incident.fix["before"], incident.fix["after"]), "diff")
    return "\n".join(lines) + "\n"


# -- HTML -------------------------------------------------------------------------------
CSS = """
:root{--ok:#0a7a2f;--warn:#a15c00;--bad:#b3261e;--info:#1d5fbf;--line:#d9dde3}
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;max-width:68rem;
margin:2rem auto;padding:0 1rem;color:#16181d}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:1rem;font-weight:600;
font-size:.85rem;color:#fff}.open{background:var(--warn)}.resolved{background:var(--ok)}
.rolled_back{background:var(--info)}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid var(--line);
padding:.35rem .5rem;text-align:left;vertical-align:top}th{color:#5a606b;font-weight:600}
.facts th{width:14rem}.kind{font-weight:600;white-space:nowrap}
.k-failed,.k-denied{color:var(--bad)}.k-verified,.k-closed{color:var(--ok)}
.k-approved,.k-rolled_back{color:var(--info)}
pre{background:#f5f6f8;padding:.6rem;overflow:auto;font-size:.85rem;margin:.3rem 0}
.diff .add{color:var(--ok)}.diff .del{color:var(--bad)}.diff .hunk{color:#5a606b}
.clock{font-weight:600;color:var(--bad)}details summary{cursor:pointer;color:#5a606b}
td.at{white-space:nowrap;font-variant-numeric:tabular-nums}
"""


def _diff_html(lines: list[str]) -> str:
    out = []
    for line in lines:
        cls = ("add" if line.startswith("+") and not line.startswith("+++") else
               "del" if line.startswith("-") and not line.startswith("---") else
               "hunk" if line.startswith("@@") else "")
        out.append(f'<span class="{cls}">{html.escape(line)}</span>')
    return '<pre class="diff">' + "\n".join(out) + "</pre>"


def timeline_html(incident: Incident, entries: list[TimelineEntry], *,
                  now: dt.datetime | None = None) -> str:
    e = html.escape
    facts = [
        ("Status", f'<span class="badge {e(incident.status.value)}">'
                   f"{e(incident.status.value)}</span>"),
        ("Resource", f"<code>{e(incident.resource)}</code>"),
        ("Account / region", f"{e(incident.account)} / {e(incident.region)}"),
        ("Policy / remediation", f"{e(incident.policy)} / {e(incident.remediation)}"),
        ("HIPAA controls", "<br>".join(e(describe(c)) for c in incident.controls)),
        ("Opened", e(incident.created_at.isoformat())),
    ]
    if incident.resolved_at and incident.time_to_remediate:
        facts.append(("Resolved", f"{e(incident.resolved_at.isoformat())} — time to "
                                  f"remediate <b>{e(duration(incident.time_to_remediate))}</b>"))
    clock = breach_clock(incident, now)
    if clock:
        facts.append(("Breach notification clock", f'<span class="clock">{e(clock)}</span>'))
    if incident.fighting:
        facts.append(("Fought over", f'<span class="clock">{e(fought(incident))}</span>'))
    rows = []
    for x in entries:
        detail = json.dumps(x.detail, indent=2, sort_keys=True, default=str)
        rows.append(
            f'<tr><td class="at">{e(x.at.isoformat(timespec="milliseconds"))}</td>'
            f'<td class="kind k-{e(x.kind.value)}">{e(x.kind.value)}</td>'
            f"<td>{e(x.actor)}</td><td>{e(summary(x))}"
            f"<details><summary>details</summary><pre>{e(detail)}</pre></details></td></tr>")
    state = ""
    if incident.fix:
        title = ("Before / after the fix (since rolled back to before)"
                 if incident.status.value == "rolled_back" else "Before / after the fix")
        state = (f"<h2>{title}</h2>"
                 + _diff_html(state_diff(incident.fix["before"], incident.fix["after"])))
    fact_rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Incident {e(incident.incident_id)}</title><style>{CSS}</style></head>"
        f"<body><h1>Incident {e(incident.incident_id)}</h1>"
        f'<table class="facts">{fact_rows}</table>'
        "<h2>Timeline</h2><table><tr><th>At (UTC)</th><th>Kind</th><th>Actor</th>"
        f"<th>What</th></tr>{''.join(rows)}</table>{state}"
        "<footer><p><small>autoremediate incident timeline. Contains the raw source "
        "events: handle as access-controlled audit evidence.</small></p></footer>"
        "</body></html>\n")


# -- drills -------------------------------------------------------------------------------
def drill_md(report: dict[str, Any]) -> str:
    verdict = "every scenario reached its expected outcome" if report["ok"] else \
        "**NOT every scenario reached its expected outcome**"
    lines = [f"# Incident-response drill {md(report['drill_id'])}", "",
             f"Run {md(report['at'])}: {verdict}. Nothing in AWS was read or changed.", "",
             "| scenario | expected | outcome | incident | detected → planned | total |",
             "|---|---|---|---|---|---|"]
    for s in report["scenarios"]:
        lines.append(f"| {md(s['name'])} | {md(s['expected'])} | {md(s['outcome'])} | "
                     f"{md(s['incident_id'] or '—')} | {s['detected_to_planned_seconds']} s | "
                     f"{s['seconds']} s |")
    return "\n".join(lines) + "\n"


def drill_html(report: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(s['name'])}</td><td>{e(s['expected'])}</td>"
        f"<td><span class='badge {'resolved' if s['ok'] else 'open'}'>{e(s['outcome'])}"
        f"</span></td><td><code>{e(str(s['incident_id'] or '—'))}</code></td>"
        f"<td>{s['detected_to_planned_seconds']} s</td><td>{s['seconds']} s</td></tr>"
        for s in report["scenarios"])
    verdict = ("every scenario reached its expected outcome" if report["ok"]
               else "<b class=clock>not every scenario reached its expected outcome</b>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Drill "
            f"{e(report['drill_id'])}</title><style>{CSS}</style></head><body>"
            f"<h1>Incident-response drill {e(report['drill_id'])}</h1><p>Run "
            f"{e(report['at'])}: {verdict}. Nothing in AWS was read or changed.</p>"
            "<table><tr><th>Scenario</th><th>Expected</th><th>Outcome</th><th>Incident</th>"
            f"<th>Detected → planned</th><th>Total</th></tr>{rows}</table></body></html>\n")
