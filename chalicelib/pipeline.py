"""One event through the whole line:
event → finding → policy match → gate → remediation → verify → record → notify.

Example:
    >>> handle(event, current()).outcome            # doctest: +SKIP
    <Outcome.REMEDIATED: 'remediated'>

Raises:
    InvalidEvent: the input is not a well-formed EventBridge event.
    AutoremediateError: the state table could not be read or written (Lambda retries).
"""

from __future__ import annotations

from typing import Any

from chalicelib import approval, gate, notify, writeback
from chalicelib.act import ACTOR, calls_json, execute, remediation_for
from chalicelib.context import Context
from chalicelib.errors import (
    AutoremediateError,
    HandsOff,
    NotApplicable,
    RemediationError,
    ResourceGone,
)
from chalicelib.finding import Finding, Ignored, Resource, Source, normalize
from chalicelib.log import logger
from chalicelib.outcome import Outcome, Result
from chalicelib.policy import Policy, match
from chalicelib.record import BREACH_NOTICE, EntryKind, Incident, Status, new_id
from chalicelib.store.leases import Lease
from chalicelib.store.table import Batch
from remediations.base import Plan, Remediation


def handle(event: Any, ctx: Context, *, dry_run: bool = False,
           drill: dict[str, Any] | None = None) -> list[Result]:
    """Process one EventBridge event; one `Result` per (resource, matched policy), at least
    one. `drill` (remediation -> shipped before-state) makes every remediation plan from
    that state without reaching AWS, and marks the incidents as drills."""
    logger.thread_safe_clear_keys()  # keys of this thread's previous event
    finding = normalize(event)
    logger.thread_safe_append_keys(correlation_id=finding.event_id)
    if isinstance(finding, Ignored):
        logger.info("ignored", extra={"reason": finding.reason})
        return [Result(event_id=finding.event_id, outcome=Outcome.IGNORED,
                       reason=finding.reason)]
    logger.thread_safe_append_keys(source=finding.source.value, kind=finding.kind)
    work = [(one, policy) for one in finding.each() for policy in match(one, ctx.policies)]
    if not work:
        return [_ignored(finding, f"no policy matches {finding.source.value} {finding.kind}")]
    if gate.is_own_change(finding, ours=ctx.own_principals(),
                          role_name=ctx.settings.role_name):
        return [_ignored(finding, "the change was made by autoremediate itself")]
    if finding.resource is None and any(not _record_only(p) for _, p in work):
        return [_ignored(finding, f"{finding.kind} event names no resource")]
    if not ctx.store.claim_event(finding.event_id):
        logger.info("duplicate")
        return [Result(event_id=finding.event_id, outcome=Outcome.DUPLICATE,
                       reason="this event id was already handled")]
    channel = "securityhub" if finding.source is Source.SECURITYHUB else "native"
    key = finding.finding_key if drill is None else None
    try:
        first = ctx.store.claim_finding(key, channel, finding.event_id) if key else None
        acted: list[Outcome | None] = []
        if first is not None:
            results, acted = _duplicate(finding, first, ctx)
        else:
            results = [_run(one, policy, ctx, dry_run=dry_run or ctx.settings.dry_run,
                            drill=drill) for one, policy in work]
    except BaseException:
        ctx.store.release_event(finding.event_id)  # let EventBridge's retry take it again
        if key:
            ctx.store.release_finding(key, channel, finding.event_id)
        raise
    ctx.store.finish_event(finding.event_id, [r.to_json() for r in results])
    if not (dry_run or ctx.settings.dry_run or drill is not None):  # they change nothing
        for result, prior in zip(results, acted or [None] * len(results), strict=True):
            writeback.outcome(ctx, finding, result, acted=prior)
    if first is None:
        for (one, policy), result in zip(work, results, strict=True):
            notify.outcome(ctx, result, breach_clock=_starts_clock(one, policy))
    return results


def _duplicate(finding: Finding, first: dict[str, Any],
               ctx: Context) -> tuple[list[Result], list[Outcome | None]]:
    """The other copy of a finding already arrived (natively or via Security Hub): change
    nothing; note this copy on the incidents the first one reached, and answer with the
    first one's outcome in the reason. Returns the results and the first one's outcomes."""
    how = "via Security Hub" if first["channel"] == "securityhub" else "from its own service"
    reason = (f"the same finding ({finding.finding_key}) already arrived {how} as event "
              f"{first['event_id']}; it is handled once")
    logger.info("duplicate finding", extra={"first_event": first["event_id"]})
    earlier = ctx.store.event_results(first["event_id"]) or []
    out: list[Result] = []
    acted: list[Outcome | None] = []
    for prior in earlier:
        iid = prior.get("incident_id")
        if iid:
            ctx.store.append(iid, EntryKind.DETECTED, finding.actor or finding.source.value,
                             {**_detected(finding), "joined": True,
                              "duplicate_of": first["event_id"]})
        out.append(Result(event_id=finding.event_id, outcome=Outcome.DUPLICATE,
                          policy=prior.get("policy"), remediation=prior.get("remediation"),
                          resource=prior.get("resource"), incident_id=iid,
                          reason=f"{reason} ({prior.get('outcome')})"))
        acted.append(Outcome(prior["outcome"]) if prior.get("outcome") in
                     Outcome._value2member_map_ else None)
    if not out:
        out, acted = [Result(event_id=finding.event_id, outcome=Outcome.DUPLICATE,
                             reason=f"{reason} (still being handled)")], [None]
    return out, acted


def _record_only(policy: Policy) -> bool:
    from remediations import info

    return bool(info(policy.remediation)["record_only"])


def _ignored(finding: Finding, reason: str) -> Result:
    logger.info("ignored", extra={"reason": reason})
    return Result(event_id=finding.event_id, outcome=Outcome.IGNORED, reason=reason)


def _detected(finding: Finding) -> dict[str, Any]:
    return {"source": finding.source.value, "event_id": finding.event_id,
            "kind": finding.kind, "generator": finding.generator,
            "source_ids": list(finding.source_ids),
            "changed_by": finding.actor, "changed_by_role": finding.actor_role,
            "access_key_id": finding.actor_key, "severity": finding.severity,
            "account": finding.account, "region": finding.region, "event": finding.raw}


def _starts_clock(finding: Finding, policy: Policy) -> bool:
    """A possible breach starts the 60-day clock: GuardDuty findings, unless the policy
    says otherwise (a CloudWatch alarm policy may say yes), natively or via Security Hub."""
    if policy.breach_clock is not None:
        return policy.breach_clock
    return finding.product == "GuardDuty"


def _new_incident(finding: Finding, policy: Policy, resource: Resource,
                  ctx: Context, *, drill: bool = False) -> Incident:
    breach: dict[str, Any] = {}
    if _starts_clock(finding, policy) and not drill:
        breach = {"breach_assessment_started": finding.time,
                  "breach_notification_deadline": finding.time + BREACH_NOTICE}
    return Incident(
        incident_id=new_id("inc"), status=Status.OPEN, resource=resource.display,
        resource_type=resource.type, resource_id=resource.id, account=finding.account,
        region=finding.region, policy=policy.name, remediation=policy.remediation,
        controls=policy.hipaa, created_at=ctx.clock(), source=finding.source.value,
        drill=drill, **breach)


def _run(finding: Finding, policy: Policy, ctx: Context, *, dry_run: bool,
         drill: dict[str, Any] | None = None) -> Result:
    """Resolve the resource to its canonical identity, then gate, plan, record and (maybe)
    act while holding its lease: a second event about the same resource and policy waits,
    then finds it compliant and joins the incident."""
    rem = remediation_for(ctx, finding, policy, drill=drill)
    failure: AutoremediateError | None = None
    try:
        if drill is not None and rem.target.staged is None:
            raise RemediationError(f"the drill scenario ships no state for {rem.name}")
        rem.identify()
    except AutoremediateError as exc:
        failure = exc
    resource = rem.target.resource
    logger.thread_safe_append_keys(policy=policy.name, remediation=policy.remediation,
                       resource=resource.display)
    with ctx.store.lease(finding.account, resource.display, policy.name) as lease:
        if finding.cleared:
            return _cleared(finding, policy, resource, ctx)
        batch = ctx.store.batch()  # this run's records: written before any change, and last
        result = _gated(finding, policy, rem, ctx, dry_run=dry_run, failure=failure,
                        drill=drill is not None, lease=lease, batch=batch)
        ctx.store.release_lease(lease, batch=batch)  # with the outcome's records: one write
        return result


def _cleared(finding: Finding, policy: Policy, resource: Resource, ctx: Context) -> Result:
    """The condition ended (an alarm back to OK): note it on the open incident, if any."""
    result = Result(event_id=finding.event_id, outcome=Outcome.IGNORED, policy=policy.name,
                    remediation=policy.remediation, resource=resource.display)
    iid = _note_on_open_incident(finding, policy, resource, ctx, {
        "note": f"{finding.kind} is back to normal; the incident stays open for responders"})
    if iid is None:
        return result.model_copy(update={"reason": f"{finding.kind} is back to normal and "
                                                   "has no open incident"})
    return result.model_copy(update={"outcome": Outcome.COMPLIANT, "incident_id": iid,
                                      "reason": "back to normal: recorded on the open "
                                                "incident"})


def _gone(finding: Finding, policy: Policy, resource: Resource, ctx: Context,
          gone: ResourceGone, result: Result, batch: Batch) -> Result:
    """The resource was deleted before we got to it (ephemeral resources are common):
    nothing to fix and nothing to retry. Noted on its open incident, if it has one."""
    reason = f"resource no longer exists: {gone}"
    logger.info("resource gone", extra={"reason": reason})
    iid = _note_on_open_incident(finding, policy, resource, ctx, {
        "note": "the resource no longer exists; nothing was changed", "reason": reason},
        batch=batch)
    return result.model_copy(update={"outcome": Outcome.IGNORED, "reason": reason,
                                      "incident_id": iid})


def _note_on_open_incident(finding: Finding, policy: Policy, resource: Resource,
                           ctx: Context, note: dict[str, Any], *,
                           batch: Batch | None = None) -> str | None:
    """Join `finding` to the resource's open incident with a `verified` note, changing
    nothing; the incident's id, or None when it has none open."""
    incident = ctx.store.open_incident(finding.account, resource.display, policy.name)
    if incident is None:
        return None
    iid = incident.incident_id
    ctx.store.append(iid, EntryKind.DETECTED, finding.actor or finding.source.value,
                     {**_detected(finding), "joined": True}, batch=batch)
    ctx.store.append(iid, EntryKind.VERIFIED, ACTOR, note, batch=batch)
    return iid


def _gated(finding: Finding, policy: Policy, rem: Remediation, ctx: Context, *,
           dry_run: bool, failure: AutoremediateError | None, drill: bool,
           lease: Lease, batch: Batch) -> Result:
    """Gate, plan and record; then carry out the gate's decision."""
    resource = rem.target.resource
    result = Result(event_id=finding.event_id, outcome=Outcome.FAILED, policy=policy.name,
                    remediation=policy.remediation, resource=resource.display)
    plan = None
    decision = gate.Gate(gate.Decision.AUTO, "")
    if failure is None:
        try:
            decision = gate.decide(policy, rem.resource_tags(), dry_run=dry_run,
                                   account=finding.account)
            if decision.decision in _UNTOUCHED:
                logger.info(decision.decision.value, extra={"reason": decision.reason})
                return result.model_copy(update={"outcome": _UNTOUCHED[decision.decision],
                                                  "reason": decision.reason})
            plan = rem.plan()
        except AutoremediateError as exc:
            failure = exc
    if isinstance(failure, NotApplicable):
        logger.info("not applicable", extra={"reason": str(failure)})
        return result.model_copy(update={"outcome": Outcome.IGNORED, "reason": str(failure)})
    if isinstance(failure, ResourceGone) and not _starts_clock(finding, policy):
        return _gone(finding, policy, resource, ctx, failure, result, batch)

    incident, joined = ctx.store.open_or_join(
        _new_incident(finding, policy, resource, ctx, drill=drill), lease=lease, batch=batch)
    iid = incident.incident_id
    logger.thread_safe_append_keys(incident_id=iid)
    ctx.store.append(iid, EntryKind.DETECTED, finding.actor or finding.source.value,
                     {**_detected(finding), "joined": joined}, batch=batch)
    result = result.model_copy(update={"incident_id": iid})

    if isinstance(failure, HandsOff | ResourceGone):
        # a possible breach about a vanished resource (a deleted access key) still needs
        # its incident and breach assessment: recorded for a human, nothing to change
        reason = (f"resource no longer exists: {failure}; recorded for the breach "
                  "assessment" if isinstance(failure, ResourceGone) else str(failure))
        ctx.store.append(iid, EntryKind.PLANNED, ACTOR, {"note": "record only; no change",
                                                         "reason": reason}, batch=batch)
        return result.model_copy(update={"outcome": Outcome.INCIDENT_OPENED,
                                          "reason": reason})
    if failure is not None or plan is None:
        reason = str(failure)
        ctx.store.append(iid, EntryKind.FAILED, ACTOR, {
            "stage": "plan", "error": type(failure).__name__, "reason": reason}, batch=batch)
        return result.model_copy(update={"reason": reason})

    if plan.record_only:
        ctx.store.append(iid, EntryKind.PLANNED, ACTOR, {"note": "record only; no change"},
                         batch=batch)
        said = "; ".join(plan.notes) or f"{policy.remediation} records this for a human"
        return result.model_copy(update={"outcome": Outcome.INCIDENT_OPENED,
                                          "reason": f"{said}; nothing was changed"})
    if plan.is_noop:
        ctx.store.append(iid, EntryKind.VERIFIED, ACTOR,
                         {"note": "already compliant", "state": plan.before}, batch=batch)
        if incident.status is not Status.RESOLVED:
            ctx.store.update_incident(iid, batch=batch, status=Status.RESOLVED,
                                      resolved_at=ctx.clock())
            ctx.store.append(iid, EntryKind.CLOSED, ACTOR, {"status": "resolved"}, batch=batch)
        why = "".join(f"; {note}" for note in plan.notes)  # a remediation may say why
        return result.model_copy(update={"outcome": Outcome.COMPLIANT,
                                          "reason": f"already compliant when checked{why}"})

    result = result.model_copy(update={"changes": calls_json(plan)})
    if decision.decision is gate.Decision.DRY_RUN:
        ctx.store.append(iid, EntryKind.DRY_RUN, ACTOR, {
            "reason": decision.reason, "before": plan.before, "after": plan.after,
            "calls": result.changes, **_notes(plan)}, batch=batch)
        return result.model_copy(update={"outcome": Outcome.DRY_RUN,
                                          "reason": decision.reason})
    if decision.decision is gate.Decision.AUTO:
        decision = (gate.fight(policy, incident, finding, now=ctx.clock())
                    or gate.preflight(policy, plan) or decision)
    if decision.fighting is not None:
        ctx.store.update_incident(iid, batch=batch, fighting=True,
                                  fighting_principals=list(decision.fighting))
        logger.warning("re-drift loop", extra={"principals": list(decision.fighting)})
    if decision.decision is gate.Decision.AUTO:
        done = _auto(finding, policy, rem, plan, incident, ctx, decision, result, batch)
        if done is not None:
            return done
        decision = gate.over_budget(policy, finding.account, ctx.settings.auto_limit_per_hour)
        logger.warning("auto limit reached", extra={"account": finding.account})
    return _ask(finding, policy, rem, plan, incident, ctx, decision, result, batch)


def _notes(plan: Plan) -> dict[str, Any]:
    """The plan's notes for its timeline entry (the pre-flight's figures, for one)."""
    return {"notes": plan.notes} if plan.notes else {}


# gate decisions that leave the resource alone, with no incident, and their outcome
_UNTOUCHED = {gate.Decision.NOT_SELECTED: Outcome.IGNORED, gate.Decision.EXEMPT: Outcome.EXEMPT}


def _auto(finding: Finding, policy: Policy, rem: Remediation, plan: Plan, incident: Incident,
          ctx: Context, decision: gate.Gate, result: Result, batch: Batch) -> Result | None:
    """Fix now. "planned" and the hour's blast-radius count are written together, before
    the change: over the limit neither is, and None says the budget is spent."""
    iid = incident.incident_id
    unplanned = batch.checkpoint()
    ctx.store.append(iid, EntryKind.PLANNED, ACTOR, {
        "reason": decision.reason, "before": plan.before, "after": plan.after,
        "calls": result.changes, **_notes(plan)}, batch=batch)
    if incident.status is Status.RESOLVED:  # drifted again after a fix: re-open
        ctx.store.update_incident(iid, batch=batch, status=Status.OPEN)
    if not ctx.store.take_auto_change(finding.account, ctx.settings.auto_limit_per_hour,
                                      batch=batch):
        batch.restore(unplanned)
        return None
    outcome, why = execute(ctx, rem, plan, incident, batch=batch,
                           drifted_by=finding.actor_role or finding.actor)
    return result.model_copy(update={"outcome": outcome, "reason": why})


def _ask(finding: Finding, policy: Policy, rem: Remediation, plan: Plan, incident: Incident,
         ctx: Context, decision: gate.Gate, result: Result, batch: Batch) -> Result:
    """Ask for approval (or join the request already pending for this same plan). The
    incident and its records exist before the request refers to them."""
    iid = incident.incident_id
    if incident.status is Status.RESOLVED:
        ctx.store.update_incident(iid, batch=batch, status=Status.OPEN)
    batch.flush()
    waiting = approval.pending_for(ctx, incident, rem, plan)
    if waiting is not None:
        return result.model_copy(update={
            "outcome": Outcome.APPROVAL_REQUESTED, "approval_id": waiting, "reason": (
                f"{decision.reason}; approval {waiting} for this same plan is already "
                "pending")})
    approval_id = approval.request(ctx, finding, policy, plan, iid,
                                   reason=decision.reason, held=decision.held)
    return result.model_copy(update={"outcome": Outcome.APPROVAL_REQUESTED,
                                      "approval_id": approval_id, "reason": decision.reason})
