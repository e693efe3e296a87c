"""GuardDuty findings ("GuardDuty Finding" from aws.guardduty) as `Finding`s.

The resource comes from `detail.resource` by `resourceType`, with two refinements: S3
finding types are about their buckets (`s3BucketDetails`) whatever `resourceType` says,
and access-key findings are about the principal's key or role, with the session as actor.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import InvalidEvent
from chalicelib.finding import (
    ACCESS_KEY,
    S3_BUCKET,
    TRAIL,
    Envelope,
    Finding,
    Resource,
    Source,
    account_resource,
    make_resource,
    require,
    search,
    tag_map,
    text,
)

# GuardDuty findings about a setting rather than the key that changed it: the resource is
# the one named in affectedResources, else the account (every such resource in the region).
GUARDDUTY_AFFECTED = {"Stealth:IAMUser/CloudTrailLoggingDisabled": TRAIL}

# GuardDuty: detail.resource.resourceType -> (resource type, JMESPath to the id); tags, where
# GuardDuty reports them, sit beside the id as [{"key", "value"}]. AccessKey and S3 findings
# need more than a path: see `_guardduty_subjects`.
GUARDDUTY_TAGS = {"Instance": "detail.resource.instanceDetails.tags"}

GUARDDUTY_RESOURCES: dict[str, tuple[str, str]] = {
    "Instance": ("AWS::EC2::Instance", "detail.resource.instanceDetails.instanceId"),
    "EKSCluster": ("AWS::EKS::Cluster", "detail.resource.eksClusterDetails.name"),
    "RDSDBInstance": ("AWS::RDS::DBInstance",
                      "detail.resource.rdsDbInstanceDetails.dbInstanceIdentifier"),
    "Lambda": ("AWS::Lambda::Function", "detail.resource.lambdaDetails.functionName"),
}


def normalize(env: Envelope, event: dict[str, Any]) -> Finding:
    kind = require(env, "detail.type", event)
    account = text(search("detail.accountId", event)) or env.account
    region = text(search("detail.region", event)) or env.region
    severity = search("detail.severity", event)
    if isinstance(severity, bool) or not isinstance(severity, int | float):
        raise InvalidEvent(f"GuardDuty Finding {env.id}: detail.severity must be a number")
    resources, actor = _guardduty_subjects(kind, event, account, region)
    finding_id = text(search("detail.id", event))
    return Finding(source=Source.GUARDDUTY, event_id=env.id, time=env.time, account=account,
                   region=region, kind=kind, resources=resources, severity=float(severity),
                   source_ids=(finding_id,) if finding_id else (), raw=event,
                   finding_key=f"guardduty:{finding_id}" if finding_id else None,
                   product="GuardDuty",
                   actor=actor["actor"], actor_role=actor["actor_role"],
                   actor_key=actor["actor_key"])


def _guardduty_subjects(kind: str, event: dict[str, Any], account: str,
                        region: str) -> tuple[tuple[Resource, ...], dict[str, str | None]]:
    """(resources, actor fields) of a GuardDuty finding.

    S3 finding types are about buckets whatever `resourceType` says: from CloudTrail
    management events it is `AccessKey`, and the bucket(s) are in `s3BucketDetails` while
    `accessKeyDetails` names who did it. Other access-key findings are about the principal:
    an IAM user, or for an assumed-role session the role (`arn:…:role/NAME`, never a user
    ARN) with the session's principal id as the actor.
    """
    gd_type = text(search("detail.resource.resourceType", event))
    key = search("detail.resource.accessKeyDetails", event)
    principal, actor = _access_key_principal(key if isinstance(key, dict) else {}, account)
    if kind in GUARDDUTY_AFFECTED:
        rtype = GUARDDUTY_AFFECTED[kind]
        affected = search("detail.service.action.awsApiCallAction.affectedResources", event)
        trail = make_resource(rtype, affected.get(rtype) if isinstance(affected, dict) else None,
                          account, region)
        return (trail or account_resource(account, region),), actor
    buckets = search("detail.resource.s3BucketDetails", event)
    if ":S3/" in kind and isinstance(buckets, list):
        named: dict[str, Resource] = {}
        for bucket in buckets:
            found = make_resource(S3_BUCKET, bucket.get("name"), account, region,
                              tag_map(bucket.get("tags"))) if isinstance(bucket, dict) else None
            if found is not None:
                named.setdefault(found.id, found)
        if named:
            return tuple(named.values()), actor
    if gd_type == "AccessKey":
        return ((principal,) if principal else ()), actor
    if gd_type in GUARDDUTY_RESOURCES:
        rtype, path = GUARDDUTY_RESOURCES[gd_type]
        tags = search(GUARDDUTY_TAGS[gd_type], event) if gd_type in GUARDDUTY_TAGS else None
        found_one = make_resource(rtype, search(path, event), account, region, tag_map(tags))
        return ((found_one,) if found_one else ()), actor
    if gd_type:
        other = make_resource(f"GuardDuty::{gd_type}", search("detail.arn", event) or gd_type,
                          account, region)
        return ((other,) if other else ()), actor
    return (), actor


def _access_key_principal(key: dict[str, Any], account: str) -> tuple[
        Resource | None, dict[str, str | None]]:
    """The principal behind GuardDuty's `accessKeyDetails`, and the actor fields."""
    name, user_type = text(key.get("userName")), text(key.get("userType"))
    key_id, principal_id = text(key.get("accessKeyId")), text(key.get("principalId"))
    actor: dict[str, str | None] = {"actor": None, "actor_role": None, "actor_key": key_id}
    if name is None:
        return None, actor
    if user_type == "AssumedRole":
        arn = f"arn:aws:iam::{account}:role/{name}"
        actor.update(actor=principal_id or arn, actor_role=arn)
        return Resource(type="AWS::IAM::Role", id=name, arn=arn), actor
    if user_type == "Root":
        arn = f"arn:aws:iam::{account}:root"
        actor.update(actor=arn)
        return Resource(type="AWS::IAM::Root", id=account, arn=arn), actor
    if user_type == "FederatedUser":
        arn = f"arn:aws:sts::{account}:federated-user/{name}"
        actor.update(actor=arn)
        return Resource(type="AWS::STS::FederatedUser", id=name, arn=arn), actor
    arn = f"arn:aws:iam::{account}:user/{name}"  # IAMUser (and anything GuardDuty adds)
    actor.update(actor=arn)
    if key_id:  # a user's long-term key: the key itself is what a containment acts on
        return Resource(type=ACCESS_KEY, id=f"{name}/{key_id}"), actor
    return Resource(type="AWS::IAM::User", id=name, arn=arn), actor

