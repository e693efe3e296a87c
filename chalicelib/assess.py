"""Record the breach risk assessment of an incident with a notification clock (HIPAA
164.402: a security incident involving PHI is presumed a breach unless an assessment shows
a low probability of compromise; 164.404: notify within 60 days of discovery).

    remediate assess INCIDENT_ID --breach no --reason "keys were never used" --as U0ONCALL

`no` sets `breach_status` `not_a_breach` and stops the clock; `yes` sets
`notification_required` and keeps the deadline. Both go on the timeline (`assessed`, with
the user and the reason). Only approvers may assess (the incident policy's approvers, else
REMEDIATION_APPROVERS, as configured now).

Raises:
    NotFound (unknown incident), Refused (no clock, not an approver, empty reason).
"""

from __future__ import annotations

from typing import Any

from chalicelib.approval import check_approver
from chalicelib.context import Context
from chalicelib.errors import Refused
from chalicelib.log import logger
from chalicelib.record import BreachStatus, EntryKind


def assess(ctx: Context, incident_id: str, *, breach: bool, reason: str,
           user: str) -> dict[str, Any]:
    """Record `user`'s assessment; returns the incident's breach fields after it."""
    incident = ctx.store.incident(incident_id)
    if incident.breach_notification_deadline is None:
        raise Refused(f"incident {incident_id} has no breach notification clock (only "
                      "GuardDuty incidents start one): nothing to assess")
    if not reason.strip():
        raise Refused("--reason must say why (it goes on the timeline for the auditor)")
    check_approver(ctx, incident.policy, user, what=f"assessing incident {incident_id}")
    status = BreachStatus.NOTIFICATION_REQUIRED if breach else BreachStatus.NOT_A_BREACH
    at = ctx.clock()
    ctx.store.update_incident(incident_id, breach_status=status, breach_assessed_by=user,
                              breach_assessed_at=at, breach_assessment_reason=reason.strip())
    ctx.store.append(incident_id, EntryKind.ASSESSED, user, {
        "breach": "yes" if breach else "no", "breach_status": status.value,
        "reason": reason.strip(),
        "breach_notification_deadline": incident.breach_notification_deadline.isoformat()})
    logger.info("breach assessed", extra={"incident_id": incident_id,
                                          "breach_status": status.value})
    return {"incident_id": incident_id, "breach_status": status.value,
            "breach_notification_deadline": incident.breach_notification_deadline.isoformat(),
            "assessed_by": user, "assessed_at": at.isoformat(), "reason": reason.strip()}
