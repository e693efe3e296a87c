"""sg_revoke_open_ingress against moto: exactly the world-open rules on disallowed ports
go; everything else stays; rollback restores them by content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, config_event

SSH_WORLD = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def _group(ec2: Any, name: str = "web", tags: dict[str, str] | None = None) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    spec = [{"ResourceType": "security-group",
             "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]
    return str(ec2.create_security_group(GroupName=name, Description="d", VpcId=vpc,
                                         **({"TagSpecifications": spec} if tags else {}))[
        "GroupId"])


def rules(ec2: Any, group: str, *, egress: bool = False) -> list[tuple[Any, ...]]:
    found = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    return sorted((r["IpProtocol"], r["FromPort"], r["ToPort"],
                   r.get("CidrIpv4") or r.get("CidrIpv6") or "")
                  for r in found if r["IsEgress"] == egress)


def opened(group: str, cidr: str = "0.0.0.0/0", port: int = 22) -> dict[str, Any]:
    return cloudtrail_event("AuthorizeSecurityGroupIngress", "ec2", {
        "groupId": group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": port, "toPort": port,
            "ipRanges": {"items": [{"cidrIp": cidr}]}}]}})


def test_only_the_world_open_ssh_rule_goes_and_comes_back(ctx: Context, ec2: Any) -> None:
    group = _group(ec2)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    before = rules(ec2, group)
    r = handle(opened(group), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert r.resource == f"arn:aws:ec2:us-east-1:123456789012:security-group/{group}"
    assert rules(ec2, group) == [("tcp", 22, 22, "10.0.0.0/8"), ("tcp", 443, 443, "0.0.0.0/0"),
                                 ("tcp", 443, 443, "::/0")]
    assert rules(ec2, group, egress=True) == [("-1", -1, -1, "0.0.0.0/0")]  # untouched
    plan = ctx.store.incident(str(r.incident_id)).fix
    assert plan and SSH_WORLD in plan["before"]["Ingress"]
    assert [x for x in plan["before"]["Ingress"] if x not in plan["after"]["Ingress"]] == [
        SSH_WORLD]  # the diff responders see: only the world-open SSH rule goes
    rollback(ctx, str(r.incident_id), actor="test")
    assert rules(ec2, group) == before


def test_ranges_all_protocols_and_ipv6_are_open_on_disallowed_ports(ctx: Context,
                                                                    ec2: Any) -> None:
    group = _group(ec2)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 400, "ToPort": 500,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},          # includes 443, but also 400..
        {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "udp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = handle(config_event("restricted-common-ports", "AWS::EC2::SecurityGroup", group),
               ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert rules(ec2, group) == [("udp", 443, 443, "0.0.0.0/0")]


def test_allowed_ports_are_a_policy_parameter(aws: None, ec2: Any, tmp_path: Path) -> None:
    text = (Path("policies") / "80-network.yaml").read_text().replace(
        "{allowed_ports: [443]}", "{allowed_ports: [443, 80]}", 1)
    (tmp_path / "p.yaml").write_text(text)
    ctx, _ = make_context(policy_dir=tmp_path)
    group = _group(ec2)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert handle(opened(group, port=80), ctx)[0].outcome is Outcome.COMPLIANT
    assert rules(ec2, group) == [("tcp", 80, 80, "0.0.0.0/0")]


def test_a_narrow_cidr_triggers_nothing(ctx: Context, ec2: Any) -> None:
    group = _group(ec2)
    assert handle(opened(group, cidr="10.0.0.0/8"), ctx)[0].outcome is Outcome.IGNORED


def test_group_references_and_prefix_lists_stay_whatever_their_ports(ctx: Context,
                                                                    ec2: Any) -> None:
    group, other = _group(ec2), _group(ec2, "bastion")
    prefix = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=2,
                                            AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "UserIdGroupPairs": [{"GroupId": other}], "PrefixListIds": [{"PrefixListId": prefix}],
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert handle(opened(group), ctx)[0].outcome is Outcome.REMEDIATED
    left = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    peers = sorted(str(r.get("ReferencedGroupInfo", {}).get("GroupId") or r.get("PrefixListId"))
                   for r in left if not r["IsEgress"])
    assert peers == sorted([other, prefix])
