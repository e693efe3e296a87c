"""Make a planned change and prove it: apply → record `applied` → verify → record `verified`
(or `failed`), and keep the plan in the incident so it can be rolled back.

Raises:
    Nothing from AWS: every RemediationError becomes a `failed` entry and outcome.
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, RemediationError
from chalicelib.finding import Finding, Resource
from chalicelib.gate import is_ours
from chalicelib.log import logger
from chalicelib.outcome import Outcome
from chalicelib.policy import Policy
from chalicelib.record import EntryKind, Incident, Status
from chalicelib.store.table import Batch
from remediations import get as remediation_class
from remediations.base import ApiCall, Plan, Remediation, State, Target

ACTOR = "autoremediate"


def resource_of(finding: Finding) -> Resource:
    """The finding's resource; a finding about nothing in particular gets its own id."""
    if finding.resource is not None:
        return finding.resource
    ref = finding.source_ids[0] if finding.source_ids else finding.event_id
    return Resource(type=f"Finding::{finding.source.value}", id=ref)


def remediation_for(ctx: Context, finding: Finding, policy: Policy,
                    resource: Resource | None = None, *,
                    drill: dict[str, State] | None = None) -> Remediation:
    """The policy's remediation for the finding's resource. With `drill` (remediation ->
    shipped before-state) it plans from that state and cannot reach AWS."""
    resource = resource or resource_of(finding)
    params = policy.remediation_params(remediation_class(policy.remediation).cuts_traffic)
    return build(ctx, policy.remediation, resource, account=finding.account,
                 region=finding.region, params=params, drill=drill)


def _no_aws(service: str) -> Any:
    raise RemediationError(f"a drill never calls AWS (the plan asked for {service})")


def build(ctx: Context, name: str, resource: Resource, *, account: str, region: str,
          params: dict[str, Any], drill: dict[str, State] | None = None) -> Remediation:
    """Instantiate remediation `name` for one resource in one account and region."""
    cls = remediation_class(name)

    def clients_in(other: str) -> Any:  # a drill plans from the shipped state: no AWS
        return _no_aws if drill is not None else ctx.aws.client_factory(account=account,
                                                                         region=other)

    staged = drill.get(name) if drill is not None else None
    return cls(Target(resource=resource, account=account, region=region,
                      clients=clients_in(region),
                      params=cls.Params.for_run(params, ctx.settings),
                      is_ours=lambda arn: is_ours([arn], ours=ctx.own_principals(),
                                                  role_name=ctx.settings.role_name),
                      clients_in=clients_in, clock=ctx.clock, staged=staged))


def call_json(call: ApiCall) -> dict[str, Any]:
    """One call as JSON: service, operation, params (and region, when not the finding's)."""
    return call.model_dump(mode="json", exclude=None if call.region else {"region"})


def calls_json(plan: Plan) -> list[dict[str, Any]]:
    return [call_json(c) for c in plan.calls]


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"before": plan.before, "after": plan.after, "calls": calls_json(plan),
            "saved": plan.saved}


MAX_FIXES_KEPT = 20  # on the incident, for re-drift (IaC fight) counting


def execute(ctx: Context, rem: Remediation, plan: Plan, incident: Incident, *,
            actor: str = ACTOR, drifted_by: str | None = None,
            batch: Batch | None = None) -> tuple[Outcome, str | None]:
    """Apply `plan`, verify it, and record both; returns (remediated|failed, reason). A
    verified fix is also counted on the incident (`fixes`, with who had drifted it).

    The records gathered so far (at least "planned") are written before the change; the
    outcome's records go into `batch` for the caller's last write, or, without one, are
    written here in one call."""
    store = ctx.store
    incident_id = incident.incident_id
    own = batch is None
    batch = batch if batch is not None else store.batch()
    batch.flush()  # what is planned is on record before anything changes
    try:
        rem.apply(plan)
    except AutoremediateError as exc:
        logger.warning("apply failed", extra={"incident_id": incident_id,
                                              "error": type(exc).__name__})
        store.append(incident_id, EntryKind.FAILED, actor,
                     {"stage": "apply", "error": type(exc).__name__, "reason": str(exc),
                      "planned_calls": calls_json(plan)}, batch=batch)
        if own:
            batch.flush()
        return Outcome.FAILED, str(exc)
    store.append(incident_id, EntryKind.APPLIED, actor, {"calls": calls_json(plan)},
                 batch=batch)
    try:
        after = rem.verify(plan)
    except AutoremediateError as exc:
        store.append(incident_id, EntryKind.FAILED, actor,
                     {"stage": "verify", "error": type(exc).__name__, "reason": str(exc)},
                     batch=batch)
        # the change was made: keep it so an operator can still roll it back
        store.update_incident(incident_id, batch=batch, fix=plan_json(plan))
        if own:
            batch.flush()
        return Outcome.FAILED, str(exc)
    store.append(incident_id, EntryKind.VERIFIED, ACTOR,
                 {"before": plan.before, "after": after}, batch=batch)
    fixes = [*incident.fixes, {"at": ctx.clock().isoformat(), "drifted_by": drifted_by}]
    store.update_incident(incident_id, batch=batch, status=Status.RESOLVED,
                          resolved_at=ctx.clock(), fix=plan_json(plan),
                          fixes=fixes[-MAX_FIXES_KEPT:])
    store.append(incident_id, EntryKind.CLOSED, ACTOR, {"status": Status.RESOLVED.value},
                 batch=batch)
    if own:
        batch.flush()
    logger.info("remediated", extra={"incident_id": incident_id, "remediation": rem.name})
    return Outcome.REMEDIATED, None
