"""Public network paths and copies through the `remediate` executable against
moto_server: one end-to-end test per family (security groups, snapshots, account-level S3
block, flow logs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli, aws_client, event_file
from tests.helpers import ACCOUNT, ALL_ON, cloudtrail_event, load_event


def _ingress(ec2: Any, group: str) -> list[tuple[int, str]]:
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    return sorted((r["FromPort"], r.get("CidrIpv4", "")) for r in rules if not r["IsEgress"])


def test_ssh_opened_to_the_world_goes_and_only_it(cli: Cli, moto_url: str,
                                                  tmp_path: Path) -> None:
    ec2 = aws_client(moto_url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=f"g-{tmp_path.name}"[:60], Description="d",
                                      VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}]}])
    before = _ingress(ec2, group)
    event = load_event("cloudtrail_authorize_security_group_ingress")
    event["detail"]["requestParameters"]["groupId"] = group
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert (code, out["outcome"]) == (0, "remediated"), out.get("reason")
    assert _ingress(ec2, group) == [(22, "10.0.0.0/8"), (443, "0.0.0.0/0")]
    code, _ = cli.json("rollback", out["incident_id"])
    assert code == 0 and _ingress(ec2, group) == before


def test_public_snapshots_are_private_again(cli: Cli, moto_url: str, tmp_path: Path) -> None:
    ec2 = aws_client(moto_url, "ec2")
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                  OperationType="add", GroupNames=["all"])
    event = cloudtrail_event("ModifySnapshotAttribute", "ec2", {
        "snapshotId": snapshot, "createVolumePermission": {"add": {"items": [
            {"group": "all"}]}}})
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert (code, out["outcome"]) == (0, "remediated"), out.get("reason")
    assert ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute=(
        "createVolumePermission"))["CreateVolumePermissions"] == []


def test_account_block_public_access_through_s3control(cli: Cli, moto_url: str,
                                                       tmp_path: Path) -> None:
    code, out = cli.json("handle", event_file(tmp_path, cloudtrail_event(
        "DeleteAccountPublicAccessBlock", "s3", {})))
    assert (code, out["outcome"]) == (0, "remediated"), out.get("reason")
    from chalicelib.aws import _strip_account_host

    s3control = aws_client(moto_url, "s3control")  # the test's own client needs it too
    s3control.meta.events.register("before-sign.s3-control.*", _strip_account_host)
    got = s3control.get_public_access_block(AccountId=ACCOUNT)
    assert got["PublicAccessBlockConfiguration"] == ALL_ON
    code, _ = cli.json("rollback", out["incident_id"])
    assert code == 0


def test_flow_logs_need_their_destination(cli: Cli, moto_url: str, tmp_path: Path) -> None:
    ec2 = aws_client(moto_url, "ec2")
    aws_client(moto_url, "s3").create_bucket(Bucket="e2e-flow-logs")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    event = cloudtrail_event("CreateVpc", "ec2", {}, {"vpc": {"vpcId": vpc}})
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert (code, out["outcome"]) == (1, "failed")
    assert "REMEDIATION_FLOW_LOGS_DESTINATION" in out["reason"]
    event = cloudtrail_event("CreateVpc", "ec2", {}, {"vpc": {"vpcId": vpc}})
    code, out = cli.json("handle", event_file(tmp_path, event), env={
        "REMEDIATION_FLOW_LOGS_DESTINATION": "arn:aws:s3:::e2e-flow-logs/vpc/"})
    assert (code, out["outcome"]) == (0, "remediated"), out.get("reason")
    logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])
    assert [f["LogDestination"] for f in logs["FlowLogs"]] == ["arn:aws:s3:::e2e-flow-logs/vpc/"]
