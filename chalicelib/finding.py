"""Normalize one EventBridge event (GuardDuty, Config, CloudTrail) into a `Finding`.

Where the resource lives in each kind of event is a JMESPath table (`RESOURCE_PATHS`), not a
chain of ifs. Anything that is a well-formed EventBridge event but not for us (another
source, a COMPLIANT result, a failed API call) comes back as `Ignored` with the reason.

Example:
    >>> normalize({"id": "1", "source": "aws.s3", "detail-type": "AWS API Call via CloudTrail",
    ...            "account": "123456789012", "region": "us-east-1",
    ...            "time": "2026-01-01T00:00:00Z",
    ...            "detail": {"eventName": "DeleteBucketEncryption",
    ...                       "eventSource": "s3.amazonaws.com",
    ...                       "requestParameters": {"bucketName": "b"}}}).resource.arn
    'arn:aws:s3:::b'

Raises:
    InvalidEvent: the input is not a well-formed EventBridge event (never anything else).
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any

import jmespath
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chalicelib.errors import InvalidEvent


class Source(StrEnum):
    GUARDDUTY = "guardduty"
    CONFIG = "config"
    CLOUDTRAIL = "cloudtrail"


MAX_EVENT_BYTES = 1024 * 1024  # 4 x EventBridge's own 256 KiB maximum
MAX_EVENT_DEPTH = 64  # real events nest < 15 levels; beyond this is hostile or broken

AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$", description="a 12-digit AWS account id")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", max_length=32,
                              description="an AWS region name, e.g. us-east-1")]


class Resource(BaseModel):
    """The AWS resource a finding is about."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(description="CloudFormation type, e.g. AWS::S3::Bucket")
    id: str = Field(description="name or id as the event gives it, e.g. a bucket name")
    arn: str | None = Field(default=None, description="ARN when it can be derived")
    tags: dict[str, str] = Field(default_factory=dict, description="tags the event carried")

    @property
    def display(self) -> str:
        return self.arn or f"{self.type}/{self.id}"


class Finding(BaseModel):
    """One normalized finding, whatever its source."""

    model_config = ConfigDict(frozen=True)

    source: Source
    event_id: str = Field(description="the EventBridge event id (dedupe key)")
    time: dt.datetime
    account: AccountId = Field(description="account the resource lives in")
    region: Region = Field(description="region the resource lives in")
    kind: str = Field(description="GuardDuty type, Config rule name or CloudTrail eventName")
    resources: tuple[Resource, ...] = Field(default=(), description=(
        "what the finding is about: usually one resource; a GuardDuty S3 finding may name "
        "several buckets (one result each)"))
    severity: float | None = Field(default=None, description="GuardDuty severity 0-10")
    actor: str | None = Field(default=None, description=(
        "who made the change: an ARN, or for a GuardDuty assumed-role session its principal "
        "id (role id:session name)"))
    actor_role: str | None = Field(default=None, description="role ARN behind an assumed role")
    actor_key: str | None = Field(default=None, description=(
        "the access key GuardDuty saw being used (an id, never a secret)"))
    source_ids: tuple[str, ...] = Field(default=(), description="finding / CloudTrail event ids")
    raw: dict[str, Any] = Field(repr=False, description="the event as received")

    @property
    def resource(self) -> Resource | None:
        """The (first) resource; `each()` gives one finding per resource."""
        return self.resources[0] if self.resources else None

    def each(self) -> list[Finding]:
        """One finding per resource (itself when it names one or none)."""
        if len(self.resources) < 2:
            return [self]
        return [self.model_copy(update={"resources": (r,)}) for r in self.resources]


class Ignored(BaseModel):
    """A well-formed event that asks nothing of us, and why."""

    event_id: str
    reason: str


def _check_shape(event: dict[str, Any]) -> None:
    """Depth and size limits, walked without recursion so hostile nesting cannot crash us.

    Raises:
        ValueError: nested deeper than MAX_EVENT_DEPTH, larger than MAX_EVENT_BYTES as
            UTF-8 JSON, or holding text that is not valid Unicode (lone surrogates).
    """
    stack: list[tuple[Any, int]] = [(event, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_EVENT_DEPTH:
            raise ValueError(f"nested deeper than {MAX_EVENT_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    try:
        size = len(json.dumps(event, ensure_ascii=False, default=str).encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("holds text that is not valid Unicode") from None
    if size > MAX_EVENT_BYTES:
        raise ValueError(f"{size} bytes; the limit is {MAX_EVENT_BYTES} (1 MiB)")


class _Envelope(BaseModel):
    """EventBridge's envelope, checked before anything reads the detail."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=256)
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=256)
    account: AccountId
    region: Region
    time: dt.datetime
    detail: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _check_shape(data)
        return data


_S3 = "AWS::S3::Bucket"
_S3_NAME = "detail.requestParameters.bucketName"
_TRAIL = "AWS::CloudTrail::Trail"
_RECORDER = "AWS::Config::ConfigurationRecorder"
_DETECTOR = "AWS::GuardDuty::Detector"
_LOGS = "AWS::Logs::LogGroup"
_KEY = "AWS::KMS::Key"
_QUEUE = "AWS::SQS::Queue"
_TOPIC = "AWS::SNS::Topic"
_FUNCTION = "AWS::Lambda::Function"
_SG = "AWS::EC2::SecurityGroup"
_VPC = "AWS::EC2::VPC"
_SNAPSHOT = "AWS::EC2::Snapshot"
_DB = "AWS::RDS::DBInstance"
_DB_SNAPSHOT = "AWS::RDS::DBSnapshot"
_CLUSTER_SNAPSHOT = "AWS::RDS::DBClusterSnapshot"
ACCOUNT = "AWS::::Account"  # an account-level setting, per region: id "<account>/<region>"
ACCESS_KEY = "AWS::IAM::AccessKey"  # id "<user name>/<access key id>"

# (source, kind) -> (resource type, JMESPath to the resource id). Config events name both
# in detail.resourceType / detail.resourceId, so they need no row.
RESOURCE_PATHS: dict[tuple[Source, str], tuple[str, str]] = {
    (Source.CLOUDTRAIL, "PutBucketPolicy"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "DeleteBucketPolicy"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "PutBucketAcl"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "PutBucketPublicAccessBlock"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "DeleteBucketPublicAccessBlock"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "PutBucketEncryption"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "DeleteBucketEncryption"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "CreateBucket"): (_S3, _S3_NAME),
    (Source.CLOUDTRAIL, "CreatePolicy"): ("AWS::IAM::Policy", "detail.responseElements.policy.arn"),
    (Source.CLOUDTRAIL, "CreatePolicyVersion"): ("AWS::IAM::Policy",
                                                 "detail.requestParameters.policyArn"),
    (Source.CLOUDTRAIL, "PutRolePolicy"): ("AWS::IAM::Role", "detail.requestParameters.roleName"),
    (Source.CLOUDTRAIL, "PutUserPolicy"): ("AWS::IAM::User", "detail.requestParameters.userName"),
    (Source.CLOUDTRAIL, "PutGroupPolicy"): ("AWS::IAM::Group",
                                            "detail.requestParameters.groupName"),
    (Source.CLOUDTRAIL, "AttachRolePolicy"): ("AWS::IAM::Role",
                                              "detail.requestParameters.roleName"),
    (Source.CLOUDTRAIL, "AttachUserPolicy"): ("AWS::IAM::User",
                                              "detail.requestParameters.userName"),
    (Source.CLOUDTRAIL, "AttachGroupPolicy"): ("AWS::IAM::Group",
                                               "detail.requestParameters.groupName"),
    # the audit trail
    (Source.CLOUDTRAIL, "StopLogging"): (_TRAIL, "detail.requestParameters.name"),
    (Source.CLOUDTRAIL, "UpdateTrail"): (_TRAIL, "detail.requestParameters.name"),
    (Source.CLOUDTRAIL, "DeleteTrail"): (_TRAIL, "detail.requestParameters.name"),
    (Source.CLOUDTRAIL, "StopConfigurationRecorder"): (
        _RECORDER, "detail.requestParameters.configurationRecorderName"),
    (Source.CLOUDTRAIL, "DeleteDetector"): (_DETECTOR, "detail.requestParameters.detectorId"),
    (Source.CLOUDTRAIL, "UpdateDetector"): (_DETECTOR, "detail.requestParameters.detectorId"),
    (Source.CLOUDTRAIL, "PutRetentionPolicy"): (_LOGS, "detail.requestParameters.logGroupName"),
    (Source.CLOUDTRAIL, "CreateLogGroup"): (_LOGS, "detail.requestParameters.logGroupName"),
    (Source.CLOUDTRAIL, "DisassociateKmsKey"): (_LOGS, "detail.requestParameters.logGroupName"),
    # keys and encryption at rest
    (Source.CLOUDTRAIL, "DisableKeyRotation"): (_KEY, "detail.requestParameters.keyId"),
    (Source.CLOUDTRAIL, "ScheduleKeyDeletion"): (_KEY, "detail.requestParameters.keyId"),
    (Source.CLOUDTRAIL, "DisableKey"): (_KEY, "detail.requestParameters.keyId"),
    (Source.CLOUDTRAIL, "CreateKey"): (_KEY, "detail.responseElements.keyMetadata.arn"),
    (Source.CLOUDTRAIL, "DisableEbsEncryptionByDefault"): (ACCOUNT, "detail.recipientAccountId"),
    (Source.CLOUDTRAIL, "CreateQueue"): (_QUEUE, "detail.responseElements.queueUrl"),
    (Source.CLOUDTRAIL, "SetQueueAttributes"): (_QUEUE, "detail.requestParameters.queueUrl"),
    (Source.CLOUDTRAIL, "CreateTopic"): (_TOPIC, "detail.responseElements.topicArn"),
    (Source.CLOUDTRAIL, "SetTopicAttributes"): (_TOPIC, "detail.requestParameters.topicArn"),
    (Source.CLOUDTRAIL, "CreateFunction20150331"): (_FUNCTION,
                                                    "detail.responseElements.functionArn"),
    (Source.CLOUDTRAIL, "UpdateFunctionConfiguration20150331v2"): (
        _FUNCTION, "detail.requestParameters.functionName"),
    (Source.CLOUDTRAIL, "CreateCacheCluster"): ("AWS::ElastiCache::CacheCluster",
                                                "detail.requestParameters.cacheClusterId"),
    (Source.CLOUDTRAIL, "CreateReplicationGroup"): (
        "AWS::ElastiCache::ReplicationGroup", "detail.requestParameters.replicationGroupId"),
    # network paths and public copies
    (Source.CLOUDTRAIL, "AuthorizeSecurityGroupIngress"): (_SG, "detail.requestParameters.groupId"),
    (Source.CLOUDTRAIL, "AuthorizeSecurityGroupEgress"): (_SG, "detail.requestParameters.groupId"),
    (Source.CLOUDTRAIL, "CreateVpc"): (_VPC, "detail.responseElements.vpc.vpcId"),
    (Source.CLOUDTRAIL, "DeleteFlowLogs"): (ACCOUNT, "detail.recipientAccountId"),
    (Source.CLOUDTRAIL, "ModifySnapshotAttribute"): (_SNAPSHOT,
                                                     "detail.requestParameters.snapshotId"),
    (Source.CLOUDTRAIL, "ModifyDBSnapshotAttribute"): (
        _DB_SNAPSHOT, "detail.requestParameters.dBSnapshotIdentifier"),
    (Source.CLOUDTRAIL, "ModifyDBClusterSnapshotAttribute"): (
        _CLUSTER_SNAPSHOT, "detail.requestParameters.dBClusterSnapshotIdentifier"),
    (Source.CLOUDTRAIL, "ModifyDBInstance"): (_DB, "detail.requestParameters.dBInstanceIdentifier"),
    (Source.CLOUDTRAIL, "CreateDBInstance"): (_DB, "detail.requestParameters.dBInstanceIdentifier"),
    (Source.CLOUDTRAIL, "PutAccountPublicAccessBlock"): (ACCOUNT, "detail.recipientAccountId"),
    (Source.CLOUDTRAIL, "DeleteAccountPublicAccessBlock"): (ACCOUNT,
                                                            "detail.recipientAccountId"),
}

# GuardDuty findings about a setting rather than the key that changed it: the resource is
# the one named in affectedResources, else the account (every such resource in the region).
GUARDDUTY_AFFECTED = {"Stealth:IAMUser/CloudTrailLoggingDisabled": _TRAIL}

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

_COMPILED: dict[str, Any] = {}


def _search(path: str, data: dict[str, Any]) -> Any:
    if path not in _COMPILED:
        _COMPILED[path] = jmespath.compile(path)
    return _COMPILED[path].search(data)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# type -> ARN of a resource named by id, for the types whose sources name them by id
_ARNS = {
    _S3: "arn:aws:s3:::{id}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::IAM::User": "arn:aws:iam::{account}:user/{id}",
    "AWS::IAM::Group": "arn:aws:iam::{account}:group/{id}",
    _TRAIL: "arn:aws:cloudtrail:{region}:{account}:trail/{id}",
    _RECORDER: "arn:aws:config:{region}:{account}:configuration-recorder/{id}",
    _DETECTOR: "arn:aws:guardduty:{region}:{account}:detector/{id}",
    _LOGS: "arn:aws:logs:{region}:{account}:log-group:{id}",
    _KEY: "arn:aws:kms:{region}:{account}:key/{id}",
    _QUEUE: "arn:aws:sqs:{region}:{account}:{id}",
    _TOPIC: "arn:aws:sns:{region}:{account}:{id}",
    _FUNCTION: "arn:aws:lambda:{region}:{account}:function:{id}",
    _SG: "arn:aws:ec2:{region}:{account}:security-group/{id}",
    _VPC: "arn:aws:ec2:{region}:{account}:vpc/{id}",
    _SNAPSHOT: "arn:aws:ec2:{region}::snapshot/{id}",
    _DB: "arn:aws:rds:{region}:{account}:db:{id}",
    _DB_SNAPSHOT: "arn:aws:rds:{region}:{account}:snapshot:{id}",
    _CLUSTER_SNAPSHOT: "arn:aws:rds:{region}:{account}:cluster-snapshot:{id}",
}


def _arn_for(rtype: str, rid: str, account: str, region: str) -> str | None:
    if rid.startswith("arn:"):
        return rid
    if rtype == _QUEUE and "://" in rid:  # a queue URL: the name is its last segment
        rid = rid.rstrip("/").rsplit("/", 1)[-1]
    if rtype == _KEY and rid.startswith("alias/"):
        return f"arn:aws:kms:{region}:{account}:{rid}"
    pattern = _ARNS.get(rtype)
    return pattern.format(id=rid, account=account, region=region) if pattern else None


def account_resource(account: str, region: str) -> Resource:
    """An account-level setting in one region (EBS default encryption, every trail)."""
    return Resource(type=ACCOUNT, id=f"{account}/{region}")


def _tag_map(tags: Any) -> dict[str, str]:
    """GuardDuty's [{"key": k, "value": v}] as a dict; anything malformed is skipped."""
    if not isinstance(tags, list):
        return {}
    return {t["key"]: t["value"] for t in tags if isinstance(t, dict)
            and isinstance(t.get("key"), str) and isinstance(t.get("value"), str)}


def _resource(rtype: str | None, rid: Any, account: str, region: str,
              tags: dict[str, str] | None = None) -> Resource | None:
    if rtype == ACCOUNT:
        return account_resource(account, region)
    rid = _text(rid)
    if not rtype or rid is None:
        return None
    return Resource(type=rtype, id=rid, arn=_arn_for(rtype, rid, account, region),
                    tags=tags or {})


def parse(data: str | bytes) -> dict[str, Any]:
    """Parse JSON text into an event dict; `InvalidEvent` if it is not a JSON object, is
    larger than MAX_EVENT_BYTES or nests too deeply to parse."""
    if len(data) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"not an EventBridge event: {len(data)} bytes; the limit is "
                           f"{MAX_EVENT_BYTES} (1 MiB; EventBridge's own is 256 KiB)")
    try:
        event = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    except RecursionError:
        raise InvalidEvent("not an EventBridge event: JSON nested too deeply to read "
                           f"(the limit is {MAX_EVENT_DEPTH} levels)") from None
    if not isinstance(event, dict):
        raise InvalidEvent(f"not an EventBridge event: a JSON {type(event).__name__}, "
                           "not an object")
    return event


def normalize(event: Any) -> Finding | Ignored:
    """One EventBridge event in, one `Finding` (or `Ignored`) out.

    Raises:
        InvalidEvent: not a dict, or an EventBridge envelope/detail field is missing or wrong.
    """
    if not isinstance(event, dict):
        raise InvalidEvent(f"not an EventBridge event: expected an object, got "
                           f"{type(event).__name__}")
    try:
        env = _Envelope.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(f"not an EventBridge event: {_first_error(exc)}") from None
    try:
        if env.detail_type == "GuardDuty Finding" and env.source == "aws.guardduty":
            return _guardduty(env, event)
        if env.detail_type == "Config Rules Compliance Change" and env.source == "aws.config":
            return _config(env, event)
        if env.detail_type == "AWS API Call via CloudTrail":
            return _cloudtrail(env, event)
    except ValidationError as exc:  # e.g. a detail.region that is no AWS region
        raise InvalidEvent(f"{env.detail_type} event {env.id}: {_first_error(exc)}") from None
    return Ignored(event_id=env.id, reason=f"no pipeline for {env.source} / {env.detail_type}")


def _first_error(exc: ValidationError) -> str:
    """The first problem as `where: what`, with the offending value cut short."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    shown = repr(first.get("input"))
    value = f" (got {shown[:60]}{'…' if len(shown) > 60 else ''})" if first["loc"] else ""
    return f"{where}: {first['msg']}{value}"


def _require(env: _Envelope, path: str, event: dict[str, Any]) -> str:
    value = _text(_search(path, event))
    if value is None:
        raise InvalidEvent(f"{env.detail_type} event {env.id}: missing or empty {path}")
    return value


def _guardduty(env: _Envelope, event: dict[str, Any]) -> Finding:
    kind = _require(env, "detail.type", event)
    account = _text(_search("detail.accountId", event)) or env.account
    region = _text(_search("detail.region", event)) or env.region
    severity = _search("detail.severity", event)
    if isinstance(severity, bool) or not isinstance(severity, int | float):
        raise InvalidEvent(f"GuardDuty Finding {env.id}: detail.severity must be a number")
    resources, actor = _guardduty_subjects(kind, event, account, region)
    finding_id = _text(_search("detail.id", event))
    return Finding(source=Source.GUARDDUTY, event_id=env.id, time=env.time, account=account,
                   region=region, kind=kind, resources=resources, severity=float(severity),
                   source_ids=(finding_id,) if finding_id else (), raw=event, **actor)


def _guardduty_subjects(kind: str, event: dict[str, Any], account: str,
                        region: str) -> tuple[tuple[Resource, ...], dict[str, str | None]]:
    """(resources, actor fields) of a GuardDuty finding.

    S3 finding types are about buckets whatever `resourceType` says: from CloudTrail
    management events it is `AccessKey`, and the bucket(s) are in `s3BucketDetails` while
    `accessKeyDetails` names who did it. Other access-key findings are about the principal:
    an IAM user, or for an assumed-role session the role (`arn:…:role/NAME`, never a user
    ARN) with the session's principal id as the actor.
    """
    gd_type = _text(_search("detail.resource.resourceType", event))
    key = _search("detail.resource.accessKeyDetails", event)
    principal, actor = _access_key_principal(key if isinstance(key, dict) else {}, account)
    if kind in GUARDDUTY_AFFECTED:
        rtype = GUARDDUTY_AFFECTED[kind]
        affected = _search("detail.service.action.awsApiCallAction.affectedResources", event)
        trail = _resource(rtype, affected.get(rtype) if isinstance(affected, dict) else None,
                          account, region)
        return (trail or account_resource(account, region),), actor
    buckets = _search("detail.resource.s3BucketDetails", event)
    if ":S3/" in kind and isinstance(buckets, list):
        named: dict[str, Resource] = {}
        for bucket in buckets:
            found = _resource(_S3, bucket.get("name"), account, region,
                              _tag_map(bucket.get("tags"))) if isinstance(bucket, dict) else None
            if found is not None:
                named.setdefault(found.id, found)
        if named:
            return tuple(named.values()), actor
    if gd_type == "AccessKey":
        return ((principal,) if principal else ()), actor
    if gd_type in GUARDDUTY_RESOURCES:
        rtype, path = GUARDDUTY_RESOURCES[gd_type]
        tags = _search(GUARDDUTY_TAGS[gd_type], event) if gd_type in GUARDDUTY_TAGS else None
        found_one = _resource(rtype, _search(path, event), account, region, _tag_map(tags))
        return ((found_one,) if found_one else ()), actor
    if gd_type:
        other = _resource(f"GuardDuty::{gd_type}", _search("detail.arn", event) or gd_type,
                          account, region)
        return ((other,) if other else ()), actor
    return (), actor


def _access_key_principal(key: dict[str, Any], account: str) -> tuple[
        Resource | None, dict[str, str | None]]:
    """The principal behind GuardDuty's `accessKeyDetails`, and the actor fields."""
    name, user_type = _text(key.get("userName")), _text(key.get("userType"))
    key_id, principal_id = _text(key.get("accessKeyId")), _text(key.get("principalId"))
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


def _config(env: _Envelope, event: dict[str, Any]) -> Finding | Ignored:
    rule = _require(env, "detail.configRuleName", event)
    compliance = _require(env, "detail.newEvaluationResult.complianceType", event)
    if compliance != "NON_COMPLIANT":
        return Ignored(event_id=env.id, reason=f"Config result {compliance} for {rule}")
    account = _text(_search("detail.awsAccountId", event)) or env.account
    region = _text(_search("detail.awsRegion", event)) or env.region
    rtype = _text(_search("detail.resourceType", event)) or _text(_search(
        "detail.newEvaluationResult.evaluationResultIdentifier.evaluationResultQualifier"
        ".resourceType", event))
    rid = _text(_search("detail.resourceId", event)) or _text(_search(
        "detail.newEvaluationResult.evaluationResultIdentifier.evaluationResultQualifier"
        ".resourceId", event))
    if rtype is None or rid is None:
        raise InvalidEvent(f"Config event {env.id}: missing detail.resourceType/resourceId")
    resource = _resource(rtype, rid, account, region)
    return Finding(source=Source.CONFIG, event_id=env.id, time=env.time, account=account,
                   region=region, kind=rule, resources=(resource,) if resource else (),
                   raw=event)


def _cloudtrail(env: _Envelope, event: dict[str, Any]) -> Finding | Ignored:
    name = _require(env, "detail.eventName", event)
    error = _text(_search("detail.errorCode", event))
    if error is not None:
        return Ignored(event_id=env.id, reason=f"{name} failed with {error}: nothing changed")
    account = _text(_search("detail.recipientAccountId", event)) or env.account
    region = _text(_search("detail.awsRegion", event)) or env.region
    resource = None
    if (Source.CLOUDTRAIL, name) in RESOURCE_PATHS:
        rtype, path = RESOURCE_PATHS[(Source.CLOUDTRAIL, name)]
        resource = _resource(rtype, _search(path, event), account, region)
    trail_id = _text(_search("detail.eventID", event))
    return Finding(source=Source.CLOUDTRAIL, event_id=env.id, time=env.time, account=account,
                   region=region, kind=name, resources=(resource,) if resource else (),
                   actor=_text(_search("detail.userIdentity.arn", event)),
                   actor_role=_text(_search(
                       "detail.userIdentity.sessionContext.sessionIssuer.arn", event)),
                   source_ids=(trail_id,) if trail_id else (), raw=event)
