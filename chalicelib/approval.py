"""The approval gate: store a pending approval with the exact plan, and decide it once.

`request` is called by the pipeline for policies in `approve` mode; `decide` is the one
decision path for Slack buttons and `remediate approve|deny`.

Raises:
    NotFound (unknown id), Refused (not an approver, expired, already decided).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from chalicelib import notify
from chalicelib.act import ACTOR, calls_json, execute, remediation_for
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, Refused, StateConflict
from chalicelib.finding import Finding
from chalicelib.log import logger
from chalicelib.outcome import Outcome, Result
from chalicelib.policy import Policy
from chalicelib.record import EntryKind, Status, new_id
from remediations.base import Plan, Remediation


def request(ctx: Context, finding: Finding, policy: Policy, plan: Plan,
            incident_id: str, *, reason: str = "") -> str:
    """Store a pending approval for `plan` and announce it; returns the approval id."""
    approval_id = new_id("apr")
    created = ctx.clock()
    expires = created + dt.timedelta(hours=policy.approval_hours)
    approvers = list(policy.approvers or ctx.settings.approvers)
    ctx.store.put_approval(approval_id, {
        "state": "pending", "incident_id": incident_id, "policy": policy.name,
        "remediation": policy.remediation, "resource": plan.resource.display,
        "plan": plan.model_dump(mode="json"), "finding": finding.model_dump(mode="json"),
        "approvers": approvers, "created_at": created.isoformat(),
        "expires_at": expires.isoformat(),
    })
    ctx.store.append(incident_id, EntryKind.APPROVAL_REQUESTED, ACTOR, {
        "approval_id": approval_id, "approvers": approvers, "expires_at": expires.isoformat(),
        "reason": reason or f"policy {policy.name} requires approval",
        "before": plan.before, "after": plan.after, "calls": calls_json(plan)})
    notify.approval_requested(ctx, approval_id=approval_id, policy=policy, plan=plan,
                              incident_id=incident_id)
    logger.info("approval requested", extra={"approval_id": approval_id,
                                             "incident_id": incident_id})
    return approval_id


def _policy(ctx: Context, name: str) -> Policy:
    for policy in ctx.policies:
        if policy.name == name:
            return policy
    raise Refused(f"policy {name!r} no longer exists; nothing was changed")


def decide(ctx: Context, approval_id: str, user: str, *, approve: bool) -> Result:
    """Approve or deny once. On approval, re-plan and act only if the plan is unchanged."""
    item = ctx.store.approval(approval_id)
    if item["state"] != "pending":
        raise Refused(f"approval {approval_id} was already decided: {item['state']} by "
                      f"{item.get('decided_by', '?')} at {item.get('decided_at', '?')}")
    expires = dt.datetime.fromisoformat(item["expires_at"])
    if ctx.clock() >= expires:
        with contextlib.suppress(StateConflict):
            ctx.store.decide_approval(approval_id, "expired", ACTOR)
        raise Refused(f"approval {approval_id} expired at {item['expires_at']}")
    approvers = item.get("approvers") or []
    if not approvers:
        raise Refused(f"approval {approval_id}: nobody may approve; name approvers in policy "
                      f"{item['policy']} or REMEDIATION_APPROVERS")
    if user not in approvers:
        raise Refused(f"{user} is not an approver for policy {item['policy']} "
                      f"(allowed: {', '.join(approvers)})")
    try:
        ctx.store.decide_approval(approval_id, "approved" if approve else "denied", user)
    except StateConflict:
        raise Refused(f"approval {approval_id} was already decided") from None

    incident_id = item["incident_id"]
    finding = Finding.model_validate(item["finding"])
    approved = Plan.model_validate(item["plan"])
    base = Result(event_id=finding.event_id, outcome=Outcome.DENIED, policy=item["policy"],
                  remediation=item["remediation"], resource=item["resource"],
                  incident_id=incident_id, approval_id=approval_id)
    if not approve:
        ctx.store.append(incident_id, EntryKind.DENIED, user, {"approval_id": approval_id})
        return base
    ctx.store.append(incident_id, EntryKind.APPROVED, user, {
        "approval_id": approval_id, "calls": [c.model_dump(mode="json")
                                              for c in approved.calls]})
    policy = _policy(ctx, item["policy"])
    rem: Remediation = remediation_for(ctx, finding, policy, approved.resource)
    try:
        fresh = rem.plan()
    except AutoremediateError as exc:
        ctx.store.append(incident_id, EntryKind.FAILED, ACTOR,
                         {"stage": "re-plan", "error": type(exc).__name__, "reason": str(exc)})
        return base.model_copy(update={"outcome": Outcome.FAILED, "reason": str(exc)})
    if fresh.is_noop:
        ctx.store.append(incident_id, EntryKind.VERIFIED, ACTOR,
                         {"note": "already compliant when approved", "state": fresh.before})
        ctx.store.update_incident(incident_id, status=Status.RESOLVED, resolved_at=ctx.clock())
        return base.model_copy(update={"outcome": Outcome.COMPLIANT})
    if fresh.calls != approved.calls or fresh.before != approved.before:
        why = "the resource changed after the approval was requested; the approved plan " \
              "no longer matches, so nothing was applied"
        ctx.store.append(incident_id, EntryKind.FAILED, ACTOR, {
            "stage": "re-check", "reason": why, "approved_calls": calls_json(approved),
            "current_calls": calls_json(fresh)})
        again = request(ctx, finding, policy, fresh, incident_id, reason=why)
        return base.model_copy(update={"outcome": Outcome.APPROVAL_REQUESTED,
                                       "approval_id": again, "reason": why,
                                       "changes": calls_json(fresh)})
    outcome, reason = execute(ctx, rem, fresh, incident_id, actor=ACTOR)
    return base.model_copy(update={"outcome": outcome, "reason": reason,
                                   "changes": calls_json(fresh)})


def pending(ctx: Context) -> list[dict[str, Any]]:
    """Approvals still waiting for a decision (a scan: CLI use only)."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": ctx.store.table, "FilterExpression": "#k = :a AND #s = :p",
        "ExpressionAttributeNames": {"#k": "kind", "#s": "state"},
        "ExpressionAttributeValues": {":a": {"S": "approval"}, ":p": {"S": "pending"}}}
    while True:
        page = ctx.store.db.scan(**kwargs)
        out.extend(ctx.store.approval(i["approval_id"]["S"]) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
