"""The S3 family's record-only rule: a Config result opens an incident whose reason says
why and names the runbook section, and nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from tests.remediations.s3._bucket import config

ROOT = Path(__file__).resolve().parents[3]


def test_replication_opens_an_incident_naming_its_runbook(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    r = handle(config("s3-bucket-replication-enabled", "records"), ctx)[0]
    assert (r.outcome, r.policy, r.changes) == (Outcome.INCIDENT_OPENED, "s3-replication", [])
    assert "destination bucket" in str(r.reason)
    assert "runbooks/hipaa-s3.md#s3-bucket-replication-enabled" in str(r.reason)
    assert "## s3-bucket-replication-enabled" in (ROOT / "runbooks" / "hipaa-s3.md").read_text()
    try:
        s3.get_bucket_replication(Bucket="records")
        raise AssertionError("replication appeared")
    except s3.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError"
