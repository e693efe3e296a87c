"""sg_revoke_open_egress against moto: only on groups the policy selects by tag; the
world-open egress (default allow-all included) goes, the rest stays; rollback restores."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event
from tests.remediations.ec2.test_sg_revoke_open_ingress import _group, rules


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def _egress(group: str) -> dict[str, Any]:
    return cloudtrail_event("AuthorizeSecurityGroupEgress", "ec2", {
        "groupId": group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}})


def test_phi_group_loses_world_egress_after_approval_and_rolls_back(ctx: Context,
                                                                    ec2: Any) -> None:
    group = _group(ec2, "phi-workers", {"data-classification": "phi"})
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    before = rules(ec2, group, egress=True)
    (r,) = handle(_egress(group), ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    assert rules(ec2, group, egress=True) == [("tcp", 443, 443, "0.0.0.0/0"),
                                              ("tcp", 5432, 5432, "10.0.0.0/8")]
    rollback(ctx, str(r.incident_id), actor="test")
    assert rules(ec2, group, egress=True) == before


def test_groups_without_the_tag_are_not_acted_on(ctx: Context, ec2: Any) -> None:
    group = _group(ec2, "web")
    (r,) = handle(_egress(group), ctx)
    assert r.outcome is Outcome.IGNORED and r.incident_id is None
    assert "data-classification=phi" in str(r.reason)
    assert rules(ec2, group, egress=True) == [("-1", -1, -1, "0.0.0.0/0")]
