"""The Lambda side of the pipeline: what each Chalice handler calls with the raw event.

An event that is not well-formed is logged and dropped (retrying cannot fix it); a state
table or AWS outage raises so EventBridge's async invocation retries it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import current
from chalicelib.errors import InvalidEvent
from chalicelib.log import logger
from chalicelib.outcome import Outcome, report
from chalicelib.pipeline import handle


def handle_event(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.metrics import record_results

    try:
        results = handle(event, current())
    except InvalidEvent as exc:
        logger.error("invalid event dropped", extra={"reason": str(exc)})
        return {"event_id": event.get("id"), "outcome": Outcome.IGNORED, "reason": str(exc)}
    record_results(event, results)
    return report(results[0].event_id, results)


def sweep_approvals() -> dict[str, Any]:
    """Expire undecided approvals; report how many still wait (ApprovalsPending)."""
    from chalicelib.approval import pending, sweep
    from chalicelib.metrics import record_pending_approvals

    ctx = current()
    expired = sweep(ctx)
    record_pending_approvals(len(pending(ctx)))
    return {"expired": expired}


def scheduled_drill() -> dict[str, Any]:
    """The monthly drill, when the stage turns it on (REMEDIATION_MONTHLY_DRILL=true)."""
    from chalicelib.drill import run

    ctx = current()
    if not ctx.settings.monthly_drill:
        return {"skipped": "REMEDIATION_MONTHLY_DRILL is off for this stage"}
    report = run(ctx)
    logger.info("drill run", extra={"drill_id": report["drill_id"], "ok": report["ok"]})
    return report
