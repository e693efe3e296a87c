"""logs_retention against moto: retention read back; never shortened; rollback exact."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event, config_event


@pytest.fixture
def logs(aws: None) -> Any:
    return boto3.client("logs", region_name="us-east-1")


def _retention(logs: Any, name: str) -> int | None:
    group = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    return group.get("retentionInDays")


def _shortened(name: str, days: int) -> dict[str, Any]:
    return cloudtrail_event("PutRetentionPolicy", "logs",
                            {"logGroupName": name, "retentionInDays": days})


def test_a_short_retention_is_raised_to_six_years_and_rolled_back(ctx: Context,
                                                                  logs: Any) -> None:
    logs.create_log_group(logGroupName="/phi/api")
    logs.put_retention_policy(logGroupName="/phi/api", retentionInDays=30)
    r = handle(_shortened("/phi/api", 30), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert r.resource == "arn:aws:logs:us-east-1:123456789012:log-group:/phi/api"
    assert _retention(logs, "/phi/api") == 2192
    rollback(ctx, str(r.incident_id), actor="test")
    assert _retention(logs, "/phi/api") == 30


def test_never_expiring_and_longer_retention_are_compliant(ctx: Context, logs: Any) -> None:
    logs.create_log_group(logGroupName="/phi/forever")
    created = cloudtrail_event("CreateLogGroup", "logs", {"logGroupName": "/phi/forever"})
    results = {r.policy: r for r in handle(created, ctx)}
    assert results["logs-retention"].outcome is Outcome.COMPLIANT
    logs.create_log_group(logGroupName="/phi/long")
    logs.put_retention_policy(logGroupName="/phi/long", retentionInDays=3653)
    event = config_event("cw-loggroup-retention-period-check", "AWS::Logs::LogGroup",
                         "/phi/long")
    assert handle(event, ctx)[0].outcome is Outcome.COMPLIANT
    assert _retention(logs, "/phi/long") == 3653  # never shortened


def test_the_minimum_is_a_policy_parameter_rounded_up_to_what_logs_accepts(
        build: Any, logs: Any) -> None:
    from chalicelib.finding import Resource

    logs.create_log_group(logGroupName="/phi/short")
    logs.put_retention_policy(logGroupName="/phi/short", retentionInDays=7)
    rem = build("logs_retention", resource=Resource(type="AWS::Logs::LogGroup",
                                                    id="/phi/short"), min_days=100)
    plan = rem.plan()
    assert plan.after == {"retentionInDays": 120}  # 100 is not a CloudWatch value
    rem.apply(plan)
    assert rem.verify(plan) == {"retentionInDays": 120}


def test_a_retention_at_the_minimum_triggers_nothing(ctx: Context) -> None:
    assert handle(_shortened("/phi/x", 2557), ctx)[0].outcome is Outcome.IGNORED


def test_a_missing_group_is_ignored_with_the_reason(ctx: Context) -> None:
    r = handle(_shortened("/phi/gone", 1), ctx)[0]
    assert r.outcome is Outcome.IGNORED and r.incident_id is None
    assert str(r.reason).startswith("resource no longer exists: no log group /phi/gone")
