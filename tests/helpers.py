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
