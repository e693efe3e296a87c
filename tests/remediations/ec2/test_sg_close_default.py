"""sg_close_default against moto: every rule of a default group goes after approval;
rollback restores them by content; a non-default group is ignored."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import config_event
from tests.remediations.ec2.test_sg_revoke_open_ingress import _group, rules


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def _default_group(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                   {"Name": "group-name",
                                                    "Values": ["default"]}])
    return str(groups["SecurityGroups"][0]["GroupId"])


def test_default_group_is_closed_after_approval_and_rolled_back(ctx: Context,
                                                                ec2: Any) -> None:
    group = _default_group(ec2)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ops"}]}])
    before = (rules(ec2, group), rules(ec2, group, egress=True))
    event = config_event("vpc-default-security-group-closed", "AWS::EC2::SecurityGroup", group)
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert (rules(ec2, group), rules(ec2, group, egress=True)) == ([], [])
    rollback(ctx, str(r.incident_id), actor="test")
    assert (rules(ec2, group), rules(ec2, group, egress=True)) == before


def test_a_group_that_is_not_a_default_group_is_ignored(ctx: Context, ec2: Any) -> None:
    group = _group(ec2, "app")
    event = config_event("vpc-default-security-group-closed", "AWS::EC2::SecurityGroup", group)
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.IGNORED and "not a VPC's default" in str(r.reason)
