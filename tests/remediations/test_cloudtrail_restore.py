"""cloudtrail_restore against moto: the trail's state is read back after each fix and
rollback; organization trails and missing trails are recorded, not fought over."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import HandsOff, RollbackConflict
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.record import Status
from chalicelib.rollback import rollback
from tests.helpers import ACCOUNT, cloudtrail_event, config_event, load_event

ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/phi-audit-trail"


def _trail(name: str = "phi-audit-trail", region: str = "us-east-1", *, logging: bool = True,
           multi: bool = True, validation: bool = True) -> str:
    s3 = boto3.client("s3", region_name=region)
    bucket = f"{name}-logs-{region}"
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}))
    ct = boto3.client("cloudtrail", region_name=region)
    arn = ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi,
                          EnableLogFileValidation=validation)["TrailARN"]
    if logging:
        ct.start_logging(Name=arn)
    return str(arn)


def _state(arn: str) -> dict[str, bool]:
    ct = boto3.client("cloudtrail", region_name=arn.split(":")[3])
    trail = ct.describe_trails(trailNameList=[arn])["trailList"][0]
    return {"IsLogging": ct.get_trail_status(Name=arn)["IsLogging"],
            "IsMultiRegionTrail": trail["IsMultiRegionTrail"],
            "LogFileValidationEnabled": trail["LogFileValidationEnabled"]}


ON = {"IsLogging": True, "IsMultiRegionTrail": True, "LogFileValidationEnabled": True}


def test_stop_logging_turns_the_trail_back_on_and_rolls_back(ctx: Context) -> None:
    arn = _trail(logging=False)
    r = handle(load_event("cloudtrail_stop_logging"), ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, arn)
    assert [c["operation"] for c in r.changes] == ["StartLogging"]
    assert _state(arn) == ON
    done = rollback(ctx, str(r.incident_id), actor="test")
    assert [c["operation"] for c in done["changes"]] == ["StopLogging"]
    assert _state(arn)["IsLogging"] is False
    assert ctx.store.incident(str(r.incident_id)).status is Status.ROLLED_BACK


def test_update_trail_weakening_is_undone_by_name(ctx: Context) -> None:
    arn = _trail(multi=False, validation=False)
    event = cloudtrail_event("UpdateTrail", "cloudtrail", {
        "name": "phi-audit-trail", "isMultiRegionTrail": False,
        "enableLogFileValidation": False})
    r = handle(event, ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, arn)  # the name became the ARN
    assert _state(arn) == ON


def test_a_harmless_update_trail_triggers_nothing(ctx: Context) -> None:
    _trail()
    event = cloudtrail_event("UpdateTrail", "cloudtrail", {
        "name": "phi-audit-trail", "s3BucketName": "elsewhere"})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_a_trail_is_fixed_in_its_home_region(ctx: Context) -> None:
    arn = _trail("west-trail", "us-west-2", logging=False)
    event = cloudtrail_event("StopLogging", "cloudtrail", {"name": arn})  # seen in us-east-1
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED and r.changes[0]["region"] == "us-west-2"
    assert _state(arn)["IsLogging"] is True
    rollback(ctx, str(r.incident_id), actor="test")
    assert _state(arn)["IsLogging"] is False


def test_account_level_config_result_fixes_every_trail_homed_in_the_region(
        ctx: Context) -> None:
    first = _trail("trail-one", logging=False)
    second = _trail("trail-two", validation=False)
    other = _trail("trail-west", "us-west-2", logging=False)
    r = handle(config_event("OrgConfigRule-cloudtrail-enabled-x1", "AWS::::Account",
                            ACCOUNT), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert r.resource == f"AWS::::Account/{ACCOUNT}/us-east-1"
    assert _state(first) == _state(second) == ON
    assert _state(other)["IsLogging"] is False  # another region's trail: not this finding's


def test_no_trail_at_all_is_recorded_for_responders(ctx: Context) -> None:
    r = handle(config_event("cloudtrail-enabled", "AWS::::Account", ACCOUNT), ctx)[0]
    assert r.outcome is Outcome.INCIDENT_OPENED and "no CloudTrail trail" in str(r.reason)
    kinds = [e.kind.value for e in ctx.store.entries(str(r.incident_id))]
    assert kinds == ["detected", "planned"]


def test_guardduty_logging_disabled_names_the_trail_or_the_account(ctx: Context) -> None:
    arn = _trail(logging=False)
    event = load_event("guardduty_s3_anonymous_access_granted")
    event["detail"]["type"] = "Stealth:IAMUser/CloudTrailLoggingDisabled"
    event["detail"]["severity"] = 2
    event["detail"]["resource"].pop("s3BucketDetails")
    event["detail"]["service"]["action"]["awsApiCallAction"].update(
        api="StopLogging", affectedResources={"AWS::CloudTrail::Trail": "phi-audit-trail"})
    r = handle(event, ctx)[0]
    assert (r.policy, r.outcome, r.resource) == ("cloudtrail-on", Outcome.REMEDIATED, arn)
    incident = ctx.store.incident(str(r.incident_id))
    assert incident.breach_notification_deadline is not None  # a GuardDuty finding


def test_delete_trail_opens_a_critical_incident_and_changes_nothing(ctx: Context) -> None:
    event = cloudtrail_event("DeleteTrail", "cloudtrail", {"name": ARN})
    (r,) = handle(event, ctx)
    assert (r.policy, r.outcome) == ("cloudtrail-deleted", Outcome.INCIDENT_OPENED)
    assert r.changes == []


def test_an_organization_trail_of_the_management_account_is_left_alone(build: Any) -> None:
    from botocore.stub import Stubber

    org = "arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail"
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("describe_trails", {"trailList": [{
        "Name": "org-trail", "TrailARN": org, "HomeRegion": "us-east-1",
        "IsOrganizationTrail": True, "IsMultiRegionTrail": True}]})
    rem = build("cloudtrail_restore", resource=Resource(
        type="AWS::CloudTrail::Trail", id=org, arn=org))
    rem.target.clients = lambda service: client
    with stub, pytest.raises(HandsOff, match="organization trail managed from account"):
        rem.plan()


def test_rollback_refuses_after_someone_else_changed_the_trail(ctx: Context) -> None:
    arn = _trail(logging=False)
    r = handle(load_event("cloudtrail_stop_logging"), ctx)[0]
    boto3.client("cloudtrail", region_name="us-east-1").update_trail(
        Name=arn, IsMultiRegionTrail=False)
    with pytest.raises(RollbackConflict):
        rollback(ctx, str(r.incident_id), actor="test")
