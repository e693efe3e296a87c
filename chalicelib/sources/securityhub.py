"""Security Hub findings ("Security Hub Findings - Imported", ASFF) as `Finding`s.

The kind is what a policy names: the security control id of a Security Hub control
finding (`Compliance.SecurityControlId`, e.g. `S3.8`, or a per-standard id such as CIS
v1.2.0 rule `2.2` or PCI DSS `PCI.S3.6` resolved through `securityhub_controls`; the id
the finding carried stays in `generator` and the raw event); for a GuardDuty finding imported into
Security Hub, its GuardDuty type (`Policy:S3/BucketAnonymousAccessGranted`, recovered from
ASFF's `Types`), so the GuardDuty policies can name it; otherwise the `GeneratorId`.
Resources come from `Resources[]` (type + id), one result per resource a policy handles.

Not findings for us: `Workflow.Status` SUPPRESSED or RESOLVED, `RecordState` ARCHIVED,
a `Compliance.Status` other than FAILED (PASSED, NOT_AVAILABLE, and WARNING: Security
Hub could not decide), a control whose per-standard id the table does not know (the
reason names the id), and the echo of our own write-back (Security
Hub emits an Imported event for every `BatchUpdateFindings`; ours carries our note and
leaves `UpdatedAt` alone, so a note of ours at or after `UpdatedAt` is that echo).

Security Hub sends one finding per event (AWS's event format); an event with several is
refused as malformed rather than half-handled.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from chalicelib.errors import InvalidEvent
from chalicelib.finding import (
    ACCESS_KEY,
    ACCOUNT,
    CLUSTER_SNAPSHOT,
    DB_INSTANCE,
    DB_SNAPSHOT,
    EBS_SNAPSHOT,
    FUNCTION,
    IAM_POLICY,
    IAM_ROLE,
    KMS_KEY,
    LOG_GROUP,
    QUEUE,
    S3_BUCKET,
    SECURITY_GROUP,
    TOPIC,
    TRAIL,
    VOLUME,
    VPC,
    Envelope,
    Finding,
    Ignored,
    Resource,
    Source,
    account_resource,
    make_resource,
    search,
    text,
)
from chalicelib.sources import ENVELOPES
from chalicelib.sources.securityhub_controls import Control, resolve

DETAIL_TYPE = ENVELOPES["securityhub"][1]
WRITEBACK_BY = "autoremediate"  # Note.UpdatedBy on every finding we update

# ASFF resource type -> CloudFormation type; the id is the ASFF id (an ARN), from which
# `_name` takes the name Config would give (bucket name, sg-…, key id, …)
ASFF_TYPES: dict[str, str] = {
    "AwsS3Bucket": S3_BUCKET,
    "AwsAccount": ACCOUNT,
    "AwsEc2SecurityGroup": SECURITY_GROUP,
    "AwsEc2Vpc": VPC,
    "AwsEc2Volume": VOLUME,
    "AwsEc2Snapshot": EBS_SNAPSHOT,
    "AwsKmsKey": KMS_KEY,
    "AwsCloudTrailTrail": TRAIL,
    "AwsRdsDbInstance": DB_INSTANCE,
    "AwsRdsDbSnapshot": DB_SNAPSHOT,
    "AwsRdsDbClusterSnapshot": CLUSTER_SNAPSHOT,
    "AwsIamPolicy": IAM_POLICY,
    "AwsIamRole": IAM_ROLE,
    "AwsSnsTopic": TOPIC,
    "AwsSqsQueue": QUEUE,
    "AwsLambdaFunction": FUNCTION,
    "AwsLogsLogGroup": LOG_GROUP,
}
# ARN separator before the resource's name, per type (":" for RDS, SNS, SQS, Lambda)
_COLON_NAMED = {DB_INSTANCE, DB_SNAPSHOT, CLUSTER_SNAPSHOT, TOPIC, QUEUE, FUNCTION,
                LOG_GROUP}
_IGNORED_WORKFLOW = ("SUPPRESSED", "RESOLVED")
_GUARDDUTY_FINDING = re.compile(r"^arn:aws[a-z-]*:guardduty:[^:]*:[0-9]*:detector/[^/]+"
                                r"/finding/(?P<id>[^/]+)$")


def normalize(env: Envelope, event: dict[str, Any]) -> Finding | Ignored:
    asff = _the_finding(env, event.get("detail", {}).get("findings"))
    fid = text(asff.get("Id"))
    if fid is None:
        raise InvalidEvent(f"{DETAIL_TYPE} event {env.id}: missing or empty "
                           "detail.findings[0].Id")
    workflow = text(search("Workflow.Status", asff)) or text(asff.get("WorkflowState"))
    compliance = text(search("Compliance.Status", asff))
    product = _product(asff)
    control = resolve(asff)
    label = _label(control, product)
    if workflow in _IGNORED_WORKFLOW:
        return Ignored(event_id=env.id, reason=f"{label} is {workflow}")
    if asff.get("RecordState") == "ARCHIVED":
        return Ignored(event_id=env.id, reason=f"{label} is archived")
    if compliance == "WARNING":
        return Ignored(event_id=env.id, reason=(
            f"{label} has compliance WARNING: Security Hub could not decide; only FAILED "
            "is acted on"))
    if compliance is not None and compliance != "FAILED":
        return Ignored(event_id=env.id, reason=f"{label} has compliance {compliance}")
    if _our_echo(asff):
        return Ignored(event_id=env.id, reason=(
            "Security Hub reported autoremediate's own update of the finding"))
    if control is not None and control.security_control is None:
        return Ignored(event_id=env.id, reason=(
            f"Security Hub control {control.carried}"
            f"{f' ({control.standard})' if control.standard else ''} is not one we handle"))
    account = text(asff.get("AwsAccountId")) or env.account
    region = text(asff.get("Region")) or env.region
    generator = text(asff.get("GeneratorId"))
    gd_type = _guardduty_type(asff) if product == "GuardDuty" else None
    kind = (control.security_control if control else None) or gd_type or generator or product
    if kind is None:
        raise InvalidEvent(f"{DETAIL_TYPE} event {env.id}: the finding has no control id, "
                           "GeneratorId or product")
    resources, actor = _resources(asff, account, region)
    return Finding(
        source=Source.SECURITYHUB, event_id=env.id, time=env.time, account=account,
        region=region, kind=kind, resources=resources, severity=_severity(asff, product),
        source_ids=(fid,), finding_key=_finding_key(fid, product), product=product,
        generator=generator, raw=event, actor=actor["actor"], actor_role=actor["actor_role"],
        actor_key=actor["actor_key"])


def _label(control: Control | None, product: str | None) -> str:
    """How reasons name the finding: `Security Hub control S3.1 (PCI.S3.6 in
    pci-dss/v/3.2.1)`, `Security Hub finding from GuardDuty`, or `Security Hub finding`."""
    if control is not None:
        said = control.security_control or control.carried
        if control.standard_control and control.security_control:
            where = f" in {control.standard}" if control.standard else ""
            said += f" ({control.standard_control}{where})"
        return f"Security Hub control {said}"
    if product and not product.startswith("Security Hub"):
        return f"Security Hub finding from {product}"
    return "Security Hub finding"


def _the_finding(env: Envelope, findings: Any) -> dict[str, Any]:
    if not isinstance(findings, list) or not findings:
        raise InvalidEvent(f"{DETAIL_TYPE} event {env.id}: missing or empty detail.findings")
    if len(findings) > 1:
        raise InvalidEvent(f"{DETAIL_TYPE} event {env.id}: {len(findings)} findings; Security "
                           "Hub sends one finding per event")
    if not isinstance(findings[0], dict):
        raise InvalidEvent(f"{DETAIL_TYPE} event {env.id}: detail.findings[0] is not an object")
    return findings[0]


def _product(asff: dict[str, Any]) -> str | None:
    """ProductName (top level, or in ProductFields), else the ProductArn's product name."""
    name = text(asff.get("ProductName")) or text(
        search('ProductFields."aws/securityhub/ProductName"', asff))
    if name:
        return name
    arn = text(asff.get("ProductArn")) or ""
    known = {"guardduty": "GuardDuty", "securityhub": "Security Hub", "config": "Config",
             "inspector": "Inspector", "macie": "Macie", "access-analyzer": "IAM Access Analyzer"}
    return known.get(arn.rsplit("/", 1)[-1]) if "/product/aws/" in arn else None


def _guardduty_type(asff: dict[str, Any]) -> str | None:
    """The GuardDuty finding type of an imported GuardDuty finding. ASFF `Types` holds
    `namespace/category/classifier`, the classifier being the type with its "/" written
    as "-" (`TTPs/Discovery/Recon:EC2-PortProbeUnprotectedPort`); resource types
    (`EC2`, `IAMUser`, `S3`, …) never hold "-", so the first "-" after ":" is that "/"."""
    types = asff.get("Types")
    for value in types if isinstance(types, list) else []:
        last = value.rsplit("/", 1)[-1] if isinstance(value, str) else ""
        head, colon, rest = last.partition(":")
        if colon and "-" in rest:
            resource, _, name = rest.partition("-")
            return f"{head}:{resource}/{name}"
    return None


def _finding_key(fid: str, product: str | None) -> str:
    """GuardDuty's own finding id for an imported GuardDuty finding (its ASFF Id is the
    finding's ARN), so the native copy and this one share a key; else the ASFF Id."""
    if product == "GuardDuty" and (m := _GUARDDUTY_FINDING.match(fid)):
        return f"guardduty:{m.group('id')}"
    return f"securityhub:{fid}"


def _severity(asff: dict[str, Any], product: str | None) -> float | None:
    """GuardDuty's own 0-10 severity where Security Hub kept it (`Severity.Product`), else
    the normalized 0-100 label as 0-10."""
    severity = asff.get("Severity")
    if not isinstance(severity, dict):
        return None
    own, normalized = severity.get("Product"), severity.get("Normalized")
    if product == "GuardDuty" and isinstance(own, int | float) and not isinstance(own, bool):
        return float(min(max(own, 0), 10))
    if isinstance(normalized, int | float) and not isinstance(normalized, bool):
        return float(min(max(normalized, 0), 100)) / 10
    return None


def _our_echo(asff: dict[str, Any]) -> bool:
    note = asff.get("Note")
    if not isinstance(note, dict) or note.get("UpdatedBy") != WRITEBACK_BY:
        return False
    noted, updated = _instant(note.get("UpdatedAt")), _instant(asff.get("UpdatedAt"))
    return noted is not None and (updated is None or noted >= updated)


def _instant(value: Any) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _resources(asff: dict[str, Any], account: str, region: str) -> tuple[
        tuple[Resource, ...], dict[str, str | None]]:
    """One `Resource` per entry of `Resources[]` we can name (others are skipped), and the
    actor fields of an access-key finding (GuardDuty's `AwsIamAccessKey`)."""
    found: dict[str, Resource] = {}
    actor: dict[str, str | None] = {"actor": None, "actor_role": None, "actor_key": None}
    listed = asff.get("Resources")
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, dict):
            continue
        rtype, rid = text(item.get("Type")), text(item.get("Id"))
        res_region = text(item.get("Region")) or region
        if rtype == "AwsIamAccessKey":
            resource = _access_key(item, account, actor)
        elif rtype == "AwsAccount":
            resource = account_resource(account, res_region)
        elif rtype in ASFF_TYPES and rid is not None:
            cfn = ASFF_TYPES[rtype]
            resource = make_resource(cfn, _name(cfn, rid), account, res_region,
                                     _tags(item.get("Tags")))
            if resource is not None and rid.startswith("arn:"):
                resource = resource.model_copy(update={"arn": rid})
        else:
            resource = None
        if resource is not None:
            found.setdefault(resource.display, resource)
    return tuple(found.values()), actor


def _name(cfn: str, rid: str) -> str:
    """The name a native source would give (a bucket name, sg-…, a key id), from an ARN."""
    if not rid.startswith("arn:"):
        return rid
    resource = rid.split(":", 5)[5] if rid.count(":") >= 5 else rid
    if cfn in (IAM_POLICY, IAM_ROLE):
        return resource.rsplit("/", 1)[-1]
    if cfn in _COLON_NAMED:
        return resource.split(":", 1)[-1]
    return resource.rsplit("/", 1)[-1]


def _tags(tags: Any) -> dict[str, str]:
    if not isinstance(tags, dict):
        return {}
    return {k: v for k, v in tags.items() if isinstance(k, str) and isinstance(v, str)}


def _access_key(item: dict[str, Any], account: str,
                actor: dict[str, str | None]) -> Resource | None:
    """GuardDuty's credential findings in ASFF: the key's principal as the native source
    names it (a user's key `user/AKIA…`, or an assumed role's role ARN)."""
    details = search("Details.AwsIamAccessKey", item)
    details = details if isinstance(details, dict) else {}
    name = text(details.get("PrincipalName")) or text(details.get("UserName"))
    kind = text(details.get("PrincipalType"))
    rid = text(item.get("Id")) or ""
    key_id = rid.rsplit(":", 1)[-1] if rid.startswith("AWS::IAM::AccessKey:") else None
    actor["actor_key"] = key_id
    if name is None:
        return None
    if kind == "AssumedRole":
        arn = f"arn:aws:iam::{account}:role/{name}"
        actor.update(actor=text(details.get("PrincipalId")) or arn, actor_role=arn)
        return Resource(type=IAM_ROLE, id=name, arn=arn)
    actor["actor"] = f"arn:aws:iam::{account}:user/{name}"
    if key_id:
        return Resource(type=ACCESS_KEY, id=f"{name}/{key_id}")
    return None
