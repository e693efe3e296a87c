"""The decision path shared by Slack and `remediate approve|deny`, and rollback."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from chalicelib.approval import decide, pending
from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from chalicelib.errors import NotFound, Refused, RollbackConflict
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.record import ApprovalState, Status
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import ALL_ON, load_event, public_access_block


@pytest.fixture
def approve_ctx(aws: None, tmp_path: Path) -> Context:
    text = (Path("policies") / "10-s3-public-access.yaml").read_text()
    (tmp_path / "p.yaml").write_text(text.replace("mode: auto", "mode: approve"))
    ctx, _ = make_context(policy_dir=tmp_path, approvers=("U_ALICE", "U_BOB"))
    return ctx


@pytest.fixture
def requested(approve_ctx: Context, s3: Any) -> str:
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), approve_ctx)[0]
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    return str(r.approval_id)


def _kinds(ctx: Context, incident_id: str) -> list[str]:
    return [e.kind.value for e in ctx.store.entries(incident_id)]


def test_approval_applies_the_plan_and_records_the_approver(approve_ctx: Context, s3: Any,
                                                           requested: str) -> None:
    assert [a.approval_id for a in pending(approve_ctx)] == [requested]
    r = decide(approve_ctx, requested, "U_ALICE", approve=True)
    assert r.outcome is Outcome.REMEDIATED
    assert public_access_block(s3, "phi-bucket") == ALL_ON
    entries = approve_ctx.store.entries(r.incident_id)
    approved = next(e for e in entries if e.kind.value == "approved")
    assert approved.actor == "U_ALICE"
    assert approve_ctx.store.incident(r.incident_id).status is Status.RESOLVED
    assert pending(approve_ctx) == []


def test_deny_changes_nothing(approve_ctx: Context, s3: Any, requested: str) -> None:
    r = decide(approve_ctx, requested, "U_BOB", approve=False)
    assert r.outcome is Outcome.DENIED
    assert public_access_block(s3, "phi-bucket") is None
    assert _kinds(approve_ctx, r.incident_id)[-1] == "denied"


def test_only_listed_approvers_decide(approve_ctx: Context, s3: Any, requested: str) -> None:
    with pytest.raises(Refused, match="not an approver"):
        decide(approve_ctx, requested, "U_MALLORY", approve=True)
    assert public_access_block(s3, "phi-bucket") is None
    assert approve_ctx.store.approval(requested).state is ApprovalState.PENDING


def test_decided_once(approve_ctx: Context, requested: str) -> None:
    decide(approve_ctx, requested, "U_ALICE", approve=False)
    with pytest.raises(Refused, match="already decided"):
        decide(approve_ctx, requested, "U_BOB", approve=True)


def test_two_approvers_at_once_make_one_decision(approve_ctx: Context, s3: Any,
                                                 requested: str) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def click(user: str) -> None:
        barrier.wait()
        try:
            outcomes.append(decide(approve_ctx, requested, user, approve=True).outcome.value)
        except Refused:
            outcomes.append("refused")

    threads = [threading.Thread(target=click, args=(u,)) for u in ("U_ALICE", "U_BOB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "remediated"]


def test_unknown_and_expired_approvals_are_refused(approve_ctx: Context, s3: Any,
                                                   requested: str) -> None:
    with pytest.raises(NotFound):
        decide(approve_ctx, "apr-nope", "U_ALICE", approve=True)
    later = Context(settings=approve_ctx.settings, aws=approve_ctx.aws,
                    clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=5))
    with pytest.raises(Refused, match="expired"):
        decide(later, requested, "U_ALICE", approve=True)
    assert public_access_block(s3, "phi-bucket") is None
    assert approve_ctx.store.approval(requested).state is ApprovalState.EXPIRED


def test_already_fixed_by_a_human_is_compliant(approve_ctx: Context, s3: Any,
                                               requested: str) -> None:
    s3.put_public_access_block(Bucket="phi-bucket", PublicAccessBlockConfiguration=ALL_ON)
    r = decide(approve_ctx, requested, "U_ALICE", approve=True)
    assert r.outcome is Outcome.COMPLIANT


def test_changed_resource_is_not_applied_and_asks_again(approve_ctx: Context, s3: Any,
                                                        requested: str) -> None:
    partial = {**ALL_ON, "BlockPublicAcls": False}
    s3.put_public_access_block(Bucket="phi-bucket", PublicAccessBlockConfiguration=partial)
    r = decide(approve_ctx, requested, "U_ALICE", approve=True)
    assert r.outcome is Outcome.APPROVAL_REQUESTED and r.approval_id != requested
    assert public_access_block(s3, "phi-bucket") == partial
    assert "no longer matches" in r.reason


def test_no_approvers_configured_means_nobody_may_approve(aws: None, s3: Any,
                                                          tmp_path: Path) -> None:
    text = (Path("policies") / "10-s3-public-access.yaml").read_text()
    (tmp_path / "p.yaml").write_text(text.replace("mode: auto", "mode: approve"))
    ctx, _ = make_context(policy_dir=tmp_path)
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    with pytest.raises(Refused, match="nobody may approve"):
        decide(ctx, str(r.approval_id), "U_ALICE", approve=True)


# -- rollback ---------------------------------------------------------------------------
def test_rollback_restores_prior_state_and_records_it(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    partial = {**ALL_ON, "IgnorePublicAcls": False, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket="phi-bucket", PublicAccessBlockConfiguration=partial)
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    out = rollback(ctx, r.incident_id, actor="U_ALICE")
    assert public_access_block(s3, "phi-bucket") == partial
    assert out["restored"] == {"PublicAccessBlockConfiguration": partial}
    assert ctx.store.incident(r.incident_id).status is Status.ROLLED_BACK
    last = ctx.store.entries(r.incident_id)[-1]
    assert last.kind.value == "rolled_back" and last.actor == "U_ALICE"
    with pytest.raises(Refused, match="already rolled back"):
        rollback(ctx, r.incident_id, actor="U_ALICE")


def test_rollback_of_encryption_round_trips(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    (r,) = handle(load_event("cloudtrail_delete_bucket_encryption"), ctx)
    assert r.outcome is Outcome.REMEDIATED
    rollback(ctx, r.incident_id, actor="cli")
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_encryption(Bucket="phi-bucket")


def test_rollback_refuses_after_a_later_edit_unless_forced(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    s3.put_public_access_block(Bucket="phi-bucket", PublicAccessBlockConfiguration={
        **ALL_ON, "BlockPublicAcls": False})
    with pytest.raises(RollbackConflict):
        rollback(ctx, r.incident_id, actor="cli")
    assert ctx.store.incident(r.incident_id).status is Status.RESOLVED
    rollback(ctx, r.incident_id, actor="cli", force=True)
    assert public_access_block(s3, "phi-bucket") is None


def test_nothing_to_roll_back_for_record_only_and_unknown(ctx: Context) -> None:
    (r,) = handle(load_event("guardduty_ec2_ssh_bruteforce"), ctx)
    with pytest.raises(Refused, match="no applied change"):
        rollback(ctx, r.incident_id, actor="cli")
    with pytest.raises(NotFound):
        rollback(ctx, "inc-nope", actor="cli")


def test_rolled_back_incident_is_not_joined(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    rollback(ctx, r.incident_id, actor="cli")
    again = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert again.outcome is Outcome.REMEDIATED and again.incident_id != r.incident_id


def test_member_account_events_act_through_the_member_role(aws: None, kms_key: str) -> None:
    import boto3

    ctx = Context(settings=Settings(kms_key="alias/phi-data"), aws=Aws())
    ctx.store.ensure_table()
    member = "111122223333"
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/setup", RoleSessionName="setup")["Credentials"]
    s3m = boto3.client("s3", region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    s3m.create_bucket(Bucket="member-bucket")
    event = load_event("cloudtrail_put_bucket_policy", bucket="member-bucket")
    event["account"] = event["detail"]["recipientAccountId"] = member
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED, r.reason
    assert public_access_block(s3m, "member-bucket") == ALL_ON
    incident = ctx.store.incident(r.incident_id)
    assert incident.account == member


def test_inline_wildcard_on_role_is_fixed_after_approval_and_rolled_back(ctx: Context) -> None:
    import json

    import boto3

    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="etl-worker", AssumeRolePolicyDocument="{}")
    original = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="etl-worker", PolicyName="inline-admin",
                        PolicyDocument=json.dumps(original))
    (r,) = handle(load_event("cloudtrail_put_role_policy"), ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    done = decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED
    got = iam.get_role_policy(RoleName="etl-worker", PolicyName="inline-admin")
    assert got["PolicyDocument"]["Statement"] == [original["Statement"][0]]
    rollback(ctx, r.incident_id, actor="U_ONCALL")
    got = iam.get_role_policy(RoleName="etl-worker", PolicyName="inline-admin")
    assert got["PolicyDocument"] == original


def test_public_bucket_policy_is_blocked_now_and_revoked_after_approval(ctx: Context,
                                                                       s3: Any) -> None:
    import json

    s3.create_bucket(Bucket="phi-bucket")
    public = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::phi-bucket/*"}]}
    s3.put_bucket_policy(Bucket="phi-bucket", Policy=json.dumps(public))
    block, revoke = handle(load_event("cloudtrail_put_bucket_policy"), ctx)
    assert block.outcome is Outcome.REMEDIATED and public_access_block(s3, "phi-bucket") == ALL_ON
    assert revoke.outcome is Outcome.APPROVAL_REQUESTED
    assert revoke.changes[0]["operation"] == "DeleteBucketPolicy"
    assert json.loads(s3.get_bucket_policy(Bucket="phi-bucket")["Policy"]) == public
    done = decide(ctx, str(revoke.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket="phi-bucket")
    rollback(ctx, revoke.incident_id, actor="U_ONCALL")
    assert json.loads(s3.get_bucket_policy(Bucket="phi-bucket")["Policy"]) == public


def test_allow_list_is_the_one_configured_at_decision_time(approve_ctx: Context, s3: Any,
                                                           requested: str) -> None:
    from dataclasses import replace

    rotated = Context(settings=replace(approve_ctx.settings, approvers=("U_CAROL",)),
                      aws=approve_ctx.aws)
    with pytest.raises(Refused, match="not an approver"):
        decide(rotated, requested, "U_ALICE", approve=True)  # no longer on call
    assert decide(rotated, requested, "U_CAROL", approve=True).outcome is Outcome.REMEDIATED
    assert public_access_block(s3, "phi-bucket") == ALL_ON
