"""s3_enable_versioning against moto: a never-versioned or suspended bucket ends Enabled,
read back; rollback suspends (S3 cannot un-version). Not tested: the MFA-delete refusal
(moto drops MFADelete from PutBucketVersioning, so such a bucket cannot be built)."""

from __future__ import annotations

from typing import Any

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.remediations.s3._bucket import EXEMPT, call, config


def _status(s3: Any, bucket: str) -> str | None:
    return s3.get_bucket_versioning(Bucket=bucket).get("Status")


def test_a_never_versioned_bucket_is_versioned_and_rollback_suspends(
        ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    r = handle(config("s3-bucket-versioning-enabled", "records"), ctx)[0]
    assert (r.outcome, r.policy, r.resource) == (Outcome.REMEDIATED, "s3-versioning",
                                                 "arn:aws:s3:::records")
    assert _status(s3, "records") == "Enabled"
    assert handle(config("s3-bucket-versioning-enabled", "records"), ctx)[0].outcome is (
        Outcome.COMPLIANT)
    rollback(ctx, str(r.incident_id), actor="test")
    assert _status(s3, "records") == "Suspended"  # the nearest S3 has to "never versioned"


def test_suspending_versioning_is_undone_within_the_event(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_versioning(Bucket="records", VersioningConfiguration={"Status": "Suspended"})
    event = call("PutBucketVersioning", "records",
                 VersioningConfiguration={"Status": "Suspended"})
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _status(s3, "records") == "Enabled"


def test_enabling_versioning_triggers_nothing(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    event = call("PutBucketVersioning", "records", VersioningConfiguration={"Status": "Enabled"})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_dry_run_plans_and_changes_nothing(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    r = handle(config("s3-bucket-versioning-enabled", "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN
    assert r.changes[0]["operation"] == "PutBucketVersioning"
    assert _status(s3, "records") is None


def test_an_exempt_bucket_is_left_alone(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    r = handle(config("s3-bucket-versioning-enabled", "records"), ctx)[0]
    assert r.outcome is Outcome.EXEMPT and _status(s3, "records") is None
