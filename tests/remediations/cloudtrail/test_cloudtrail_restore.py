"""cloudtrail_restore against moto: each control changes only its own aspect of a trail
(logging, log-file validation, one multi-region trail), read back with GetTrail /
GetTrailStatus after each fix and rollback; organization trails and missing trails are
recorded, not fought over."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import HandsOff, RollbackConflict
from chalicelib.finding import ACCOUNT as ACCOUNT_TYPE
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.record import Status
from chalicelib.rollback import rollback
from remediations.base import Plan
from tests.conftest import CallLog
from tests.helpers import ACCOUNT, cloudtrail_event, config_event, load_event

ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/phi-audit-trail"
WRITES = {"cloudtrail:StartLogging", "cloudtrail:StopLogging", "cloudtrail:UpdateTrail"}
ACCOUNT_RESOURCE = f"AWS::::Account/{ACCOUNT}/us-east-1"


def _trail(name: str = "phi-audit-trail", region: str = "us-east-1", *, logging: bool = True,
           multi: bool = True, validation: bool = True, data_events: bool = False) -> str:
    s3 = boto3.client("s3", region_name=region)
    bucket = f"{name}-logs-{region}"
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}))
    ct = boto3.client("cloudtrail", region_name=region)
    arn = ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi,
                          EnableLogFileValidation=validation)["TrailARN"]
    if data_events:  # an S3 data-event trail: single-region on purpose (cost, scope)
        ct.put_event_selectors(TrailName=arn, EventSelectors=[{
            "ReadWriteType": "All", "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::S3::Object",
                               "Values": ["arn:aws:s3:::phi-bucket/"]}]}])
    if logging:
        ct.start_logging(Name=arn)
    return str(arn)


def _state(arn: str) -> dict[str, bool]:
    ct = boto3.client("cloudtrail", region_name=arn.split(":")[3])
    trail = ct.get_trail(Name=arn)["Trail"]
    return {"IsLogging": ct.get_trail_status(Name=arn)["IsLogging"],
            "IsMultiRegionTrail": trail["IsMultiRegionTrail"],
            "LogFileValidationEnabled": trail["LogFileValidationEnabled"]}


def _hub(control: str, resource: dict[str, Any]) -> dict[str, Any]:
    """A FAILED Security Hub (AFSBP) finding for `control` about one ASFF resource."""
    event = copy.deepcopy(load_event("securityhub_s3_8_failed"))
    finding = event["detail"]["findings"][0]
    fid = finding["Id"].replace("S3.8", control)
    finding.update(Id=fid, GeneratorId=f"security-control/{control}", Resources=[
        {"Partition": "aws", "Region": "us-east-1", **resource}])
    finding["Compliance"]["SecurityControlId"] = control
    event["resources"] = [fid]
    return event


def _hub_trail(control: str, arn: str) -> dict[str, Any]:
    return _hub(control, {"Type": "AwsCloudTrailTrail", "Id": arn})


def _hub_account(control: str) -> dict[str, Any]:
    return _hub(control, {"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}"})


def _ops(changes: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["operation"], c["params"]) for c in changes]


def _trail_resource(arn: str) -> Resource:
    return Resource(type="AWS::CloudTrail::Trail", id=arn, arn=arn)


ON = {"IsLogging": True, "IsMultiRegionTrail": True, "LogFileValidationEnabled": True}
SINGLE = {"IsLogging": True, "IsMultiRegionTrail": False, "LogFileValidationEnabled": False}


# -- logging --------------------------------------------------------------------------
def test_stop_logging_restarts_logging_only_and_rolls_back(ctx: Context) -> None:
    arn = _trail(logging=False, multi=False, validation=False)
    (r,) = handle(load_event("cloudtrail_stop_logging"), ctx)
    assert (r.policy, r.outcome, r.resource) == ("cloudtrail-on", Outcome.REMEDIATED, arn)
    assert _ops(r.changes) == [("StartLogging", {"Name": arn})]
    assert _state(arn) == SINGLE  # logging on; still single-region, validation untouched
    done = rollback(ctx, str(r.incident_id), actor="test")
    assert _ops(done["changes"]) == [("StopLogging", {"Name": arn})]
    assert _state(arn) == {**SINGLE, "IsLogging": False}
    assert ctx.store.incident(str(r.incident_id)).status is Status.ROLLED_BACK


def test_a_trail_is_fixed_in_its_home_region(ctx: Context) -> None:
    arn = _trail("west-trail", "us-west-2", logging=False)
    event = cloudtrail_event("StopLogging", "cloudtrail", {"name": arn})  # seen in us-east-1
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.REMEDIATED and r.changes[0]["region"] == "us-west-2"
    assert _state(arn)["IsLogging"] is True
    rollback(ctx, str(r.incident_id), actor="test")
    assert _state(arn)["IsLogging"] is False


def test_account_level_logging_result_restarts_every_stopped_trail_homed_in_the_region(
        ctx: Context) -> None:
    first = _trail("trail-one", logging=False, validation=False)
    second = _trail("trail-two", logging=False, multi=False)
    other = _trail("trail-west", "us-west-2", logging=False)
    (r,) = handle(config_event("OrgConfigRule-cloudtrail-enabled-x1", "AWS::::Account",
                               ACCOUNT), ctx)
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, ACCOUNT_RESOURCE)
    assert sorted(_ops(r.changes), key=str) == [("StartLogging", {"Name": first}),
                                                ("StartLogging", {"Name": second})]
    assert _state(first) == {**ON, "LogFileValidationEnabled": False}  # only logging
    assert _state(second) == {**ON, "IsMultiRegionTrail": False}
    assert _state(other)["IsLogging"] is False  # another region's trail: not this finding's


# -- validation -----------------------------------------------------------------------
def test_validation_finding_on_a_single_region_trail_leaves_it_single_region(
        ctx: Context) -> None:
    arn = _trail("s3events", multi=False, validation=False, data_events=True)
    (r,) = handle(_hub_trail("CloudTrail.4", arn), ctx)
    assert (r.policy, r.outcome, r.resource) == (
        "cloudtrail-log-validation", Outcome.REMEDIATED, arn)
    assert _ops(r.changes) == [("UpdateTrail", {"Name": arn, "EnableLogFileValidation": True})]
    assert _state(arn) == {**SINGLE, "LogFileValidationEnabled": True}
    done = rollback(ctx, str(r.incident_id), actor="test")
    assert _ops(done["changes"]) == [
        ("UpdateTrail", {"Name": arn, "EnableLogFileValidation": False})]
    assert _state(arn) == SINGLE


def test_update_trail_turning_both_off_is_undone_by_each_policy_for_its_own_aspect(
        ctx: Context) -> None:
    arn = _trail(multi=False, validation=False)
    event = cloudtrail_event("UpdateTrail", "cloudtrail", {
        "name": "phi-audit-trail", "isMultiRegionTrail": False,
        "enableLogFileValidation": False})
    results = {r.policy: r for r in handle(event, ctx)}
    assert set(results) == {"cloudtrail-multi-region", "cloudtrail-log-validation"}
    assert {r.resource for r in results.values()} == {arn}  # the name became the ARN
    assert _ops(results["cloudtrail-multi-region"].changes) == [
        ("UpdateTrail", {"Name": arn, "IsMultiRegionTrail": True})]
    assert _ops(results["cloudtrail-log-validation"].changes) == [
        ("UpdateTrail", {"Name": arn, "EnableLogFileValidation": True})]
    assert _state(arn) == ON
    rollback(ctx, str(results["cloudtrail-log-validation"].incident_id), actor="test")
    assert _state(arn) == {**ON, "LogFileValidationEnabled": False}  # multi-region kept


def test_a_harmless_update_trail_triggers_nothing(ctx: Context) -> None:
    _trail()
    event = cloudtrail_event("UpdateTrail", "cloudtrail", {
        "name": "phi-audit-trail", "s3BucketName": "elsewhere"})
    assert [r.outcome for r in handle(event, ctx)] == [Outcome.IGNORED]


# -- multi-region -----------------------------------------------------------------------
def test_multi_region_finding_leaves_a_data_event_trail_alone_when_one_multi_region_trail_logs(
        ctx: Context, build: Any) -> None:
    primary = _trail("org-audit", "us-west-2")  # multi-region, logging, homed elsewhere
    s3events = _trail("s3events", multi=False, data_events=True)
    account = handle(_hub_account("CloudTrail.1"), ctx)[0]
    named = handle(cloudtrail_event("UpdateTrail", "cloudtrail", {
        "name": s3events, "isMultiRegionTrail": False}), ctx)[0]
    assert [(r.policy, r.outcome, r.changes) for r in (account, named)] == [
        ("cloudtrail-multi-region", Outcome.COMPLIANT, [])] * 2
    assert "stays single-region" in str(named.reason)  # the outcome says why
    assert str(account.reason).startswith("already compliant when checked; ")
    assert _state(s3events) == {**SINGLE, "LogFileValidationEnabled": True}
    assert _state(primary) == ON
    plan = build("cloudtrail_restore", resource=_trail_resource(s3events),
                 aspect="multi_region").plan()
    assert plan.is_noop and plan.before == {"Aspect": "multi_region", "Trails": {
        primary: {"IsMultiRegionTrail": True, "IsLogging": True}}}
    (reason,) = plan.notes
    assert primary in reason and "s3events stays single-region" in reason


def test_multi_region_finding_with_none_makes_the_named_trail_multi_region_and_rolls_back(
        ctx: Context) -> None:
    named = _trail(multi=False, logging=False)
    s3events = _trail("s3events", multi=False, data_events=True)
    stopped_multi = _trail("old-multi", logging=False)  # multi-region, but not logging
    event = cloudtrail_event("UpdateTrail", "cloudtrail", {
        "name": "phi-audit-trail", "isMultiRegionTrail": False})
    (r,) = handle(event, ctx)
    assert (r.policy, r.outcome, r.resource) == (
        "cloudtrail-multi-region", Outcome.REMEDIATED, named)
    # a stopped multi-region trail meets no control: the named trail is started too
    assert _ops(r.changes) == [("UpdateTrail", {"Name": named, "IsMultiRegionTrail": True}),
                               ("StartLogging", {"Name": named})]
    assert _state(named) == ON
    assert _state(s3events)["IsMultiRegionTrail"] is False
    assert _state(stopped_multi)["IsLogging"] is False  # not this finding's trail
    done = rollback(ctx, str(r.incident_id), actor="test")
    assert _ops(done["changes"]) == [
        ("UpdateTrail", {"Name": named, "IsMultiRegionTrail": False}),
        ("StopLogging", {"Name": named})]
    assert _state(named) == {"IsLogging": False, "IsMultiRegionTrail": False,
                             "LogFileValidationEnabled": True}


def test_account_level_multi_region_finding_makes_the_only_trail_multi_region(
        ctx: Context) -> None:
    only = _trail(multi=False, validation=False)
    (r,) = handle(config_event("multi-region-cloudtrail-enabled", "AWS::::Account", ACCOUNT),
                  ctx)
    assert (r.policy, r.outcome) == ("cloudtrail-multi-region", Outcome.REMEDIATED)
    assert _ops(r.changes) == [("UpdateTrail", {"Name": only, "IsMultiRegionTrail": True})]
    assert _state(only) == {**ON, "LogFileValidationEnabled": False}


def test_several_trails_and_none_designated_is_recorded_then_primary_trail_decides(
        ctx: Context, build: Any) -> None:
    first = _trail("trail-a", multi=False)
    second = _trail("trail-b", multi=False, data_events=True)
    (r,) = handle(_hub_account("CloudTrail.1"), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED and "primary_trail" in str(r.reason)
    assert _state(first)["IsMultiRegionTrail"] is _state(second)["IsMultiRegionTrail"] is False

    rem = build("cloudtrail_restore", resource=Resource(type=ACCOUNT_TYPE,
                                                        id=f"{ACCOUNT}/us-east-1"),
                aspect="multi_region", primary_trail="trail-a")
    plan = rem.plan()
    assert plan.notes == [f"no multi-region trail logs for us-east-1: {first} becomes "
                          "multi-region because it is the policy's primary_trail trail-a"]
    rem.apply(plan)
    rem.verify(plan)
    assert _state(first)["IsMultiRegionTrail"] is True
    assert _state(second)["IsMultiRegionTrail"] is False
    assert [c.operation for c in rem.rollback(plan)] == ["UpdateTrail"]
    assert _state(first)["IsMultiRegionTrail"] is False


# -- dry-run, rollback guards, legacy plans ---------------------------------------------
@pytest.mark.parametrize("event, policy, operations", [
    (lambda arn: load_event("cloudtrail_stop_logging"), "cloudtrail-on", ["StartLogging"]),
    (lambda arn: _hub_trail("CloudTrail.4", arn), "cloudtrail-log-validation",
     ["UpdateTrail"]),
    (lambda arn: _hub_account("CloudTrail.1"), "cloudtrail-multi-region",
     ["UpdateTrail", "StartLogging"]),
])
def test_dry_run_plans_the_exact_calls_and_makes_none(
        ctx_log: tuple[Context, CallLog], event: Any, policy: str,
        operations: list[str]) -> None:
    ctx, log = ctx_log
    arn = _trail(logging=False, multi=False, validation=False)
    (r,) = handle(event(arn), ctx, dry_run=True)
    assert (r.policy, r.outcome) == (policy, Outcome.DRY_RUN)
    assert [c["operation"] for c in r.changes] == operations
    assert all(c["params"]["Name"] == arn for c in r.changes)
    assert not WRITES & set(log.actions)
    assert _state(arn) == {"IsLogging": False, "IsMultiRegionTrail": False,
                           "LogFileValidationEnabled": False}


def test_rollback_refuses_after_someone_else_changed_the_fixed_setting(ctx: Context) -> None:
    arn = _trail(logging=False)
    (r,) = handle(load_event("cloudtrail_stop_logging"), ctx)
    boto3.client("cloudtrail", region_name="us-east-1").stop_logging(Name=arn)
    with pytest.raises(RollbackConflict):
        rollback(ctx, str(r.incident_id), actor="test")


def test_rollback_keeps_a_later_change_to_a_setting_the_fix_did_not_touch(
        ctx: Context) -> None:
    arn = _trail(logging=False)
    (r,) = handle(load_event("cloudtrail_stop_logging"), ctx)
    boto3.client("cloudtrail", region_name="us-east-1").update_trail(
        Name=arn, IsMultiRegionTrail=False)
    rollback(ctx, str(r.incident_id), actor="test")
    assert _state(arn) == {"IsLogging": False, "IsMultiRegionTrail": False,
                           "LogFileValidationEnabled": True}


def test_a_plan_recorded_before_aspects_rolls_back_its_three_settings(build: Any) -> None:
    arn = _trail()  # fixed by the old all-three remediation from all off
    old = {"Trails": {arn: {"IsLogging": False, "IsMultiRegionTrail": False,
                            "LogFileValidationEnabled": False}}}
    plan = Plan(remediation="cloudtrail_restore", resource=_trail_resource(arn),
                account=ACCOUNT, region="us-east-1", before=old,
                after={"Trails": {arn: dict(ON)}})
    rem = build("cloudtrail_restore", resource=_trail_resource(arn))  # rollback: no params
    assert [c.operation for c in rem.rollback(plan)] == ["UpdateTrail", "StopLogging"]
    assert _state(arn) == old["Trails"][arn]


# -- recorded, not changed --------------------------------------------------------------
def test_no_trail_at_all_is_recorded_for_responders(ctx: Context) -> None:
    (r,) = handle(config_event("cloudtrail-enabled", "AWS::::Account", ACCOUNT), ctx)
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
    (r,) = handle(event, ctx)
    assert (r.policy, r.outcome, r.resource) == ("cloudtrail-on", Outcome.REMEDIATED, arn)
    incident = ctx.store.incident(str(r.incident_id))
    assert incident.breach_notification_deadline is not None  # a GuardDuty finding


def test_delete_trail_opens_a_critical_incident_and_changes_nothing(ctx: Context) -> None:
    event = cloudtrail_event("DeleteTrail", "cloudtrail", {"name": ARN})
    (r,) = handle(event, ctx)
    assert (r.policy, r.outcome) == ("cloudtrail-deleted", Outcome.INCIDENT_OPENED)
    assert r.changes == []


@pytest.mark.parametrize("aspect", ["logging", "validation", "multi_region"])
def test_an_organization_trail_of_the_management_account_is_left_alone(
        build: Any, aspect: str) -> None:
    from botocore.stub import Stubber

    org = "arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail"
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    trail = {"Name": "org-trail", "TrailARN": org, "HomeRegion": "us-east-1",
             "IsOrganizationTrail": True, "IsMultiRegionTrail": False}
    stub.add_response("describe_trails", {"trailList": [trail]})
    if aspect == "multi_region":  # no logging multi-region trail covers: the named one
        stub.add_response("describe_trails", {"trailList": [trail]})
    rem = build("cloudtrail_restore", resource=_trail_resource(org), aspect=aspect)
    rem.target.clients = lambda service: client
    with stub, pytest.raises(HandsOff, match="organization trail managed from account"):
        rem.plan()
