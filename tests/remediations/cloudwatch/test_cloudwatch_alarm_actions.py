"""cloudwatch_alarm_actions against moto: the topic is added to the empty action lists and
every other field of the alarm reads back unchanged; rollback puts the saved definition
back; target-tracking alarms are recorded; an unset topic fails naming the variable."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import HandsOff
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from remediations.cloudwatch.cloudwatch_alarm_actions import definition
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, config_event

TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"
OTHER = "arn:aws:sns:us-east-1:123456789012:team-pager"
RULE = "cloudwatch-alarm-action-check-conformance-pack-zz9"


@pytest.fixture
def cw(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name="us-east-1")


@pytest.fixture
def alarm_ctx(aws: None) -> Context:
    return make_context(alarm_topic_arn=TOPIC)[0]


def _alarm(cw: Any, name: str = "phi-db-cpu", **extra: Any) -> None:
    settings = {"MetricName": "CPUUtilization", "Namespace": "AWS/RDS",
                "ExtendedStatistic": "p99", "Dimensions": [
                    {"Name": "DBInstanceIdentifier", "Value": "phi-db"}],
                "Period": 300, "Unit": "Percent", "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2, "Threshold": 90.0,
                "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "breaching",
                "EvaluateLowSampleCountPercentile": "ignore", "OKActions": [OTHER],
                "AlarmDescription": "PHI database saturated",
                "Tags": [{"Key": "owner", "Value": "dba"}], **extra}
    cw.put_metric_alarm(AlarmName=name, **settings)


def _read(cw: Any, name: str = "phi-db-cpu") -> dict[str, Any]:
    return definition(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])


def _tags(cw: Any, name: str = "phi-db-cpu") -> list[dict[str, str]]:
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    return list(cw.list_tags_for_resource(ResourceARN=arn)["Tags"])


def test_the_topic_is_added_keeping_every_field_and_rolled_back(
        alarm_ctx: Context, cw: Any) -> None:
    _alarm(cw)
    before = _read(cw)
    r = handle(config_event(RULE, "AWS::CloudWatch::Alarm", "phi-db-cpu"), alarm_ctx)[0]
    assert (r.outcome, r.resource) == (
        Outcome.REMEDIATED, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:phi-db-cpu")
    after = _read(cw)
    assert after == {**before, "AlarmActions": [TOPIC], "InsufficientDataActions": [TOPIC]}
    assert after["OKActions"] == [OTHER] and after["ExtendedStatistic"] == "p99"
    assert _tags(cw) == [{"Key": "owner", "Value": "dba"}]
    assert handle(config_event(RULE, "AWS::CloudWatch::Alarm", "phi-db-cpu"),
                  alarm_ctx)[0].outcome is Outcome.COMPLIANT
    rollback(alarm_ctx, str(r.incident_id), actor="test")
    assert _read(cw) == before


def test_only_the_empty_list_gets_the_topic_and_metric_math_is_kept(
        alarm_ctx: Context, cw: Any) -> None:
    cw.put_metric_alarm(
        AlarmName="phi-error-rate", EvaluationPeriods=1, Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[OTHER],
        ThresholdMetricId="rate", Metrics=[
            {"Id": "errors", "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": "PHI/App", "MetricName": "Errors"},
                "Period": 60, "Stat": "Sum"}},
            {"Id": "rate", "Expression": "errors * 100", "ReturnData": True}])
    before = _read(cw, "phi-error-rate")
    event = cloudtrail_event("PutMetricAlarm", "monitoring",
                             {"alarmName": "phi-error-rate", "alarmActions": [OTHER]})
    r = handle(event, alarm_ctx)[0]
    assert (r.policy, r.outcome) == ("cloudwatch-alarm-actions", Outcome.REMEDIATED)
    after = _read(cw, "phi-error-rate")
    assert after == {**before, "InsufficientDataActions": [TOPIC]}
    assert after["AlarmActions"] == [OTHER] and after["Metrics"] == before["Metrics"]


def test_put_metric_alarm_with_both_actions_triggers_nothing(alarm_ctx: Context) -> None:
    event = cloudtrail_event("PutMetricAlarm", "monitoring", {
        "alarmName": "x", "alarmActions": [TOPIC], "insufficientDataActions": [TOPIC]})
    assert all(r.policy != "cloudwatch-alarm-actions" for r in handle(event, alarm_ctx))


def test_without_a_topic_the_fix_fails_naming_the_variable(ctx: Context, cw: Any) -> None:
    _alarm(cw)
    before = _read(cw)
    r = handle(config_event(RULE, "AWS::CloudWatch::Alarm", "phi-db-cpu"), ctx)[0]
    assert r.outcome is Outcome.FAILED and "REMEDIATION_ALARM_TOPIC_ARN" in str(r.reason)
    assert _read(cw) == before


def test_dry_run_and_exemption_change_nothing(alarm_ctx: Context, cw: Any) -> None:
    _alarm(cw)
    before = _read(cw)
    (r,) = handle(config_event(RULE, "AWS::CloudWatch::Alarm", "phi-db-cpu"), alarm_ctx,
                  dry_run=True)
    assert r.outcome is Outcome.DRY_RUN and r.changes[0]["operation"] == "PutMetricAlarm"
    assert _read(cw) == before
    cw.tag_resource(ResourceARN="arn:aws:cloudwatch:us-east-1:123456789012:alarm:phi-db-cpu",
                    Tags=[{"Key": "autoremediate:exempt", "Value": "true"}])
    r = handle(config_event(RULE, "AWS::CloudWatch::Alarm", "phi-db-cpu"), alarm_ctx)[0]
    assert r.outcome is Outcome.EXEMPT and _read(cw) == before


def test_a_target_tracking_alarm_is_recorded_not_changed(build: Any, cw: Any) -> None:
    name = "TargetTracking-table/phi-AlarmHigh-0f1e2d"
    _alarm(cw, name, Tags=[])
    rem = build("cloudwatch_alarm_actions", resource=Resource(
        type="AWS::CloudWatch::Alarm", id=name,
        arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"), topic_arn=TOPIC)
    with pytest.raises(HandsOff, match="Application Auto Scaling"):
        rem.plan()
    assert not _read(cw, name).get("AlarmActions")


def test_a_topic_in_another_region_is_refused(aws: None, cw: Any) -> None:
    ctx = make_context(alarm_topic_arn=TOPIC.replace("us-east-1", "eu-west-1"))[0]
    _alarm(cw)
    r = handle(config_event(RULE, "AWS::CloudWatch::Alarm", "phi-db-cpu"), ctx)[0]
    assert r.outcome is Outcome.FAILED and "can notify only a topic there" in str(r.reason)


def test_declared_permissions_cover_the_fix(build: Any, cw: Any) -> None:
    _alarm(cw)
    rem = build("cloudwatch_alarm_actions", resource=Resource(
        type="AWS::CloudWatch::Alarm", id="phi-db-cpu",
        arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:phi-db-cpu"), topic_arn=TOPIC)
    assert rem.tags() == {"owner": "dba"}
    plan = rem.plan()
    rem.apply(plan)
    assert rem.verify(plan)["Definition"]["AlarmActions"] == [TOPIC]
