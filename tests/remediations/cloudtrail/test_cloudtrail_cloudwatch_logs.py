"""cloudtrail_cloudwatch_logs against moto: the trail delivers to the operator's log group
(read back with GetTrail), only when it delivers nowhere; unset settings fail naming both
variables; rollback clears the delivery; organization trails are recorded."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import HandsOff
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, config_event
from tests.remediations.cloudtrail.trails import (
    GROUP,
    ROLE,
    get_trail,
    make_trail,
    org_trail_stub,
    trail_resource,
)

RULE = "cloud-trail-cloud-watch-logs-enabled-conformance-pack-abc123"


@pytest.fixture
def logs_ctx(aws: None) -> Context:
    return make_context(trail_log_group_arn=GROUP, trail_logs_role_arn=ROLE)[0]


def _delivery(arn: str) -> tuple[str, str]:
    trail = get_trail(arn)
    return (trail.get("CloudWatchLogsLogGroupArn", ""), trail.get("CloudWatchLogsRoleArn", ""))


def test_a_trail_is_sent_to_the_log_group_and_rolled_back(logs_ctx: Context) -> None:
    arn = make_trail()
    r = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), logs_ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, arn)
    assert [(c["operation"], c["params"]) for c in r.changes] == [("UpdateTrail", {
        "Name": arn, "CloudWatchLogsLogGroupArn": GROUP, "CloudWatchLogsRoleArn": ROLE})]
    assert _delivery(arn) == (GROUP, ROLE)
    again = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"),
                   logs_ctx)[0]
    assert again.outcome is Outcome.COMPLIANT
    rollback(logs_ctx, str(r.incident_id), actor="test")
    assert _delivery(arn) == ("", "")


def test_update_trail_removing_the_delivery_is_undone(logs_ctx: Context) -> None:
    arn = make_trail()
    event = cloudtrail_event("UpdateTrail", "cloudtrail",
                             {"name": arn, "cloudWatchLogsLogGroupArn": ""})
    assert handle(event, logs_ctx)[0].outcome is Outcome.REMEDIATED
    assert _delivery(arn) == (GROUP, ROLE)
    harmless = cloudtrail_event("UpdateTrail", "cloudtrail",
                                {"name": arn, "enableLogFileValidation": True})
    assert all(r.policy != "cloudtrail-cloudwatch-logs" for r in handle(harmless, logs_ctx))


def test_a_trail_delivering_to_another_group_is_left_alone(logs_ctx: Context) -> None:
    other = "arn:aws:logs:us-east-1:123456789012:log-group:team-trail:*"
    arn = make_trail()
    boto3.client("cloudtrail", region_name="us-east-1").update_trail(
        Name=arn, CloudWatchLogsLogGroupArn=other, CloudWatchLogsRoleArn=ROLE)
    r = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), logs_ctx)[0]
    assert r.outcome is Outcome.COMPLIANT and _delivery(arn) == (other, ROLE)


@pytest.mark.parametrize(("settings", "named"), [
    ({}, ["REMEDIATION_TRAIL_LOG_GROUP_ARN", "REMEDIATION_TRAIL_LOGS_ROLE_ARN"]),
    ({"trail_log_group_arn": GROUP}, ["REMEDIATION_TRAIL_LOGS_ROLE_ARN"]),
])
def test_unset_settings_fail_naming_them_and_change_nothing(
        aws: None, settings: dict[str, str], named: list[str]) -> None:
    ctx = make_context(**settings)[0]
    arn = make_trail()
    r = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), ctx)[0]
    assert r.outcome is Outcome.FAILED
    assert all(var in str(r.reason) for var in named)
    assert _delivery(arn) == ("", "")


def test_a_group_outside_the_trails_home_region_is_refused(aws: None) -> None:
    ctx = make_context(trail_log_group_arn=GROUP, trail_logs_role_arn=ROLE)[0]
    arn = make_trail("eu-trail", "eu-west-1")
    event = cloudtrail_event("UpdateTrail", "cloudtrail",
                             {"name": arn, "cloudWatchLogsLogGroupArn": ""})
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.FAILED and "home in eu-west-1" in str(r.reason)
    assert _delivery(arn) == ("", "")


def test_dry_run_changes_nothing(logs_ctx: Context) -> None:
    arn = make_trail()
    (r,) = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"),
                  logs_ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN and r.changes[0]["operation"] == "UpdateTrail"
    assert _delivery(arn) == ("", "")


def test_an_exempt_trail_is_left_alone(logs_ctx: Context) -> None:
    arn = make_trail(TagsList=[{"Key": "autoremediate:exempt", "Value": "true"}])
    r = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), logs_ctx)[0]
    assert r.outcome is Outcome.EXEMPT and _delivery(arn) == ("", "")


def test_account_level_result_fixes_every_own_trail_homed_in_the_region(
        build: Any) -> None:
    from chalicelib.finding import account_resource

    arns = [make_trail("trail-one"), make_trail("trail-two")]
    eu = make_trail("eu-trail", "eu-west-1")  # homed elsewhere: not this region's result
    rem = build("cloudtrail_cloudwatch_logs", resource=account_resource(
        "123456789012", "us-east-1"), log_group_arn=GROUP, logs_role_arn=ROLE)
    plan = rem.plan()
    assert [c.params["Name"] for c in plan.calls] == sorted(arns)
    rem.apply(plan)
    rem.verify(plan)
    assert all(_delivery(a) == (GROUP, ROLE) for a in arns)
    assert _delivery(eu) == ("", "")


def test_an_organization_trail_of_the_management_account_is_recorded(build: Any) -> None:
    rem, stub = org_trail_stub(build, "cloudtrail_cloudwatch_logs",
                               log_group_arn=GROUP, logs_role_arn=ROLE)
    with stub, pytest.raises(HandsOff, match="organization trail managed from account"):
        rem.plan()


def test_the_named_trail_resolves_to_its_arn(build: Any) -> None:
    arn = make_trail()
    rem = build("cloudtrail_cloudwatch_logs", resource=trail_resource(arn),
                log_group_arn=GROUP, logs_role_arn=ROLE)
    assert list(rem.read()["Trails"]) == [arn]
