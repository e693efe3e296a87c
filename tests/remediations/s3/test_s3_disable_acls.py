"""s3_disable_acls against moto: after approval, Object Ownership BucketOwnerEnforced,
read back; rollback restores the saved setting. The approval notes list the ACL grants.
moto still accepts ACL writes under BucketOwnerEnforced (real S3 refuses them), so the
breakage itself cannot be shown here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.approval import decide
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.remediations.s3._bucket import EXEMPT, call, config, context

RULE = "s3-bucket-acl-prohibited"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"


def _ownership(s3: Any) -> str | None:
    try:
        rules = s3.get_bucket_ownership_controls(Bucket="records")["OwnershipControls"]["Rules"]
    except s3.exceptions.ClientError:
        return None
    return str(rules[0]["ObjectOwnership"])


def test_after_approval_acls_are_disabled_and_rollback_restores(s3: Any,
                                                                tmp_path: Path) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_ownership_controls(Bucket="records", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    s3.put_bucket_acl(Bucket="records", ACL="log-delivery-write")
    ctx = context(tmp_path)
    r = handle(config(RULE, "records"), ctx)[0]
    assert (r.outcome, r.policy) == (Outcome.APPROVAL_REQUESTED, "s3-acls-disabled")
    assert _ownership(s3) == "BucketOwnerPreferred"
    notes = ctx.store.approval(str(r.approval_id)).plan.notes
    assert any(LOG_DELIVERY in n for n in notes)  # moto grants it READ_ACP only
    done = decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED and _ownership(s3) == "BucketOwnerEnforced"
    rollback(ctx, str(r.incident_id), actor="test")
    assert _ownership(s3) == "BucketOwnerPreferred"


def test_deleted_controls_read_as_object_writer_and_come_back_so(s3: Any,
                                                                 tmp_path: Path) -> None:
    s3.create_bucket(Bucket="records")
    s3.delete_bucket_ownership_controls(Bucket="records")
    ctx = context(tmp_path, mode="auto")
    r = handle(call("DeleteBucketOwnershipControls", "records"), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED and _ownership(s3) == "BucketOwnerEnforced"
    rollback(ctx, str(r.incident_id), actor="test")
    assert _ownership(s3) == "ObjectWriter"  # how a bucket without controls behaves


def test_enforced_is_compliant_and_its_put_triggers_nothing(s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_ownership_controls(Bucket="records", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    ctx = context(tmp_path)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    event = call("PutBucketOwnershipControls", "records", OwnershipControls={
        "Rule": {"ObjectOwnership": "BucketOwnerEnforced"}})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_dry_run_and_exemption_change_nothing(s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_ownership_controls(Bucket="records", OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    ctx = context(tmp_path, mode="auto")
    r = handle(config(RULE, "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN
    assert r.changes[0]["operation"] == "PutBucketOwnershipControls"
    s3.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.EXEMPT
    assert _ownership(s3) == "ObjectWriter"
