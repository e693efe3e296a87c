"""s3_object_lock_default against moto: after approval, Object Lock on with a GOVERNANCE
default retention, read back; rollback removes the rule and Object Lock stays on (as on
S3). moto allows enabling Object Lock on an existing versioned bucket, as S3 does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.approval import decide
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.remediations.s3._bucket import EXEMPT, call, config, context

RULE = "s3-bucket-default-lock-enabled"


def _lock(s3: Any) -> dict[str, Any] | None:
    try:
        return dict(s3.get_object_lock_configuration(Bucket="records")[
            "ObjectLockConfiguration"])
    except s3.exceptions.ClientError:
        return None


def _versioned(s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_versioning(Bucket="records", VersioningConfiguration={"Status": "Enabled"})


def test_after_approval_the_default_retention_is_set_and_rollback_keeps_lock_on(
        s3: Any, tmp_path: Path) -> None:
    _versioned(s3)
    ctx = context(tmp_path)
    r = handle(config(RULE, "records"), ctx)[0]
    assert (r.outcome, r.policy) == (Outcome.APPROVAL_REQUESTED, "s3-object-lock")
    assert _lock(s3) is None
    notes = ctx.store.approval(str(r.approval_id)).plan.notes
    assert notes[0].startswith("IRREVERSIBLE")
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is (
        Outcome.REMEDIATED)
    lock = _lock(s3)
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert {k: v for k, v in lock["Rule"]["DefaultRetention"].items() if v} == {
        "Mode": "GOVERNANCE", "Days": 2192}  # moto adds "Years": 0
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert _lock(s3) == {"ObjectLockEnabled": "Enabled"}  # cannot be turned off


def test_a_removed_default_rule_comes_back(s3: Any, tmp_path: Path) -> None:
    _versioned(s3)
    s3.put_object_lock_configuration(Bucket="records", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"})
    ctx = context(tmp_path, mode="auto")
    event = call("PutObjectLockConfiguration", "records",
                 ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _lock(s3)["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"


def test_an_existing_retention_is_never_changed(s3: Any, tmp_path: Path) -> None:
    _versioned(s3)
    theirs = {"ObjectLockEnabled": "Enabled",
              "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 7}}}
    s3.put_object_lock_configuration(Bucket="records", ObjectLockConfiguration=theirs)
    assert handle(config(RULE, "records"), context(tmp_path))[0].outcome is Outcome.COMPLIANT
    assert _lock(s3)["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"


def test_an_unversioned_bucket_opens_an_incident(s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="records")
    r = handle(config(RULE, "records"), context(tmp_path))[0]
    assert r.outcome is Outcome.INCIDENT_OPENED and "versioning Enabled first" in str(r.reason)
    assert _lock(s3) is None


def test_dry_run_and_exemption_change_nothing(s3: Any, tmp_path: Path) -> None:
    _versioned(s3)
    ctx = context(tmp_path, mode="auto")
    r = handle(config(RULE, "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN
    assert r.changes[0]["operation"] == "PutObjectLockConfiguration"
    s3.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.EXEMPT
    assert _lock(s3) is None
