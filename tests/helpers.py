"""Test helpers: sample events, one loader (tests/events/*.json)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "events"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def load_event(name: str, *, bucket: str | None = None, event_id: str | None = None,
               fresh_id: bool = True) -> dict[str, Any]:
    """A sample event; `bucket` renames phi-bucket everywhere, ids are fresh by default."""
    text = (EVENTS / f"{name}.json").read_text()
    if bucket:
        text = text.replace("phi-bucket", bucket)
    event = json.loads(text)
    if event_id or fresh_id:
        event["id"] = event_id or str(uuid.uuid4())
    return copy.deepcopy(event)


ALL_ON = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)


def public_access_block(s3: Any, bucket: str) -> dict[str, bool] | None:
    """The bucket's Block Public Access flags as S3 reports them; None when it has none."""
    try:
        return dict(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"])
    except s3.exceptions.ClientError:
        return None


def default_encryption(s3: Any, bucket: str) -> dict[str, Any] | None:
    """The bucket's default encryption as S3 reports it; None when it has none."""
    try:
        return dict(s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"])
    except s3.exceptions.ClientError:
        return None


def cloudtrail_event(name: str, service: str, request: dict[str, Any] | None,
                     response: dict[str, Any] | None = None, *,
                     region: str = REGION) -> dict[str, Any]:
    """A CloudTrail "AWS API Call" event for `service` (e.g. "kms"), built on a real sample."""
    event = load_event("cloudtrail_delete_bucket_encryption")
    event["source"], event["region"] = f"aws.{service}", region
    event["detail"].update(eventName=name, eventSource=f"{service}.amazonaws.com",
                           requestParameters=request, responseElements=response,
                           awsRegion=region, eventID=str(uuid.uuid4()))
    return event


def config_event(rule: str, resource_type: str, resource_id: str) -> dict[str, Any]:
    """A NON_COMPLIANT Config rule result for one resource, built on a real sample."""
    event = load_event("config_s3_encryption_noncompliant")
    detail = event["detail"]
    detail.update(configRuleName=rule, resourceType=resource_type, resourceId=resource_id)
    qualifier = detail["newEvaluationResult"]["evaluationResultIdentifier"][
        "evaluationResultQualifier"]
    qualifier.update(configRuleName=rule, resourceType=resource_type, resourceId=resource_id)
    return event
