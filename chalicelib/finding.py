"""Normalize one EventBridge event into a `Finding`: the models, the envelope's checks
(size, depth, account, region) and what the sources share; each source's own reading is
a module of `chalicelib.sources` (GuardDuty, Config, CloudTrail, CloudWatch alarms,
Security Hub).

Anything that is a well-formed EventBridge event but not for us (another source, a
COMPLIANT result, a failed API call) comes back as `Ignored` with the reason.

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
    CLOUDWATCH = "cloudwatch"
    SECURITYHUB = "securityhub"


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
    cleared: bool = Field(default=False, description=(
        "the condition ended (an alarm back to OK): recorded on the open incident, "
        "nothing opened or changed"))
    finding_key: str | None = Field(default=None, description=(
        "the underlying finding's identity, the same for its native and its Security Hub "
        "copy (e.g. guardduty:<finding id>): one of the two acts, the other is a duplicate"))
    product: str | None = Field(default=None, description=(
        "the product that produced the finding (Security Hub ProductName, e.g. GuardDuty)"))
    generator: str | None = Field(default=None, description=(
        "Security Hub GeneratorId (a policy's kinds may name it instead of a control id)"))
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


class Envelope(BaseModel):
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


S3_BUCKET = "AWS::S3::Bucket"
S3_NAME = "detail.requestParameters.bucketName"
TRAIL = "AWS::CloudTrail::Trail"
RECORDER = "AWS::Config::ConfigurationRecorder"
DETECTOR = "AWS::GuardDuty::Detector"
LOG_GROUP = "AWS::Logs::LogGroup"
KMS_KEY = "AWS::KMS::Key"
QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
FUNCTION = "AWS::Lambda::Function"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
VPC = "AWS::EC2::VPC"
EBS_SNAPSHOT = "AWS::EC2::Snapshot"
DB_INSTANCE = "AWS::RDS::DBInstance"
DB_SNAPSHOT = "AWS::RDS::DBSnapshot"
CLUSTER_SNAPSHOT = "AWS::RDS::DBClusterSnapshot"
ACCOUNT = "AWS::::Account"  # an account-level setting, per region: id "<account>/<region>"
ALARM = "AWS::CloudWatch::Alarm"
ACCESS_KEY = "AWS::IAM::AccessKey"  # id "<user name>/<access key id>"
IAM_POLICY = "AWS::IAM::Policy"
IAM_ROLE = "AWS::IAM::Role"
VOLUME = "AWS::EC2::Volume"


_COMPILED: dict[str, Any] = {}


def search(path: str, data: dict[str, Any]) -> Any:
    if path not in _COMPILED:
        _COMPILED[path] = jmespath.compile(path)
    return _COMPILED[path].search(data)


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# type -> ARN of a resource named by id, for the types whose sources name them by id
_ARNS = {
    S3_BUCKET: "arn:aws:s3:::{id}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::IAM::User": "arn:aws:iam::{account}:user/{id}",
    "AWS::IAM::Group": "arn:aws:iam::{account}:group/{id}",
    TRAIL: "arn:aws:cloudtrail:{region}:{account}:trail/{id}",
    RECORDER: "arn:aws:config:{region}:{account}:configuration-recorder/{id}",
    DETECTOR: "arn:aws:guardduty:{region}:{account}:detector/{id}",
    LOG_GROUP: "arn:aws:logs:{region}:{account}:log-group:{id}",
    KMS_KEY: "arn:aws:kms:{region}:{account}:key/{id}",
    QUEUE: "arn:aws:sqs:{region}:{account}:{id}",
    TOPIC: "arn:aws:sns:{region}:{account}:{id}",
    FUNCTION: "arn:aws:lambda:{region}:{account}:function:{id}",
    SECURITY_GROUP: "arn:aws:ec2:{region}:{account}:security-group/{id}",
    VPC: "arn:aws:ec2:{region}:{account}:vpc/{id}",
    EBS_SNAPSHOT: "arn:aws:ec2:{region}::snapshot/{id}",
    DB_INSTANCE: "arn:aws:rds:{region}:{account}:db:{id}",
    DB_SNAPSHOT: "arn:aws:rds:{region}:{account}:snapshot:{id}",
    CLUSTER_SNAPSHOT: "arn:aws:rds:{region}:{account}:cluster-snapshot:{id}",
    ALARM: "arn:aws:cloudwatch:{region}:{account}:alarm:{id}",
    # the HIPAA pack, detection and logging (alphabetic)
    "AWS::ACM::Certificate": "arn:aws:acm:{region}:{account}:certificate/{id}",
    "AWS::EC2::VPNConnection": "arn:aws:ec2:{region}:{account}:vpn-connection/{id}",
}


def _arn_for(rtype: str, rid: str, account: str, region: str) -> str | None:
    if rid.startswith("arn:"):
        return rid
    if rtype == QUEUE and "://" in rid:  # a queue URL: the name is its last segment
        rid = rid.rstrip("/").rsplit("/", 1)[-1]
    if rtype == KMS_KEY and rid.startswith("alias/"):
        return f"arn:aws:kms:{region}:{account}:{rid}"
    pattern = _ARNS.get(rtype)
    return pattern.format(id=rid, account=account, region=region) if pattern else None


def account_resource(account: str, region: str) -> Resource:
    """An account-level setting in one region (EBS default encryption, every trail)."""
    return Resource(type=ACCOUNT, id=f"{account}/{region}")


def tag_map(tags: Any) -> dict[str, str]:
    """GuardDuty's [{"key": k, "value": v}] as a dict; anything malformed is skipped."""
    if not isinstance(tags, list):
        return {}
    return {t["key"]: t["value"] for t in tags if isinstance(t, dict)
            and isinstance(t.get("key"), str) and isinstance(t.get("value"), str)}


def make_resource(rtype: str | None, rid: Any, account: str, region: str,
              tags: dict[str, str] | None = None) -> Resource | None:
    if rtype == ACCOUNT:
        return account_resource(account, region)
    rid = text(rid)
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
        env = Envelope.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(f"not an EventBridge event: {first_error(exc)}") from None
    from chalicelib.sources import parser_for

    parser = parser_for(env.source, env.detail_type)
    if parser is None:
        return Ignored(event_id=env.id,
                       reason=f"no pipeline for {env.source} / {env.detail_type}")
    try:
        return parser(env, event)
    except ValidationError as exc:  # e.g. a detail.region that is no AWS region
        raise InvalidEvent(f"{env.detail_type} event {env.id}: {first_error(exc)}") from None


def first_error(exc: ValidationError) -> str:
    """The first problem as `where: what`, with the offending value cut short."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    shown = repr(first.get("input"))
    value = f" (got {shown[:60]}{'…' if len(shown) > 60 else ''})" if first["loc"] else ""
    return f"{where}: {first['msg']}{value}"


def require(env: Envelope, path: str, event: dict[str, Any]) -> str:
    value = text(search(path, event))
    if value is None:
        raise InvalidEvent(f"{env.detail_type} event {env.id}: missing or empty {path}")
    return value
