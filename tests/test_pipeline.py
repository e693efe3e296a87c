"""Every outcome of the contract, through the real pipeline, asserting on AWS state."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome, report
from chalicelib.pipeline import handle
from chalicelib.record import ApprovalState, EntryKind, Status
from tests.conftest import make_context
from tests.helpers import ALL_ON, default_encryption, load_event, public_access_block


def _kinds(ctx: Context, incident_id: str) -> list[str]:
    return [e.kind.value for e in ctx.store.entries(incident_id)]


def test_public_bucket_is_blocked_and_recorded(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert public_access_block(s3, "phi-bucket") == ALL_ON
    assert r.changes[0]["operation"] == "PutPublicAccessBlock"
    incident = ctx.store.incident(r.incident_id)
    assert incident.status is Status.RESOLVED
    assert incident.fix["before"] == {"PublicAccessBlockConfiguration": None}
    assert _kinds(ctx, r.incident_id) == ["detected", "planned", "applied", "verified",
                                          "closed"]
    detected = ctx.store.entries(r.incident_id)[0]
    assert detected.actor == "arn:aws:sts::123456789012:assumed-role/developer/alice"
    assert detected.detail["source_ids"] == ["a8a1c1f2-90f1-4c3a-8f2b-0a3c4d5e6f70"]


def test_unencrypted_bucket_gets_sse_kms(ctx: Context, s3: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    (r,) = handle(load_event("config_s3_encryption_noncompliant"), ctx)
    assert r.outcome is Outcome.REMEDIATED
    rule = default_encryption(s3, "phi-bucket")["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == kms_key
    assert rule["BucketKeyEnabled"] is True


@pytest.mark.parametrize("how", ["env", "flag", "policy"])
def test_dry_run_records_the_plan_and_changes_nothing(aws: None, kms_key: str, s3: Any,
                                                      tmp_path: Path, how: str) -> None:
    settings: dict[str, Any] = {"kms_key": "alias/phi-data"}
    if how == "env":
        settings["dry_run"] = True
    if how == "policy":
        text = (Path("policies") / "10-s3-public-access.yaml").read_text()
        (tmp_path / "p.yaml").write_text(text.replace("mode: auto", "mode: dry-run"))
        settings["policy_dir"] = tmp_path
    ctx, _ = make_context(**settings)
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx, dry_run=how == "flag")[0]
    assert r.outcome is Outcome.DRY_RUN
    assert [c["operation"] for c in r.changes] == ["PutPublicAccessBlock"]
    assert r.changes[0]["params"]["PublicAccessBlockConfiguration"] == ALL_ON
    assert public_access_block(s3, "phi-bucket") is None
    entry = ctx.store.entries(r.incident_id)[-1]
    assert entry.kind is EntryKind.DRY_RUN and entry.detail["calls"] == r.changes
    assert ctx.store.incident(r.incident_id).status is Status.OPEN


def test_exempt_bucket_is_left_alone(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    s3.put_bucket_tagging(Bucket="phi-bucket", Tagging={"TagSet": [
        {"Key": "autoremediate:exempt", "Value": "true"}]})
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert r.outcome is Outcome.EXEMPT and r.incident_id is None
    assert "autoremediate:exempt=true" in r.reason
    assert public_access_block(s3, "phi-bucket") is None


def test_exempt_tag_must_say_true(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    s3.put_bucket_tagging(Bucket="phi-bucket", Tagging={"TagSet": [
        {"Key": "autoremediate:exempt", "Value": "no"}]})
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED


def test_changes_made_by_our_own_identity_are_ignored(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail"]["userIdentity"] = {"type": "IAMUser",
                                       "arn": ctx.aws.identity()["Arn"]}
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.IGNORED and "autoremediate" in r.reason
    assert public_access_block(s3, "phi-bucket") is None


def test_self_arns_cover_assumed_role_sessions(aws: None, s3: Any) -> None:
    ctx, _ = make_context(self_arns=("arn:aws:iam::123456789012:role/developer",))
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert r.outcome is Outcome.IGNORED
    assert public_access_block(s3, "phi-bucket") is None


def test_a_change_by_any_of_our_functions_roles_is_ours_without_sts(
        aws: None, s3: Any) -> None:
    # the deployed template names every role our functions run as (packaging.py): the
    # approval worker's change seen by the CloudTrail function is ours, and no STS call
    worker = "arn:aws:iam::123456789012:role/autoremediate-ApprovalWorkerRole-1ABC"
    ctx, log = make_context(account_id="123456789012", own_roles=(
        "arn:aws:iam::123456789012:role/autoremediate-CloudtrailCallsRole-2DEF", worker))
    s3.create_bucket(Bucket="phi-bucket")
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail"]["userIdentity"]["arn"] = (
        "arn:aws:sts::123456789012:assumed-role/autoremediate-ApprovalWorkerRole-1ABC/"
        "autoremediate-prod-approval_worker")
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = worker
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.IGNORED and public_access_block(s3, "phi-bucket") is None
    # and a change by someone else is fixed, in our account, still without STS
    first = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert first.outcome is Outcome.REMEDIATED
    assert public_access_block(s3, "phi-bucket") == ALL_ON
    assert not [a for a in log.actions if a.startswith("sts:")]


def test_member_role_sessions_are_ours_in_any_account(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail"]["userIdentity"]["arn"] = (
        "arn:aws:sts::123456789012:assumed-role/autoremediate-member/autoremediate")
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        "arn:aws:iam::123456789012:role/autoremediate-member")
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_failed_api_call_and_compliant_config_are_ignored(ctx: Context) -> None:
    assert handle(load_event("cloudtrail_access_denied"), ctx)[0].outcome is Outcome.IGNORED
    assert handle(load_event("config_compliant"), ctx)[0].outcome is Outcome.IGNORED


def test_event_without_policy_is_ignored(ctx: Context) -> None:
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail"]["eventName"] = "ListBuckets"
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.IGNORED and "no policy" in r.reason


def test_same_event_id_is_handled_once(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    event = load_event("cloudtrail_put_bucket_policy")
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    (again,) = handle(event, ctx)
    assert again.outcome is Outcome.DUPLICATE and again.incident_id is None


def test_racing_deliveries_of_one_event_act_once(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    event = load_event("cloudtrail_put_bucket_policy")
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        outcomes.append(handle(event, ctx)[0].outcome)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted([Outcome.REMEDIATED] + [Outcome.DUPLICATE] * 3)


def test_second_finding_joins_the_incident_as_compliant(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    first = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    (second,) = handle(load_event("guardduty_s3_block_public_access_disabled"), ctx)
    assert second.outcome is Outcome.COMPLIANT
    assert second.incident_id == first.incident_id
    assert _kinds(ctx, first.incident_id).count("detected") == 2


def test_drift_again_within_a_day_is_fixed_in_the_same_incident(ctx: Context,
                                                                s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    first = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    s3.delete_public_access_block(Bucket="phi-bucket")
    second = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert second.outcome is Outcome.REMEDIATED
    assert second.incident_id == first.incident_id
    assert public_access_block(s3, "phi-bucket") == ALL_ON


def test_racing_findings_for_one_resource_share_one_incident(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    ids: list[str] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        ids.append(handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0].incident_id)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1


def test_guardduty_finding_opens_a_record_only_incident(ctx: Context) -> None:
    (r,) = handle(load_event("guardduty_ec2_ssh_bruteforce"), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED and r.changes == []
    incident = ctx.store.incident(r.incident_id)
    assert incident.status is Status.OPEN
    assert "164.308(a)(6)(ii)" in incident.controls


def test_missing_bucket_is_ignored_with_the_reason_and_no_incident(ctx: Context) -> None:
    """Not `failed` (which EventBridge retries into the dead-letter queue): it is gone."""
    results = handle(load_event("cloudtrail_put_bucket_policy", bucket="gone-bucket"), ctx)
    assert [r.outcome for r in results] == [Outcome.IGNORED] * len(results)
    assert all(r.reason and "NoSuchBucket" in r.reason and r.incident_id is None
               for r in results)
    assert ctx.store.incidents() == []


def test_missing_kms_setting_fails_and_never_falls_back(aws: None, s3: Any) -> None:
    ctx, _ = make_context()
    s3.create_bucket(Bucket="phi-bucket")
    (r,) = handle(load_event("cloudtrail_delete_bucket_encryption"), ctx)
    assert r.outcome is Outcome.FAILED and "REMEDIATION_KMS_KEY" in r.reason
    assert default_encryption(s3, "phi-bucket") is None


def test_approve_mode_waits_and_changes_nothing(aws: None, s3: Any, tmp_path: Path) -> None:
    text = (Path("policies") / "10-s3-public-access.yaml").read_text()
    (tmp_path / "p.yaml").write_text(text.replace("mode: auto", "mode: approve"))
    ctx, _ = make_context(policy_dir=tmp_path, approvers=("U1",))
    s3.create_bucket(Bucket="phi-bucket")
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert r.outcome is Outcome.APPROVAL_REQUESTED and r.approval_id
    assert r.changes[0]["operation"] == "PutPublicAccessBlock"
    assert public_access_block(s3, "phi-bucket") is None
    assert ctx.store.approval(r.approval_id).state is ApprovalState.PENDING


def test_several_matching_policies_each_run_in_file_order(aws: None, s3: Any,
                                                          tmp_path: Path) -> None:
    for name in ("10-s3-public-access.yaml", "20-s3-default-encryption.yaml"):
        (tmp_path / name).write_text((Path("policies") / name).read_text())
    (tmp_path / "30-extra.yaml").write_text("""policies:
  - name: record-policy-changes
    trigger: [{source: cloudtrail, kinds: [PutBucketPolicy]}]
    resource_types: ["*"]
    remediation: open_incident
    hipaa: ["164.312(b)"]
""")
    ctx, _ = make_context(policy_dir=tmp_path)
    s3.create_bucket(Bucket="phi-bucket")
    results = handle(load_event("cloudtrail_put_bucket_policy"), ctx)
    assert [r.policy for r in results] == ["s3-block-public-access", "record-policy-changes"]
    out = report(results[0].event_id, results)
    assert out["outcome"] == "remediated" and len(out["results"]) == 2
    assert out["results"][1]["outcome"] == "incident_opened"


def test_blast_radius_falls_back_to_approval(aws: None, s3: Any, tmp_path: Path) -> None:
    ctx, _ = make_context(auto_limit_per_hour=2, approvers=("U1",))
    for n in range(3):
        s3.create_bucket(Bucket=f"phi-bucket-{n}")
    results = [handle(load_event("cloudtrail_put_bucket_policy", bucket=f"phi-bucket-{n}"),
                      ctx)[0] for n in range(3)]
    assert [r.outcome for r in results] == [Outcome.REMEDIATED, Outcome.REMEDIATED,
                                            Outcome.APPROVAL_REQUESTED]
    assert "blast radius" in results[2].reason
    assert public_access_block(s3, "phi-bucket-2") is None
    assert ctx.store.approval(str(results[2].approval_id)).state is ApprovalState.PENDING


def test_auto_limit_setting_is_validated() -> None:
    from chalicelib.config import Settings
    from chalicelib.errors import ConfigurationError

    assert Settings.from_env({"REMEDIATION_AUTO_LIMIT": "0"}).auto_limit_per_hour == 0
    with pytest.raises(ConfigurationError, match="REMEDIATION_AUTO_LIMIT"):
        Settings.from_env({"REMEDIATION_AUTO_LIMIT": "lots"})


def test_guardduty_resource_tagged_exempt_opens_no_incident(ctx: Context) -> None:
    event = load_event("guardduty_ec2_ssh_bruteforce")
    event["detail"]["resource"]["instanceDetails"]["tags"].append(
        {"key": "autoremediate:exempt", "value": "true"})
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.EXEMPT and r.incident_id is None


@pytest.mark.parametrize("gone", ["bucket", "trail", "security group"])
def test_a_resource_deleted_before_the_fix_is_ignored_and_noted_on_its_incident(
        ctx: Context, s3: Any, gone: str) -> None:
    """Ephemeral resources are common: a finding for one that no longer exists is no
    failure to retry. A dry run leaves the incident open; the second finding, after the
    resource went, is `ignored` with the reason and noted on that incident."""
    import boto3

    if gone == "bucket":
        s3.create_bucket(Bucket="gone-bucket")
        event = load_event("cloudtrail_put_bucket_policy", bucket="gone-bucket")
        delete = lambda: s3.delete_bucket(Bucket="gone-bucket")  # noqa: E731
        code = "NoSuchBucket"
    elif gone == "trail":
        s3.create_bucket(Bucket="trail-logs")
        ct = boto3.client("cloudtrail", region_name="us-east-1")
        arn = ct.create_trail(Name="gone-trail", S3BucketName="trail-logs")["TrailARN"]
        event = load_event("cloudtrail_stop_logging")
        event["detail"]["requestParameters"]["name"] = arn
        delete = lambda: ct.delete_trail(Name="gone-trail")  # noqa: E731
        code = "no trail"
    else:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        group = ec2.create_security_group(GroupName="gone", Description="gone")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        event = load_event("cloudtrail_authorize_security_group_ingress")
        event = json.loads(json.dumps(event).replace("sg-0123456789abcdef0", group))
        delete = lambda: ec2.delete_security_group(GroupId=group)  # noqa: E731
        code = "InvalidGroup.NotFound"
    first = handle(event, ctx, dry_run=True)[0]
    assert first.outcome is Outcome.DRY_RUN and first.incident_id
    delete()
    again = handle({**event, "id": f"{event['id']}-again"}, ctx)[0]
    assert again.outcome is Outcome.IGNORED and again.incident_id == first.incident_id
    assert again.reason and again.reason.startswith("resource no longer exists: ")
    assert code in again.reason
    assert _kinds(ctx, first.incident_id)[-2:] == ["detected", "verified"]
    assert ctx.store.incident(first.incident_id).status is Status.OPEN


def test_member_sessions_share_the_parsed_models_not_the_credentials(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each member account's session assumes its own role, yet reads the service models
    through the home session's loader: a new account (or an hourly renewal) parses no
    model again. (conftest shares one loader per test process: undone here, so each new
    botocore session would get its own, as in Lambda.)"""
    import botocore.session

    from chalicelib.aws import Aws

    monkeypatch.setattr(botocore.session, "create_loader",
                        botocore.session.create_loader.__wrapped__)

    ours = Aws(account_id="123456789012")
    first = ours.client("s3", account="222233334444", region="us-east-1")
    second = ours.client("s3", account="333344445555", region="us-east-1")
    first.list_buckets()  # the assumed credentials work
    home_loader = ours.session()._session.get_component("data_loader")
    sessions = [ours._member_sessions[a][0] for a in ("222233334444", "333344445555")]
    assert all(s._session.get_component("data_loader") is home_loader for s in sessions)
    keys = {s.get_credentials().access_key for s in sessions}
    assert len(keys) == 2 and ours.session().get_credentials().access_key not in keys
    assert first is not second
