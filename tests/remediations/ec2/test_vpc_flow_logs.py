"""vpc_flow_logs against moto: one ALL-traffic flow log to the configured destination,
never a second one; unset destination fails and creates nothing; rollback deletes ours."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, config_event

DESTINATION = "arn:aws:s3:::org-flow-logs/phi/"


@pytest.fixture
def ec2(aws: None) -> Any:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="org-flow-logs")
    return boto3.client("ec2", region_name="us-east-1")


@pytest.fixture
def flow_ctx(aws: None) -> Context:
    return make_context(flow_logs_destination=DESTINATION)[0]


def _logs(ec2: Any, vpc: str) -> list[tuple[str, str]]:
    found = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])
    return [(f["TrafficType"], f["LogDestination"]) for f in found["FlowLogs"]]


def _created(vpc: str) -> dict[str, Any]:
    return cloudtrail_event("CreateVpc", "ec2", {"cidrBlock": "10.0.0.0/16"},
                            {"vpc": {"vpcId": vpc}})


def test_a_new_vpc_gets_a_flow_log_once_and_rollback_removes_it(flow_ctx: Context,
                                                                ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    r = handle(_created(vpc), flow_ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED,
                                       f"arn:aws:ec2:us-east-1:123456789012:vpc/{vpc}")
    assert _logs(ec2, vpc) == [("ALL", DESTINATION)]
    again = handle(config_event("vpc-flow-logs-enabled", "AWS::EC2::VPC", vpc), flow_ctx)[0]
    assert again.outcome is Outcome.COMPLIANT and _logs(ec2, vpc) == [("ALL", DESTINATION)]
    rollback(flow_ctx, str(r.incident_id), actor="test")
    assert _logs(ec2, vpc) == []


def test_deleted_flow_logs_are_restored_for_every_vpc_without_one(flow_ctx: Context,
                                                                  ec2: Any) -> None:
    vpcs = [ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"] for n in (1, 2)]
    ec2.create_flow_logs(ResourceIds=[vpcs[0]], ResourceType="VPC", TrafficType="ALL",
                         LogDestinationType="s3", LogDestination=DESTINATION)
    event = cloudtrail_event("DeleteFlowLogs", "ec2", {"DeleteFlowLogsRequest": {
        "FlowLogId": {"content": "fl-0123", "tag": 1}}})
    r = handle(event, flow_ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    every = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}  # moto's default VPC too
    assert set(r.changes[0]["params"]["ResourceIds"]) == every - {vpcs[0]}
    assert all(_logs(ec2, v) == [("ALL", DESTINATION)] for v in vpcs)


def test_without_a_destination_the_fix_fails_naming_the_variable(ctx: Context,
                                                                 ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    r = handle(_created(vpc), ctx)[0]
    assert r.outcome is Outcome.FAILED
    assert "REMEDIATION_FLOW_LOGS_DESTINATION" in str(r.reason)
    assert _logs(ec2, vpc) == []


def test_a_destination_that_is_not_a_bucket_arn_is_refused(aws: None, ec2: Any) -> None:
    ctx, _ = make_context(flow_logs_destination="s3://org-flow-logs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    r = handle(_created(vpc), ctx)[0]
    assert r.outcome is Outcome.FAILED and "not an S3 bucket ARN" in str(r.reason)
