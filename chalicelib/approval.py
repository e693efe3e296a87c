"""The approval gate: store a pending approval with the exact plan, decide it exactly once,
then carry it out after re-checking the resource.

One decision path for Slack buttons and `remediate approve|deny`:

    claim(ctx, id, user, approve)   checks (exists, pending, not expired, allowed user) and
                                    records the decision with a conditional write
    carry_out(ctx, id)              re-plans; applies only if the plan is unchanged
    decide(...)                     claim + carry_out, for the CLI

Slack's route claims synchronously (so it can answer within 3 s) and carries out
asynchronously (`chalicelib/slack.py`).

Raises:
    NotFound (unknown id), Refused (not an approver, expired, already decided).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib import notify, writeback
from chalicelib.act import ACTOR, calls_json, execute, remediation_for
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, NotFound, Refused, StateConflict
from chalicelib.finding import Finding
from chalicelib.log import logger
from chalicelib.outcome import Outcome, Result
from chalicelib.policy import Policy
from chalicelib.record import Approval, ApprovalState, EntryKind, Incident, Status, new_id
from chalicelib.store import held_group_id
from remediations.base import Plan, Remediation


def request(ctx: Context, finding: Finding, policy: Policy, plan: Plan,
            incident_id: str, *, reason: str = "", held: bool = False) -> str:
    """Store a pending approval for `plan` and announce it; returns the approval id.

    A fix `held` by the blast-radius limit joins its (account, policy, hour) group, which
    Slack shows as one message with "Approve all" / "Deny all" instead of one per fix."""
    approval_id = new_id("apr")
    created = ctx.clock()
    expires = created + dt.timedelta(hours=policy.approval_hours)
    approvers = list(policy.approvers or ctx.settings.approvers)
    group = held_group_id(finding.account, policy.name, created) if held else None
    ctx.store.put_approval(Approval(
        approval_id=approval_id, state=ApprovalState.PENDING, incident_id=incident_id,
        policy=policy.name, remediation=policy.remediation, resource=plan.resource.display,
        account=finding.account, plan=plan, finding=finding, approvers=approvers,
        required=policy.approvals_required, created_at=created, expires_at=expires,
        held=group is not None, group_id=group))
    ctx.store.update_incident(incident_id, approval_id=approval_id)
    ctx.store.append(incident_id, EntryKind.APPROVAL_REQUESTED, ACTOR, {
        "approval_id": approval_id, "approvers": approvers,
        "required": policy.approvals_required, "expires_at": expires.isoformat(),
        "reason": reason or f"policy {policy.name} requires approval",
        **({"held_group": group} if group else {}),
        **({"notes": plan.notes} if plan.notes else {}),
        "before": plan.before, "after": plan.after, "calls": calls_json(plan)})
    if group is not None:
        state = ctx.store.hold(group, approval_id, account=finding.account,
                               policy=policy.name)
        notify.held_fixes(ctx, state, policy=policy, incident_id=incident_id)
    else:
        posted = notify.approval_requested(
            ctx, approval_id=approval_id, policy=policy, plan=plan, incident_id=incident_id,
            detected=f"{finding.source.value} {finding.kind} at {finding.time.isoformat()}",
            expires_at=expires.isoformat(timespec="minutes"), reason=reason)
        if posted:
            ctx.store.set_approval_fields(approval_id, slack_channel=posted[0],
                                          slack_ts=posted[1])
    logger.info("approval requested", extra={"approval_id": approval_id,
                                             "incident_id": incident_id, "held": held})
    return approval_id


def pending_for(ctx: Context, incident: Incident, rem: Remediation,
                plan: Plan) -> str | None:
    """The incident's approval, if it is still pending, unexpired and for the same fix as
    `plan` (as `rem.unchanged` judges it, the check an approved plan passes before it is
    carried out): a second finding about the same drift joins it instead of asking again."""
    if not incident.approval_id:
        return None
    try:
        item = ctx.store.approval(incident.approval_id)
    except NotFound:
        return None
    if (item.state is not ApprovalState.PENDING or item.expired(ctx.clock())
            or not rem.unchanged(item.plan, plan)):
        return None
    return incident.approval_id


def _log_keys(approval_id: str) -> None:
    """A decision is its own unit of work: drop the keys of whatever ran before."""
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id=approval_id, approval_id=approval_id)


def _policy(ctx: Context, name: str) -> Policy:
    for policy in ctx.policies:
        if policy.name == name:
            return policy
    raise Refused(f"policy {name!r} no longer exists; nothing was changed")


def _result(item: Approval, outcome: Outcome, **extra: Any) -> Result:
    fields: dict[str, Any] = {
        "event_id": item.finding.event_id, "policy": item.policy,
        "remediation": item.remediation, "resource": item.resource,
        "incident_id": item.incident_id, "approval_id": item.approval_id,
        **extra}  # e.g. the fresh approval_id of a re-requested plan
    return Result(outcome=outcome, **fields)


def claim(ctx: Context, approval_id: str, user: str, *, approve: bool) -> tuple[
        Approval, ApprovalState]:
    """Record `user`'s decision exactly once. Returns the approval and its state now:
    PENDING (more approvers needed), DENIED or APPROVED; for the last two, `carry_out`
    finishes the job (Slack message, and the change if approved)."""
    _log_keys(approval_id)
    item = ctx.store.approval(approval_id)
    if item.state is not ApprovalState.PENDING:
        raise Refused(f"approval {approval_id} was already decided: {item.state.value} by "
                      f"{item.decided_by or '?'} at {item.decided_at or '?'}")
    if item.expired(ctx.clock()):
        expire(ctx, item)
        raise Refused(f"approval {approval_id} expired at {item.expires_at.isoformat()}")
    check_approver(ctx, item.policy, user, what=f"approval {approval_id}")
    incident_id = item.incident_id
    if not approve:
        _transition(ctx, approval_id, ApprovalState.DENIED, user)
        ctx.store.append(incident_id, EntryKind.DENIED, user, {"approval_id": approval_id})
        return item, ApprovalState.DENIED
    required = item.required
    if required > 1:
        try:
            count = ctx.store.add_approver(approval_id, user)
        except StateConflict:
            raise Refused(f"approval {approval_id}: {user} already approved or it was "
                          "decided meanwhile; a different approver is needed") from None
        ctx.store.append(incident_id, EntryKind.APPROVED, user, {
            "approval_id": approval_id, "approvals": count, "required": required})
        if count < required:
            return item, ApprovalState.PENDING
        _transition(ctx, approval_id, ApprovalState.APPROVED, user)
    else:
        _transition(ctx, approval_id, ApprovalState.APPROVED, user)
        ctx.store.append(incident_id, EntryKind.APPROVED, user, {
            "approval_id": approval_id, "calls": calls_json(item.plan)})
    return item, ApprovalState.APPROVED


def check_approver(ctx: Context, policy_name: str, user: str, *, what: str) -> None:
    """Refused unless `user` may approve for the policy. The allow-list is read as configured
    now: someone taken off on-call loses the right at once."""
    policy = _policy(ctx, policy_name)
    approvers = list(policy.approvers or ctx.settings.approvers)
    if not approvers:
        raise Refused(f"{what}: nobody may approve; name approvers in policy "
                      f"{policy_name} or REMEDIATION_APPROVERS")
    if user not in approvers:
        raise Refused(f"{user} is not an approver for policy {policy_name} "
                      f"(allowed: {', '.join(approvers)})")


def _transition(ctx: Context, approval_id: str, state: ApprovalState, user: str) -> None:
    try:
        ctx.store.decide_approval(approval_id, state, user)
    except StateConflict:
        raise Refused(f"approval {approval_id} was already decided") from None


def carry_out(ctx: Context, approval_id: str) -> Result:
    """Finish a decided approval: for a denial, say so in Slack; for an approval, re-plan
    and apply only the plan that was approved."""
    _log_keys(approval_id)
    item = ctx.store.approval(approval_id)
    logger.thread_safe_append_keys(incident_id=item.incident_id, policy=item.policy,
                                   remediation=item.remediation)
    if item.state is ApprovalState.DENIED:
        notify.approval_closed(ctx, item, headline=f":no_entry: Denied by "
                               f"<@{item.decided_by or '?'}>; nothing was changed.")
        return _result(item, Outcome.DENIED)
    if item.state is not ApprovalState.APPROVED:
        raise Refused(f"approval {approval_id} is {item.state.value}, not decided")
    approved = item.plan
    with ctx.store.lease(approved.account, approved.resource.display, item.policy):
        return _carry_out_approved(ctx, item, item.finding, approved)


def _carry_out_approved(ctx: Context, item: Approval, finding: Finding,
                        approved: Plan) -> Result:
    """Re-plan under the resource's lease; apply only if the plan is the approved one."""
    incident_id = item.incident_id
    who = item.decided_by or "?"
    policy = _policy(ctx, item.policy)
    rem: Remediation = remediation_for(ctx, finding, policy, approved.resource)
    try:
        fresh = rem.plan()
    except AutoremediateError as exc:
        ctx.store.append(incident_id, EntryKind.FAILED, ACTOR,
                         {"stage": "re-plan", "error": type(exc).__name__, "reason": str(exc)})
        notify.approval_closed(ctx, item, headline=f":x: Approved by <@{who}>, but it "
                               f"failed: {type(exc).__name__}", thread_text=_safe(exc))
        return _result(item, Outcome.FAILED, reason=str(exc))
    if fresh.is_noop:
        ctx.store.append(incident_id, EntryKind.VERIFIED, ACTOR,
                         {"note": "already compliant when approved", "state": fresh.before})
        ctx.store.update_incident(incident_id, status=Status.RESOLVED, resolved_at=ctx.clock())
        notify.approval_closed(ctx, item, headline=f":white_check_mark: Approved by <@{who}>;"
                               " the resource was already compliant, nothing was changed.")
        return _result(item, Outcome.COMPLIANT)
    if not rem.unchanged(approved, fresh):
        why = ("the resource changed after the approval was requested; the approved plan "
               "no longer matches, so nothing was applied")
        ctx.store.append(incident_id, EntryKind.FAILED, ACTOR, {
            "stage": "re-check", "reason": why, "approved_calls": calls_json(approved),
            "current_calls": calls_json(fresh)})
        notify.approval_closed(ctx, item, headline=f":warning: Approved by <@{who}>, but the "
                               "resource changed since; a fresh approval was requested.")
        again = request(ctx, finding, policy, fresh, incident_id, reason=why)
        return _result(item, Outcome.APPROVAL_REQUESTED, approval_id=again, reason=why,
                       changes=calls_json(fresh))
    outcome, reason = execute(ctx, rem, fresh, ctx.store.incident(incident_id), actor=ACTOR,
                              drifted_by=finding.actor_role or finding.actor)
    calls = ", ".join(f"{c.service}:{c.operation}" for c in fresh.calls)
    if outcome is Outcome.REMEDIATED:
        notify.approval_closed(ctx, item, headline=f":white_check_mark: Approved by <@{who}>"
                               f" at {item.decided_at or '?'}; applied and verified.",
                               thread_text=f"Applied: {calls}. Verified by reading back.")
    else:
        notify.approval_closed(ctx, item, headline=f":x: Approved by <@{who}>, but the "
                               "change failed.", thread_text=f"Failed while applying {calls}; "
                               "see the incident timeline.")
    result = _result(item, outcome, reason=reason, changes=calls_json(fresh))
    writeback.outcome(ctx, finding, result)  # a Security Hub finding: now RESOLVED
    return result


def _safe(exc: BaseException) -> str:
    """A failure for Slack: the error class and AWS code only, never AWS's message text."""
    from chalicelib.aws import error_code

    code = error_code(exc)
    return f"{type(exc).__name__}{f' ({code})' if code else ''}; see the incident timeline."


def decide(ctx: Context, approval_id: str, user: str, *, approve: bool) -> Result:
    """Approve or deny once (the CLI path): claim, then carry out in this process."""
    item, state = claim(ctx, approval_id, user, approve=approve)
    if state is ApprovalState.PENDING:  # another approver is needed
        return _result(item, Outcome.APPROVAL_REQUESTED)
    return carry_out(ctx, approval_id)


def held(ctx: Context, *, policy: str, account: str,
         group_id: str | None = None) -> list[Approval]:
    """The fixes the blast-radius limit is holding for `policy` in `account` (one group)."""
    found = ctx.store.pending_approvals(held=True, policy=policy, account=account)
    return [a for a in found if group_id is None or a.group_id == group_id]


def decide_held(ctx: Context, user: str, *, approve: bool, policy: str, account: str,
                group_id: str | None = None) -> list[Result]:
    """Approve or deny every held fix of `policy` in `account` (or of one group) at once.

    Each fix goes through the single decision path: decided once, re-checked before it
    acts, recorded on its own incident. One decided meanwhile by someone else is reported
    as `duplicate`. Raises NotFound when nothing is held, Refused for a non-approver.
    """
    items = held(ctx, policy=policy, account=account, group_id=group_id)
    if not items:
        raise NotFound(f"no held fixes pending for policy {policy} in account {account}")
    check_approver(ctx, policy, user, what=f"held fixes of {policy} in {account}")
    results: list[Result] = []
    for item in items:
        try:
            results.append(decide(ctx, item.approval_id, user, approve=approve))
        except Refused as exc:  # decided, or expired, since we listed it
            results.append(_result(item, Outcome.DUPLICATE, reason=str(exc)))
    verb = "Approved" if approve else "Denied"
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    for group in sorted({i.group_id for i in items if i.group_id}):
        notify.held_closed(ctx, group, headline=f"{verb} all by <@{user}>: {summary}.")
    logger.info("held fixes decided", extra={"policy": policy, "account": account,
                                             "count": len(results), "approve": approve})
    return results


def expire(ctx: Context, item: Approval) -> bool:
    """Mark one pending approval expired (once), record it, update Slack."""
    try:
        ctx.store.decide_approval(item.approval_id, ApprovalState.EXPIRED, ACTOR)
    except StateConflict:
        return False
    ctx.store.append(item.incident_id, EntryKind.DENIED, ACTOR, {
        "approval_id": item.approval_id, "reason": "expired without a decision",
        "expires_at": item.expires_at.isoformat()})
    notify.approval_closed(ctx, item, headline=":hourglass: Expired without a decision; "
                           "nothing was changed.")
    return True


def sweep(ctx: Context) -> list[str]:
    """Expire every pending approval past its expiry; returns their ids."""
    now = ctx.clock()
    done = []
    for item in pending(ctx):
        if item.expired(now) and expire(ctx, item):
            done.append(item.approval_id)
    return done


def pending(ctx: Context) -> list[Approval]:
    """Approvals still waiting for a decision."""
    return ctx.store.pending_approvals()
