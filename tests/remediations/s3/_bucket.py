"""What the HIPAA-pack bucket tests share: events naming a bucket, and an exempt copy of
the shipped policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.context import Context
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, config_event

POLICIES = Path(__file__).resolve().parents[3] / "policies" / "22-hipaa-s3.yaml"


def config(rule: str, bucket: str) -> dict[str, Any]:
    """A NON_COMPLIANT Config result for `bucket` under `rule`, with a pack suffix."""
    return config_event(f"{rule}-conformance-pack-hipaa", "AWS::S3::Bucket", bucket)


def call(name: str, bucket: str, **request: Any) -> dict[str, Any]:
    """A CloudTrail S3 call on `bucket`."""
    return cloudtrail_event(name, "s3", {"bucketName": bucket, **request})


def context(tmp_path: Path, *, mode: str | None = None, **settings: Any) -> Context:
    """A context whose only policies are ours (optionally all in `mode`)."""
    text = POLICIES.read_text()
    if mode:
        for was in ("auto", "approve"):
            text = text.replace(f"    mode: {was}\n", f"    mode: {mode}\n")
    (tmp_path / "22-hipaa-s3.yaml").write_text(text)
    return make_context(policy_dir=tmp_path, approvers=("U_ONCALL",), **settings)[0]


EXEMPT = {"TagSet": [{"Key": "autoremediate:exempt", "Value": "true"}]}
