"""`remediate drill`: exercise the incident-response pipeline without touching AWS.

Each scenario (shipped in `chalicelib/drills/*.json`: a sample finding plus the insecure
before-state of its resource, per remediation) runs through the real pipeline — normalize,
match, gate, plan, record, notify — forced to dry-run, with each remediation planning from
the shipped state instead of reading AWS (its clients refuse every call, so a drill
cannot read or change a resource in any account). Each becomes an incident marked as a
drill (no breach clock) with measured times: detected → planned → notified.

    remediate drill [--scenario NAME] [--format json|md|html]

JSON: {"drill_id", "at", "ok", "scenarios": [{"name", "expected", "outcome", "ok",
"incident_id", "seconds", "detected_to_planned_seconds", "planned_to_notified_seconds"}]}.

Raises:
    Refused: an unknown scenario name.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from chalicelib.context import Context
from chalicelib.errors import Refused
from chalicelib.record import new_id

SCENARIOS = Path(__file__).resolve().parent / "drills"


def scenarios() -> list[dict[str, Any]]:
    """The shipped scenarios, in file order."""
    return [json.loads(p.read_text()) for p in sorted(SCENARIOS.glob("*.json"))]


def _seconds(entries: list[Any], first: str, then: str) -> float | None:
    at = {e.kind.value: e.at for e in reversed(entries)}
    if first in at and then in at:
        return round(float((at[then] - at[first]).total_seconds()), 3)
    return None


def run(ctx: Context, *, only: str | None = None) -> dict[str, Any]:
    """Run every scenario (or `only`); record the drill; return its report."""
    from chalicelib.pipeline import handle

    chosen = [s for s in scenarios() if only in (None, s["name"])]
    if not chosen:
        names = ", ".join(s["name"] for s in scenarios())
        raise Refused(f"no drill scenario {only!r}; shipped: {names}")
    drill_id = new_id("drill")
    started_at = ctx.clock()
    out = []
    for scenario in chosen:
        event = json.loads(json.dumps(scenario["event"]))
        event["id"] = f"{drill_id}-{scenario['name']}"
        event["time"] = ctx.clock().isoformat()
        began = time.perf_counter()
        result = handle(event, ctx, dry_run=True, drill=scenario["state"])[0]
        notified_at = ctx.clock()  # handle() returns once the notification step is done
        seconds = time.perf_counter() - began
        entries = ctx.store.entries(result.incident_id) if result.incident_id else []
        planned = _seconds(entries, "detected", "dry_run")
        planned_at = next((e.at for e in entries if e.kind.value == "dry_run"), None)
        out.append({
            "name": scenario["name"], "description": scenario["description"],
            "expected": scenario["expected"], "outcome": result.outcome.value,
            "ok": result.outcome.value == scenario["expected"],
            "incident_id": result.incident_id, "reason": result.reason,
            "seconds": round(seconds, 3), "detected_to_planned_seconds": planned,
            "planned_to_notified_seconds": round(
                (notified_at - planned_at).total_seconds(), 3) if planned_at else None})
    report = {"drill_id": drill_id, "at": started_at.isoformat(),
              "ok": all(s["ok"] for s in out), "scenarios": out}
    ctx.store.put_drill(report)
    return report


def within_a_year(drills: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    return [d for d in drills
            if now - dt.datetime.fromisoformat(str(d["at"])) <= dt.timedelta(days=365)]
