"""cloudtrail_s3_data_events against moto: after approval the configured trail logs S3
data events for every bucket but its own (read back with GetEventSelectors), its other
selectors kept in its style; rollback puts the saved selectors back; unset trail fails."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.errors import HandsOff
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import ACCOUNT, cloudtrail_event, config_event
from tests.remediations.cloudtrail.trails import make_trail, org_trail_stub

RULE = "cloudtrail-s3-dataevents-enabled-conformance-pack-d4t4"
MANAGEMENT = {"ReadWriteType": "All", "IncludeManagementEvents": True}  # AWS's default
OURS = {"Name": "autoremediate-s3-data-events", "FieldSelectors": [
    {"Field": "eventCategory", "Equals": ["Data"]},
    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
    {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::phi-audit-trail-logs-us-east-1/"]}]}


@pytest.fixture
def data_ctx(aws: None, kms_key: str) -> Context:
    return make_context(data_events_trail="phi-audit-trail", approvers=("U_ONCALL",))[0]


def _selectors(arn: str) -> tuple[list[Any], list[Any]]:
    got = boto3.client("cloudtrail", region_name="us-east-1").get_event_selectors(
        TrailName=arn)
    return list(got.get("EventSelectors") or []), list(got.get("AdvancedEventSelectors") or [])


def _put(arn: str, **selectors: Any) -> None:
    boto3.client("cloudtrail", region_name="us-east-1").put_event_selectors(
        TrailName=arn, **selectors)


def _result() -> dict[str, Any]:
    return config_event(RULE, "AWS::::Account", ACCOUNT)


def test_advanced_selectors_are_kept_ours_added_and_rolled_back(data_ctx: Context) -> None:
    arn = make_trail(IsMultiRegionTrail=True)
    lambda_events = {"Name": "lambda", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]}]}
    _put(arn, AdvancedEventSelectors=[lambda_events])
    (r,) = handle(_result(), data_ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED and _selectors(arn) == ([], [lambda_events])
    done = decide(data_ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED
    assert _selectors(arn) == ([], [lambda_events, OURS])
    assert handle(_result(), data_ctx)[0].outcome is Outcome.COMPLIANT
    rollback(data_ctx, str(r.incident_id), actor="test")
    assert _selectors(arn) == ([], [lambda_events])


def test_management_only_basic_selectors_become_advanced_and_come_back(
        data_ctx: Context) -> None:
    arn = make_trail()
    _put(arn, EventSelectors=[{**MANAGEMENT, "ReadWriteType": "WriteOnly"}])
    (r,) = handle(_result(), data_ctx)
    decide(data_ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert _selectors(arn) == ([], [{"Name": "management-events-1", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "readOnly", "Equals": ["false"]}]}, OURS])
    rollback(data_ctx, str(r.incident_id), actor="test")
    assert _selectors(arn) == ([{**MANAGEMENT, "ReadWriteType": "WriteOnly"}], [])


def test_basic_selectors_with_data_resources_are_recorded(build: Any, aws: None) -> None:
    arn = make_trail()
    own = [{**MANAGEMENT, "DataResources": [{"Type": "AWS::S3::Object",
                                              "Values": ["arn:aws:s3:::phi-bucket/"]}]}]
    _put(arn, EventSelectors=own)
    rem = build("cloudtrail_s3_data_events", resource=None, trail=arn)
    with pytest.raises(HandsOff, match="cannot exclude the trail's bucket"):
        rem.plan()
    assert _selectors(arn)[0] == own


def test_a_trail_logging_all_buckets_already_is_compliant(data_ctx: Context) -> None:
    arn = make_trail()
    _put(arn, EventSelectors=[{**MANAGEMENT, "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}])
    assert handle(_result(), data_ctx)[0].outcome is Outcome.COMPLIANT


def test_put_event_selectors_dropping_ours_asks_again(data_ctx: Context) -> None:
    arn = make_trail()
    _put(arn, EventSelectors=[MANAGEMENT])
    event = cloudtrail_event("PutEventSelectors", "cloudtrail", {"trailName": arn})
    (r,) = [x for x in handle(event, data_ctx) if x.policy == "cloudtrail-s3-data-events"]
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    assert r.changes[0]["params"]["AdvancedEventSelectors"][-1] == OURS


def test_without_a_trail_the_fix_fails_naming_the_variable(aws: None, kms_key: str) -> None:
    ctx = make_context(approvers=("U_ONCALL",))[0]
    arn = make_trail()
    _put(arn, EventSelectors=[MANAGEMENT])
    (r,) = handle(_result(), ctx)
    assert r.outcome is Outcome.FAILED and "REMEDIATION_DATA_EVENTS_TRAIL" in str(r.reason)
    assert _selectors(arn) == ([MANAGEMENT], [])


def test_dry_run_and_exemption_change_nothing(data_ctx: Context) -> None:
    arn = make_trail()
    _put(arn, EventSelectors=[MANAGEMENT])
    (r,) = handle(_result(), data_ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN and _selectors(arn) == ([MANAGEMENT], [])
    boto3.client("cloudtrail", region_name="us-east-1").add_tags(
        ResourceId=arn, TagsList=[{"Key": "autoremediate:exempt", "Value": "true"}])
    (r,) = handle(_result(), data_ctx)
    assert r.outcome is Outcome.EXEMPT and _selectors(arn) == ([MANAGEMENT], [])


def test_an_organization_trail_of_the_management_account_is_recorded(build: Any) -> None:
    rem, stub = org_trail_stub(build, "cloudtrail_s3_data_events",
                               trail="arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail")
    with stub, pytest.raises(HandsOff, match="organization trail managed from account"):
        rem.plan()


def test_declared_permissions_cover_the_fix(build: Any, aws: None) -> None:
    from chalicelib.finding import account_resource

    arn = make_trail()
    _put(arn, AdvancedEventSelectors=[{"Name": "m", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]}]}])
    rem = build("cloudtrail_s3_data_events", resource=account_resource(ACCOUNT, "us-east-1"),
                trail="phi-audit-trail")
    assert rem.tags() == {}
    plan = rem.plan()
    assert any("$0.10 per 100,000" in n for n in plan.notes)  # what the approver reads
    rem.apply(plan)
    assert rem.verify(plan)["Selectors"][-1] == OURS
