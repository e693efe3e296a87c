"""Security Hub as the fifth source and as a sink, and the IaC-fight brake, on moto.

moto implements BatchImportFindings and GetFindings; BatchUpdateFindings is added by
tests/moto_ext.py (workflow status + note, FindingNotFound for unknown findings), so the
write-back is asserted by reading the finding back with GetFindings.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.errors import InvalidEvent
from chalicelib.evidence import build
from chalicelib.finding import Finding, Ignored, normalize
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.record import EntryKind
from tests.helpers import ALL_ON, cloudtrail_event, load_event, public_access_block

S3_8 = "securityhub_s3_8_failed"
GD_COPY = "securityhub_guardduty_s3_block_public_access_disabled"
ROLE = "arn:aws:iam::123456789012:role/developer"


@pytest.fixture
def hub(aws: None) -> Any:
    client = boto3.client("securityhub", region_name="us-east-1")
    client.enable_security_hub()
    return client


def _asff(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event["detail"]["findings"][0])


def _imported(hub: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Put the event's finding into (moto's) Security Hub, as the real one holds it."""
    hub.batch_import_findings(Findings=[_asff(event)])
    return event


def _stored(hub: Any, event: dict[str, Any]) -> dict[str, Any]:
    wanted = _asff(event)["Id"]
    return next(f for f in hub.get_findings()["Findings"] if f["Id"] == wanted)


def _with(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    out["detail"]["findings"][0].update(fields)
    return out


# -- the source ------------------------------------------------------------------------
def test_a_control_finding_is_its_control_on_its_resource() -> None:
    f = normalize(load_event(S3_8))
    assert isinstance(f, Finding) and f.resource is not None
    assert (f.source.value, f.kind, f.product) == ("securityhub", "S3.8", "Security Hub")
    assert (f.resource.type, f.resource.id, f.resource.arn) == (
        "AWS::S3::Bucket", "phi-bucket", "arn:aws:s3:::phi-bucket")
    assert f.finding_key == f"securityhub:{_asff(load_event(S3_8))['Id']}"
    assert f.severity == 7.0


def test_older_control_fields_name_the_control_too() -> None:
    event = load_event(S3_8)
    asff = event["detail"]["findings"][0]
    del asff["Compliance"]["SecurityControlId"]
    asff["GeneratorId"] = "aws-foundational-security-best-practices/v/1.0.0/S3.8"
    assert normalize(event).kind == "S3.8"  # type: ignore[union-attr]
    asff["ProductFields"]["ControlId"] = "S3.8"
    asff["GeneratorId"] = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark"
    assert normalize(event).kind == "S3.8"  # type: ignore[union-attr]


@pytest.mark.parametrize(("field", "value", "said"), [
    ("Workflow", {"Status": "SUPPRESSED"}, "SUPPRESSED"),
    ("Workflow", {"Status": "RESOLVED"}, "RESOLVED"),
    ("Compliance", {"Status": "PASSED", "SecurityControlId": "S3.8"}, "PASSED"),
    ("RecordState", "ARCHIVED", "archived"),
])
def test_closed_or_passing_findings_are_ignored(field: str, value: Any, said: str) -> None:
    got = normalize(_with(load_event(S3_8), **{field: value}))
    assert isinstance(got, Ignored) and said in got.reason


def test_the_echo_of_our_own_update_is_ignored_but_a_newer_finding_is_not() -> None:
    note = {"Text": "autoremediate: …", "UpdatedBy": "autoremediate",
            "UpdatedAt": "2026-11-20T16:05:00.000Z"}
    echo = _with(load_event(S3_8), Note=note, Workflow={"Status": "NOTIFIED"})
    assert isinstance(normalize(echo), Ignored)
    newer = _with(echo, UpdatedAt="2026-11-20T17:00:00.000Z")  # Security Hub re-evaluated
    assert isinstance(normalize(newer), Finding)
    someone = _with(echo, Note={**note, "UpdatedBy": "alice"})
    assert isinstance(normalize(someone), Finding)


def test_an_imported_guardduty_finding_keeps_its_type_and_identity() -> None:
    f = normalize(load_event(GD_COPY))
    native = normalize(load_event("guardduty_s3_block_public_access_disabled"))
    assert isinstance(f, Finding) and isinstance(native, Finding)
    assert (f.kind, f.product, f.severity) == (
        "Policy:S3/BucketBlockPublicAccessDisabled", "GuardDuty", 2.0)
    assert f.finding_key == native.finding_key == "guardduty:c8c5ad1f0e3e4b7a9d2f6e1a3b5c7d9e"
    assert f.resource == native.resource.model_copy(update={"tags": f.resource.tags})  # type: ignore[union-attr]


def test_several_resources_give_one_finding_each_and_unknown_types_are_skipped() -> None:
    event = load_event(S3_8)
    event["detail"]["findings"][0]["Resources"] += [
        {"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::second"},
        {"Type": "AwsEc2Instance", "Id": "arn:aws:ec2:us-east-1:123456789012:instance/i-1"},
        {"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::phi-bucket"}]  # listed twice: once
    f = normalize(event)
    assert isinstance(f, Finding)
    assert [one.resource.id for one in f.each()] == ["phi-bucket", "second"]  # type: ignore[union-attr]


def test_resources_are_named_as_the_native_sources_name_them() -> None:
    event = load_event(S3_8)
    event["detail"]["findings"][0]["Resources"] = [
        {"Type": "AwsEc2SecurityGroup",
         "Id": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0abc"},
        {"Type": "AwsRdsDbInstance", "Id": "arn:aws:rds:us-east-1:123456789012:db:phi-db"},
        {"Type": "AwsIamPolicy", "Id": "arn:aws:iam::123456789012:policy/team/admin-all"},
        {"Type": "AwsAccount", "Id": "AWS::::Account:123456789012"}]
    f = normalize(event)
    assert isinstance(f, Finding)
    assert [(r.type, r.id) for r in f.resources] == [
        ("AWS::EC2::SecurityGroup", "sg-0abc"), ("AWS::RDS::DBInstance", "phi-db"),
        ("AWS::IAM::Policy", "admin-all"), ("AWS::::Account", "123456789012/us-east-1")]


def test_an_event_with_several_findings_is_refused() -> None:
    event = load_event(S3_8)
    event["detail"]["findings"].append(_asff(event))
    with pytest.raises(InvalidEvent, match="one finding per event"):
        normalize(event)


# -- source and sink, end to end on moto -----------------------------------------------
def test_s3_8_blocks_public_access_and_marks_the_finding_resolved(ctx: Context, s3: Any,
                                                                   hub: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    event = _imported(hub, load_event(S3_8))
    (r,) = handle(event, ctx)
    assert (r.outcome, r.policy) == (Outcome.REMEDIATED, "s3-block-public-access")
    assert public_access_block(s3, "phi-bucket") == ALL_ON
    stored = _stored(hub, event)
    assert stored["Workflow"]["Status"] == "RESOLVED"
    assert r.incident_id in stored["Note"]["Text"]
    assert stored["Note"]["UpdatedBy"] == "autoremediate"
    # Security Hub's own event for that update is ours: nothing more happens
    echo = load_event(S3_8)
    echo["detail"]["findings"][0] = stored
    assert handle(echo, ctx)[0].outcome is Outcome.IGNORED


def test_an_approval_marks_the_finding_notified_and_its_echo_is_ignored(
        ctx: Context, hub: Any) -> None:
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key(Description="phi")["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=30)
    event = load_event(S3_8)
    asff = event["detail"]["findings"][0]
    asff["Compliance"]["SecurityControlId"] = "KMS.3"
    asff["Id"] = asff["Id"].replace("S3.8", "KMS.3")
    asff["Resources"] = [{"Type": "AwsKmsKey", "Id": key["Arn"], "Region": "us-east-1"}]
    _imported(hub, event)
    (r,) = handle(event, ctx)
    assert (r.outcome, r.policy) == (Outcome.APPROVAL_REQUESTED, "kms-key-deletion")
    stored = _stored(hub, event)
    assert stored["Workflow"]["Status"] == "NOTIFIED"
    assert str(r.approval_id) in stored["Note"]["Text"]
    echo = load_event(S3_8)
    echo["detail"]["findings"][0] = stored
    assert handle(echo, ctx)[0].outcome is Outcome.IGNORED
    # approved and fixed: the finding is resolved
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is (
        Outcome.REMEDIATED)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert _stored(hub, event)["Workflow"]["Status"] == "RESOLVED"


def test_a_failed_write_back_is_noted_and_the_fix_stands(ctx: Context, s3: Any,
                                                         hub: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    (r,) = handle(load_event(S3_8), ctx)  # never imported: Security Hub does not know it
    assert r.outcome is Outcome.REMEDIATED
    assert public_access_block(s3, "phi-bucket") == ALL_ON
    last = ctx.store.entries(str(r.incident_id))[-1]
    assert (last.kind, last.detail["stage"]) == (EntryKind.FAILED, "securityhub")
    assert "FindingNotFound" in last.detail["reason"]
    assert ctx.store.incident(str(r.incident_id)).status.value == "resolved"


@pytest.mark.parametrize("native_first", [True, False])
def test_native_and_imported_copies_act_once(ctx: Context, s3: Any, hub: Any,
                                             native_first: bool) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    native = load_event("guardduty_s3_block_public_access_disabled")
    imported = _imported(hub, load_event(GD_COPY))
    first, second = (native, imported) if native_first else (imported, native)
    (one,) = handle(first, ctx)
    assert one.outcome is Outcome.REMEDIATED
    s3.delete_public_access_block(Bucket="phi-bucket")  # would be fixed again if it acted
    (two,) = handle(second, ctx)
    assert two.outcome is Outcome.DUPLICATE and two.changes == []
    assert two.incident_id == one.incident_id
    assert "already arrived" in str(two.reason)
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket="phi-bucket")
    detected = [e for e in ctx.store.entries(str(one.incident_id))
                if e.kind is EntryKind.DETECTED]
    assert [e.detail["source"] for e in detected] == (
        ["guardduty", "securityhub"] if native_first else ["securityhub", "guardduty"])
    assert detected[1].detail["duplicate_of"] == first["id"]
    # whichever copy acted, the Security Hub finding says what was done
    assert _stored(hub, imported)["Workflow"]["Status"] == "RESOLVED"


def test_a_later_update_of_the_same_finding_on_one_channel_still_acts(
        ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    native = load_event("guardduty_s3_block_public_access_disabled")
    assert handle(native, ctx)[0].outcome is Outcome.REMEDIATED
    s3.delete_public_access_block(Bucket="phi-bucket")
    again = load_event("guardduty_s3_block_public_access_disabled")  # GuardDuty's update
    assert handle(again, ctx)[0].outcome is Outcome.REMEDIATED


def test_a_failed_run_frees_the_finding_for_the_retry(ctx: Context, s3: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    native = load_event("guardduty_s3_block_public_access_disabled")

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("crash")

    monkeypatch.setattr("chalicelib.pipeline._run", broken)
    with pytest.raises(RuntimeError):
        handle(native, ctx)
    monkeypatch.undo()
    assert handle(load_event(GD_COPY), ctx)[0].outcome is Outcome.REMEDIATED


# -- infrastructure-as-code fights -----------------------------------------------------
def _redrift(s3: Any) -> dict[str, Any]:
    s3.delete_public_access_block(Bucket="phi-bucket")
    return cloudtrail_event("DeleteBucketPublicAccessBlock", "s3",
                            {"bucketName": "phi-bucket"})


def test_the_fourth_redrift_in_a_day_waits_for_approval(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    outcomes = [handle(_redrift(s3), ctx)[0] for _ in range(4)]
    assert [r.outcome for r in outcomes] == [Outcome.REMEDIATED] * 3 + [
        Outcome.APPROVAL_REQUESTED]
    held = outcomes[-1]
    assert str(held.reason).startswith(
        "re-drifted 3 times in 24 h: a pipeline may own this resource")
    assert ROLE in str(held.reason)  # the principal that keeps reverting
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket="phi-bucket")  # not fixed a 4th time
    incident = ctx.store.incident(str(held.incident_id))
    assert incident.fighting and incident.fighting_principals == [ROLE]
    assert len({r.incident_id for r in outcomes}) == 1

    # an approval applies once ...
    assert decide(ctx, str(held.approval_id), "U_ONCALL", approve=True).outcome is (
        Outcome.REMEDIATED)
    assert public_access_block(s3, "phi-bucket") == ALL_ON
    # ... the next re-drift asks again ...
    assert handle(_redrift(s3), ctx)[0].outcome is Outcome.APPROVAL_REQUESTED
    # ... and the exemption tag ends it
    s3.put_bucket_tagging(Bucket="phi-bucket", Tagging={"TagSet": [
        {"Key": "autoremediate:exempt", "Value": "true"}]})
    assert handle(_redrift(s3), ctx)[0].outcome is Outcome.EXEMPT

    report = build(ctx.store, since=incident.created_at)
    assert [f["resource"] for f in report["fighting"]] == ["arn:aws:s3:::phi-bucket"]
    assert report["fighting"][0]["principals"] == [ROLE]
