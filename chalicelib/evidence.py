"""The auditor's evidence report: per HIPAA Security Rule reference, what was detected,
how fast it was fixed, who approved, and what is still open — plus every running breach
notification clock.

The report also states whether the records behind it verified (`chalicelib.integrity`):
the hash chains, the range of signed digests, the signing key, and the commands an
auditor runs to re-check a digest with the AWS CLI and openssl alone.

Example:
    remediate evidence --since 2026-01-01 --format html -o evidence.html
    remediate evidence --since 2026-01-01 --format pdf -o evidence.pdf
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import statistics
from typing import Any

from chalicelib.hipaa import CONTROLS, describe
from chalicelib.policy import Policy
from chalicelib.record import Incident
from chalicelib.render import CSS, breach_clock, duration, md
from chalicelib.store import Store

PREFLIGHT_NOTE = "pre-flight: "


def _row(store: Store, inc: Incident, now: dt.datetime) -> dict[str, Any]:
    entries = store.entries(inc.incident_id)
    by_kind: dict[str, list[str]] = {}
    preflight: list[str] = []  # the traffic figures the plan read (chalicelib.preflight)
    for entry in entries:
        by_kind.setdefault(entry.kind.value, []).append(entry.actor)
        notes = entry.detail.get("notes")
        for note in notes if isinstance(notes, list) else []:
            if isinstance(note, str) and note.startswith(PREFLIGHT_NOTE) and (
                    note not in preflight):
                preflight.append(note)
    ttr = inc.time_to_remediate
    return {
        "incident_id": inc.incident_id, "status": inc.status.value,
        "resource": inc.resource, "account": inc.account, "region": inc.region,
        "policy": inc.policy, "remediation": inc.remediation, "source": inc.source,
        "opened": inc.created_at.isoformat(),
        "resolved": inc.resolved_at.isoformat() if inc.resolved_at else None,
        "time_to_remediate_seconds": ttr.total_seconds() if ttr else None,
        "approved_by": by_kind.get("approved", []),
        "denied_by": by_kind.get("denied", []),
        "rolled_back_by": by_kind.get("rolled_back", []),
        "dry_runs": len(by_kind.get("dry_run", [])),
        "failures": len(by_kind.get("failed", [])),
        "breach_clock": breach_clock(inc, now),
        "breach_status": inc.breach_status.value if inc.breach_status else None,
        "breach_assessed_by": inc.breach_assessed_by,
        "breach_assessed_at": (inc.breach_assessed_at.isoformat()
                               if inc.breach_assessed_at else None),
        "breach_assessment_reason": inc.breach_assessment_reason,
        "preflight": preflight,
    }


def _coverage(policies: list[Policy]) -> dict[str, list[dict[str, Any]]]:
    """Per HIPAA reference: the policies watching it, their sources, mode and exemptions."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in policies:
        row = {"policy": p.name, "remediation": p.remediation, "mode": p.mode.value,
               "sources": sorted({t.source.value for t in p.trigger}),
               "triggers": sorted({k for t in p.trigger for k in t.kinds}),
               "exempt_tag": p.exempt_tag, "exempt_accounts": list(p.exempt_accounts),
               "resource_tags": dict(p.resource_tags)}
        for control in p.hipaa:
            out.setdefault(control, []).append(row)
    return out


def build(store: Store, *, since: dt.datetime, now: dt.datetime | None = None,
          policies: list[Policy] | None = None,
          snapshot: list[dict[str, Any]] | None = None,
          generated_by: str = "autoremediate") -> dict[str, Any]:
    from chalicelib.drill import within_a_year

    now = now or dt.datetime.now(dt.UTC)
    incidents = [i for i in store.incidents() if i.created_at >= since and not i.drill]
    drills = [{"drill_id": d["drill_id"], "at": str(d["at"]), "ok": bool(d["ok"]),
               "scenarios": [{k: s.get(k) for k in ("name", "expected", "outcome", "ok")}
                             for s in d["scenarios"]]}
              for d in within_a_year(store.drills(), now)]
    rows = {i.incident_id: _row(store, i, now) for i in incidents}
    coverage = _coverage(policies or [])
    controls = []
    for control in sorted({c for i in incidents for c in i.controls} | set(coverage)):
        mine = [rows[i.incident_id] for i in incidents if control in i.controls]
        ttrs = [r["time_to_remediate_seconds"] for r in mine
                if r["time_to_remediate_seconds"] is not None]
        controls.append({
            "control": control, "name": CONTROLS.get(control, ""),
            "coverage": coverage.get(control, []),
            **({"snapshot": [r for r in snapshot if control in r["controls"]]}
               if snapshot is not None else {}),
            "incidents": mine,
            "total": len(mine),
            "resolved": sum(r["status"] == "resolved" for r in mine),
            "open": sum(r["status"] == "open" for r in mine),
            "rolled_back": sum(r["status"] == "rolled_back" for r in mine),
            "median_time_to_remediate_seconds": statistics.median(ttrs) if ttrs else None,
            "p95_time_to_remediate_seconds": _p95(ttrs),
            "approved": sum(bool(r["approved_by"]) for r in mine),
            "failed_still_open": sum(r["failures"] > 0 and r["status"] == "open"
                                     for r in mine),
        })
    # the clock runs until the breach risk assessment is recorded, fixed or not
    clocks = [rows[i.incident_id] for i in incidents if i.breach_status == "assessment_pending"]
    assessed = [rows[i.incident_id] for i in incidents
                if i.breach_status in ("not_a_breach", "notification_required")]
    # resources something else keeps reverting (IaC): each fix waits for a human
    fighting = [{"incident_id": i.incident_id, "resource": i.resource, "account": i.account,
                 "policy": i.policy, "fixes": len(i.fixes),
                 "last_fixed": i.fixes[-1]["at"] if i.fixes else None,
                 "principals": list(i.fighting_principals)}
                for i in incidents if i.fighting]
    return {"generated_at": now.isoformat(), "generated_by": generated_by,
            "since": since.isoformat(),
            "incidents": len(incidents), "controls": controls,
            "still_open": [r for r in rows.values() if r["status"] == "open"],
            "open_breach_clocks": clocks, "breach_assessments": assessed,
            "drills": drills, "fighting": fighting,
            "preflight": [rows[i.incident_id] for i in incidents
                          if rows[i.incident_id]["preflight"]],
            **({"snapshot": snapshot} if snapshot is not None else {})}


def generate(ctx: Any, *, since: dt.datetime, fmt: str, snapshot: bool = False,
             accounts: list[str] | None = None, regions: list[str] | None = None,
             generated_by: str = "autoremediate") -> bytes:
    """The report as the bytes to write: md, html, json or pdf. With signed digests
    configured, one is written first, so the report's digest range reaches now."""
    from chalicelib import integrity

    taken = None
    if snapshot:
        from chalicelib.snapshot import take

        taken = take(ctx, accounts=accounts or [ctx.aws.account_id()],
                     regions=regions or [ctx.aws.home_region])
    if ctx.settings.evidence_bucket and ctx.settings.signing_key:
        integrity.write_digest(ctx)
    report = build(ctx.store, since=since, policies=ctx.policies, snapshot=taken,
                   generated_by=generated_by, now=ctx.clock())
    report["integrity"] = integrity.statement(ctx, since)
    if fmt == "pdf":
        return to_pdf(to_html(report))
    render = {"md": to_md, "html": to_html, "json": to_json}[fmt]
    return (render(report).rstrip("\n") + "\n").encode("utf-8")


ENGINES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def pdf_engine() -> str:
    """Headless Chromium's path. Raises ConfigurationError (exit 2) without one."""
    import os
    import shutil

    from chalicelib.errors import ConfigurationError

    for name in (os.environ.get("REMEDIATION_CHROMIUM", ""), *ENGINES):
        found = shutil.which(name) if name else None
        if found:
            return found
    raise ConfigurationError(
        "--format pdf needs headless Chromium and none was found (looked for "
        f"{', '.join(ENGINES)}): install it (Debian/Ubuntu: `apt-get install chromium`; "
        "macOS: `brew install --cask chromium`) or set REMEDIATION_CHROMIUM to its path; "
        "or write --format html and print that from a browser")


def to_pdf(page: str, *, timeout: float = 120) -> bytes:
    """Print `page` (HTML) to PDF with headless Chromium, in a fresh profile, with no
    network, sync or update traffic; the page is self-contained."""
    import subprocess
    import tempfile
    from pathlib import Path

    from chalicelib.errors import AutoremediateError

    engine = pdf_engine()
    with tempfile.TemporaryDirectory(prefix="evidence-pdf-") as tmp:
        source, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [engine, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
                   f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}",
                   source.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise AutoremediateError(f"{engine} did not print the PDF in {timeout:.0f} s"
                                     ) from exc
        if not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise AutoremediateError(f"{engine} wrote no PDF (exit {done.returncode}): "
                                     + " | ".join(tail))
        return out.read_bytes()


def _integrity_lines(report: dict[str, Any]) -> tuple[str, list[str]]:
    """(verdict sentence, detail sentences) of the report's integrity statement."""
    i = report["integrity"]
    period = f"{report['since']} to {report['generated_at']}"
    verdict = (f"Period {period}: the records verified ({i['summary']})." if i["verified"]
               else f"Period {period}: the records did NOT verify: {i['summary']}.")
    rng = " to ".join(i["digest_range"]) if i["digest_range"] else "none"
    return verdict, [f"Signed digests: {i['digests']} ({rng}) in bucket "
                     f"{i['bucket'] or '(not configured)'}.",
                     f"Signing key: {i['signing_key'] or '(not configured)'} "
                     f"({i['algorithm'] or 'ECDSA_SHA_256'}).",
                     *i["problems"]]


def _approval(row: dict[str, Any]) -> str:
    if row["approved_by"]:
        return ", ".join(row["approved_by"])
    return "automatic" if row["status"] in ("resolved", "rolled_back") else "—"


# "Print to PDF" from a browser gives a clean document: no widows, no split rows
PRINT_CSS = """
.meta{color:#5a606b}.toc ol{columns:2;margin:.2rem 0 1rem}.toc-title{margin-top:1rem}
@media print{body{max-width:none;margin:0;font-size:11pt}a{color:inherit;
text-decoration:none}h2{break-after:avoid}tr,li{break-inside:avoid}
.badge{border:1px solid #888;color:#000;background:none}}
"""


def _p95(values: list[float]) -> float | None:
    """The 95th percentile (nearest rank); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def _judged(row: dict[str, Any]) -> str:
    if row.get("exempt"):
        since = f" since {row['exempt']['since']}" if row["exempt"].get("since") else ""
        return f"exempt{since}: {row['exempt']['reason']}"
    if row["compliant"] is True:
        return "compliant"
    if row["compliant"] is False:
        return "NOT compliant"
    return str(row["note"] or "unknown")


def _count(n: int) -> str:
    return f"{n} incident{'s' if n != 1 else ''}"


def _ttr(seconds: float | None) -> str:
    return duration(dt.timedelta(seconds=seconds)) if seconds is not None else "—"


def to_md(report: dict[str, Any]) -> str:
    lines = ["# HIPAA evidence report", "",
             f"Incidents opened since {report['since']}: **{report['incidents']}** "
             f"(generated {report['generated_at']}).", ""]
    if report["open_breach_clocks"]:
        lines += ["## Open breach notification clocks", ""]
        lines += [f"- {md(r['incident_id'])} on {md(r['resource'])}: {md(r['breach_clock'])}"
                  for r in report["open_breach_clocks"]]
        lines.append("")
    lines += ["## Incident-response drills (last 12 months)", ""]
    if not report.get("drills"):
        lines += ["**NO DRILL IN THE LAST 12 MONTHS** — the incident-response plan has not "
                  "been exercised (run `remediate drill`).", ""]
    for d in report.get("drills", []):
        outcomes = ", ".join(f"{md(s['name'])}: {md(s['outcome'])}" for s in d["scenarios"])
        lines.append(f"- {md(d['at'])} {md(d['drill_id'])}: "
                     f"{'all as expected' if d['ok'] else '**not all as expected**'} "
                     f"({outcomes})")
    lines.append("")
    if report.get("fighting"):
        lines += ["## Resources fought over (re-drifted after each fix)", "",
                  "Something else, often an infrastructure-as-code pipeline, keeps reverting "
                  "these; further fixes wait for approval. Fix the source, or exempt the "
                  "resource.", "", "| resource | policy | fixes | reverted by | incident |",
                  "|---|---|---|---|---|"]
        lines += [f"| {md(f['resource'])} | {md(f['policy'])} | {f['fixes']} | "
                  f"{md(', '.join(f['principals']) or 'unknown')} | {md(f['incident_id'])} |"
                  for f in report["fighting"]]
        lines.append("")
    if report.get("preflight"):
        lines += ["## Traffic checked before changes that cut connections", "",
                  "What the VPC flow logs showed before each change (pre-flight); an "
                  "automatic fix with live traffic waited for a human.", "",
                  "| incident | resource | status | approved by | flow logs |",
                  "|---|---|---|---|---|"]
        lines += [f"| {md(r['incident_id'])} | {md(r['resource'])} | {md(r['status'])} | "
                  f"{md(_approval(r))} | "
                  f"{md('; '.join(n.removeprefix(PREFLIGHT_NOTE) for n in r['preflight']))} |"
                  for r in report["preflight"]]
        lines.append("")
    if report.get("breach_assessments"):
        lines += ["## Breach risk assessments", "",
                  "| incident | resource | assessment | by | at | reason |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {md(r['incident_id'])} | {md(r['resource'])} | "
                  f"{md(r['breach_status'])} | {md(r['breach_assessed_by'])} | "
                  f"{md(r['breach_assessed_at'])} | {md(r['breach_assessment_reason'])} |"
                  for r in report["breach_assessments"]]
        lines.append("")
    for c in report["controls"]:
        lines += [f"## {md(describe(c['control']))}", "",
                  "Watched by: " + (", ".join(
                      f"{md(w['policy'])} ({md(w['mode'])}; {md(', '.join(w['sources']))})"
                      for w in c.get("coverage", [])) or "no policy") + ".", "",
                  f"{_count(c['total'])}: {c['resolved']} resolved, {c['open']} open, "
                  f"{c['rolled_back']} rolled back; median time to remediate "
                  f"{_ttr(c['median_time_to_remediate_seconds'])}, p95 "
                  f"{_ttr(c['p95_time_to_remediate_seconds'])}; {c['approved']} approved by a "
                  f"human; {c['failed_still_open']} failed and still open.", "",
                  *(["| incident | resource | status | opened | time to remediate | "
                     "approved by |", "|---|---|---|---|---|---|"] if c["incidents"]
                    else ["No incident in the period."])]
        for r in c["incidents"]:
            lines.append(
                f"| {md(r['incident_id'])} | {md(r['resource'])} | {md(r['status'])} | "
                f"{md(r['opened'])} | {_ttr(r['time_to_remediate_seconds'])} | "
                f"{md(_approval(r))} |")
        lines.append("")
        if "snapshot" in c:
            lines += ["Configuration now:", "", "| resource | policy | state | incident |",
                      "|---|---|---|---|"]
            lines += [f"| {md(s['resource'] or s['account'] + ' ' + s['region'])} | "
                      f"{md(s['policy'])} | {md(_judged(s))} | {md(s['incident_id'] or '—')} |"
                      for s in c["snapshot"]]
            lines.append("")
    if report.get("integrity"):
        verdict, facts = _integrity_lines(report)
        lines += ["## Integrity of the records", "", verdict, ""]
        lines += [f"- {md(f)}" for f in facts]
        lines += ["", "An auditor re-checks the latest digest with the AWS CLI and openssl "
                  "alone:", "", "```sh", *report["integrity"]["commands"], "```", ""]
    if report["still_open"]:
        lines += ["## Still open", ""]
        lines += [f"- {md(r['incident_id'])}: {md(r['remediation'])} on {md(r['resource'])}"
                  for r in report["still_open"]]
    return "\n".join(lines).rstrip("\n") + "\n"


def to_html(report: dict[str, Any]) -> str:
    e = html.escape
    parts = [f"<h1>HIPAA evidence report</h1><p class=meta>Period: {e(report['since'])} to "
             f"{e(report['generated_at'])} · generated {e(report['generated_at'])} by "
             f"{e(report.get('generated_by', 'autoremediate'))} · incidents opened in the "
             f"period: <b>{report['incidents']}</b></p>"]
    if report["open_breach_clocks"]:
        items = "".join(f"<li><code>{e(r['incident_id'])}</code> on "
                        f"<code>{e(r['resource'])}</code>: <span class=clock>"
                        f"{e(r['breach_clock'])}</span></li>"
                        for r in report["open_breach_clocks"])
        parts.append(f"<h2>Open breach notification clocks</h2><ul>{items}</ul>")
    if report.get("drills"):
        items = "".join(
            f"<li>{e(d['at'])} <code>{e(d['drill_id'])}</code>: "
            f"{'all as expected' if d['ok'] else '<b class=clock>not all as expected</b>'}"
            f" ({e(', '.join(s['name'] + ': ' + str(s['outcome']) for s in d['scenarios']))})"
            "</li>" for d in report["drills"])
        parts.append(f"<h2>Incident-response drills (last 12 months)</h2><ul>{items}</ul>")
    else:
        parts.append("<h2>Incident-response drills (last 12 months)</h2><p class=clock>"
                     "<b>No drill in the last 12 months</b>: the incident-response plan has "
                     "not been exercised (run <code>remediate drill</code>).</p>")
    if report.get("fighting"):
        rows = "".join(
            f"<tr><td>{e(f['resource'])}</td><td>{e(f['policy'])}</td><td>{f['fixes']}</td>"
            f"<td>{e(', '.join(f['principals']) or 'unknown')}</td>"
            f"<td><code>{e(f['incident_id'])}</code></td></tr>" for f in report["fighting"])
        parts.append("<h2>Resources fought over (re-drifted after each fix)</h2><p>Something "
                     "else, often an infrastructure-as-code pipeline, keeps reverting these; "
                     "further fixes wait for approval. Fix the source, or exempt the "
                     "resource.</p><table><tr><th>Resource</th><th>Policy</th><th>Fixes</th>"
                     f"<th>Reverted by</th><th>Incident</th></tr>{rows}</table>")
    if report.get("preflight"):
        rows = "".join(
            f"<tr><td><code>{e(r['incident_id'])}</code></td><td>{e(r['resource'])}</td>"
            f"<td><span class='badge {e(r['status'])}'>{e(r['status'])}</span></td>"
            f"<td>{e(_approval(r))}</td><td>"
            + "<br>".join(e(n.removeprefix(PREFLIGHT_NOTE)) for n in r["preflight"])
            + "</td></tr>" for r in report["preflight"])
        parts.append("<h2>Traffic checked before changes that cut connections</h2><p>What "
                     "the VPC flow logs showed before each change (pre-flight); an automatic "
                     "fix with live traffic waited for a human.</p><table><tr><th>Incident"
                     "</th><th>Resource</th><th>Status</th><th>Approved by</th><th>Flow logs"
                     f"</th></tr>{rows}</table>")
    if report.get("breach_assessments"):
        rows = "".join(
            f"<tr><td><code>{e(r['incident_id'])}</code></td><td>{e(r['resource'])}</td>"
            f"<td>{e(r['breach_status'])}</td><td>{e(r['breach_assessed_by'])}</td>"
            f"<td>{e(r['breach_assessed_at'])}</td><td>{e(r['breach_assessment_reason'])}"
            "</td></tr>" for r in report["breach_assessments"])
        parts.append("<h2>Breach risk assessments</h2><table><tr><th>Incident</th>"
                     "<th>Resource</th><th>Assessment</th><th>By</th><th>At</th>"
                     f"<th>Reason</th></tr>{rows}</table>")
    for c in report["controls"]:
        rows = "".join(
            f"<tr><td><code>{e(r['incident_id'])}</code></td><td>{e(r['resource'])}</td>"
            f"<td><span class='badge {e(r['status'])}'>{e(r['status'])}</span></td>"
            f"<td>{e(r['opened'])}</td><td>{e(_ttr(r['time_to_remediate_seconds']))}</td>"
            f"<td>{e(_approval(r))}</td></tr>"
            for r in c["incidents"])
        parts.append(
            f"<h2>{e(describe(c['control']))}</h2><p>Watched by: "
            + (", ".join(f"<code>{e(w['policy'])}</code> ({e(w['mode'])}; "
                         f"{e(', '.join(w['sources']))})" for w in c.get("coverage", []))
               or "no policy") + f".</p><p>{_count(c['total'])}: "
            f"{c['resolved']} resolved, {c['open']} open, {c['rolled_back']} rolled back; "
            f"median time to remediate {e(_ttr(c['median_time_to_remediate_seconds']))}, "
            f"p95 {e(_ttr(c['p95_time_to_remediate_seconds']))}; {c['approved']} approved "
            f"by a human; {c['failed_still_open']} failed and still open.</p>"
            + ("<table><tr><th>Incident</th><th>Resource</th><th>Status</th><th>Opened</th>"
               f"<th>Time to remediate</th><th>Approved by</th></tr>{rows}</table>" if rows
               else "<p class=meta>No incident in the period.</p>"))
        if "snapshot" in c:
            now_rows = "".join(
                f"<tr><td>{e(s['resource'] or s['account'] + ' ' + s['region'])}</td>"
                f"<td>{e(s['policy'])}</td><td><span class='badge "
                f"{'resolved' if s['compliant'] else 'open'}'>{e(_judged(s))}</span></td>"
                f"<td><code>{e(s['incident_id'] or '—')}</code></td></tr>"
                for s in c["snapshot"])
            parts.append("<p>Configuration now:</p><table><tr><th>Resource</th><th>Policy"
                         f"</th><th>State</th><th>Incident</th></tr>{now_rows}</table>")
    if report.get("integrity"):
        verdict, facts = _integrity_lines(report)
        items = "".join(f"<li>{e(f)}</li>" for f in facts)
        cls = "" if report["integrity"]["verified"] else " class=clock"
        parts.append(f"<h2>Integrity of the records</h2><p{cls}>{e(verdict)}</p>"
                     f"<ul>{items}</ul><p>An auditor re-checks the latest digest with the "
                     "AWS CLI and openssl alone:</p><pre>"
                     + e("\n".join(report["integrity"]["commands"])) + "</pre>")
    body = "".join(parts)
    titles: list[str] = []

    def anchor(match: re.Match[str]) -> str:
        titles.append(match.group(1))
        return f"<h2 id=s{len(titles)}>{match.group(1)}</h2>"

    body = re.sub(r"<h2>(.*?)</h2>", anchor, body)
    toc = "".join(f"<li><a href='#s{i}'>{t}</a></li>" for i, t in enumerate(titles, 1))
    head, _, rest = body.partition("</p>")  # the contents come after the title block
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>HIPAA evidence report</title><style>{CSS}{PRINT_CSS}</style></head>"
            f"<body>{head}</p><nav class=toc><h2 class=toc-title>Contents</h2><ol>{toc}</ol>"
            f"</nav>{rest}</body></html>\n")


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str) + "\n"
