"""AWS Config rule results ("Config Rules Compliance Change") as `Finding`s: only
NON_COMPLIANT results are findings; the resource is named in the event itself."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import InvalidEvent
from chalicelib.finding import (
    Envelope,
    Finding,
    Ignored,
    Source,
    make_resource,
    require,
    search,
    text,
)


def normalize(env: Envelope, event: dict[str, Any]) -> Finding | Ignored:
    rule = require(env, "detail.configRuleName", event)
    compliance = require(env, "detail.newEvaluationResult.complianceType", event)
    if compliance != "NON_COMPLIANT":
        return Ignored(event_id=env.id, reason=f"Config result {compliance} for {rule}")
    account = text(search("detail.awsAccountId", event)) or env.account
    region = text(search("detail.awsRegion", event)) or env.region
    rtype = text(search("detail.resourceType", event)) or text(search(
        "detail.newEvaluationResult.evaluationResultIdentifier.evaluationResultQualifier"
        ".resourceType", event))
    rid = text(search("detail.resourceId", event)) or text(search(
        "detail.newEvaluationResult.evaluationResultIdentifier.evaluationResultQualifier"
        ".resourceId", event))
    if rtype is None or rid is None:
        raise InvalidEvent(f"Config event {env.id}: missing detail.resourceType/resourceId")
    resource = make_resource(rtype, rid, account, region)
    return Finding(source=Source.CONFIG, event_id=env.id, time=env.time, account=account,
                   region=region, kind=rule, resources=(resource,) if resource else (),
                   raw=event)

