"""Undo a fix: restore the before-state saved in the incident, exactly.

Raises:
    NotFound: unknown incident.
    Refused: nothing to roll back, or already rolled back.
    RollbackConflict: the resource changed since the fix (pass force=True to override).
    RemediationError: AWS refused or the restored state does not read back.
"""

from __future__ import annotations

from typing import Any

from chalicelib.act import build, call_json
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, Refused, RollbackConflict
from chalicelib.log import logger
from chalicelib.outcome import Outcome
from chalicelib.record import EntryKind, Status
from remediations.base import Plan


def rollback(ctx: Context, incident_id: str, *, actor: str,
             force: bool = False) -> dict[str, Any]:
    """Restore the saved prior state of `incident_id`; returns what was done."""
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id=incident_id)
    incident = ctx.store.incident(incident_id)
    if incident.status is Status.ROLLED_BACK:
        raise Refused(f"incident {incident_id} is already rolled back")
    if not incident.fix:
        raise Refused(f"incident {incident_id} has no applied change to roll back "
                      f"(status {incident.status.value})")
    plan = Plan.model_validate({
        "remediation": incident.remediation, "account": incident.account,
        "region": incident.region, **incident.fix,
        "resource": {"type": incident.resource_type, "id": incident.resource_id,
                     "arn": incident.resource if incident.resource.startswith("arn:")
                     else None}})
    rem = build(ctx, incident.remediation, plan.resource, account=incident.account,
                region=incident.region, params={})
    try:
        calls = rem.rollback(plan, force=force)
    except RollbackConflict:
        raise
    except AutoremediateError as exc:
        ctx.store.append(incident_id, EntryKind.FAILED, actor, {
            "stage": "rollback", "error": type(exc).__name__, "reason": str(exc)})
        raise
    done = [call_json(c) for c in calls]
    ctx.store.append(incident_id, EntryKind.ROLLED_BACK, actor, {
        "calls": done, "restored": plan.before, "forced": force})
    ctx.store.update_incident(incident_id, status=Status.ROLLED_BACK)
    logger.info("rolled back", extra={"incident_id": incident_id, "calls": len(done)})
    return {"incident_id": incident_id, "outcome": Outcome.ROLLED_BACK,
            "resource": incident.resource, "remediation": incident.remediation,
            "changes": done, "restored": plan.before}
