"""The pre-flight check on real shapes: a flow log for the VPC (CreateFlowLogs) delivering to
a moto log group, records in the default (version 2) format written with PutLogEvents,
and the shipped sg-open-ingress policy (auto, `preflight: hold_if_traffic`) run end to end.

A world-open port that carried accepted traffic waits for approval with the figures in the
reason, the notes, the Slack blocks and the timeline; an unused one is fixed at once; a
source another rule still allows is not counted; no flow logs, planned as before with the
note; nothing in the check writes to AWS (a before-call hook refuses every non-read).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import boto3
import pytest

from chalicelib import notify
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.preflight import Mode, TrafficChecked, TrafficParams
from chalicelib.record import EntryKind
from remediations import load
from tests.helpers import cloudtrail_event

ACCOUNT = "123456789012"
GROUP_NAME = "vpc-flow-logs"
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


@pytest.fixture
def logs(aws: None) -> Any:
    return boto3.client("logs", region_name="us-east-1")


class World:
    """A VPC, a subnet, a security group open to the world on 5432 and one ENI in it."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2
        self.vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.0.1.0/24")[
            "Subnet"]["SubnetId"]
        self.group = ec2.create_security_group(GroupName="db", Description="d",
                                               VpcId=self.vpc)["GroupId"]
        self.eni = ec2.create_network_interface(
            SubnetId=self.subnet, Groups=[self.group], PrivateIpAddress="10.0.1.10")[
            "NetworkInterface"]["NetworkInterfaceId"]

    def open(self, port: int, cidr: str = "0.0.0.0/0", group: str | None = None) -> None:
        self.ec2.authorize_security_group_ingress(GroupId=group or self.group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
             "IpRanges": [{"CidrIp": cidr}]}])

    def flow_logs(self, logs: Any, *, s3: bool = False) -> None:
        if s3:
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="flow-bucket")
            self.ec2.create_flow_logs(ResourceIds=[self.vpc], ResourceType="VPC",
                                      TrafficType="ALL", LogDestinationType="s3",
                                      LogDestination="arn:aws:s3:::flow-bucket")
            return
        logs.create_log_group(logGroupName=GROUP_NAME)
        self.ec2.create_flow_logs(
            ResourceIds=[self.vpc], ResourceType="VPC", TrafficType="ALL",
            LogDestinationType="cloud-watch-logs", LogGroupName=GROUP_NAME,
            DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/flow-logs")

    def records(self, logs: Any, flows: list[tuple[str, int, str]], *,
                eni: str | None = None, days_ago: float = 1, dst: str = "10.0.1.10") -> None:
        """(source, destination port, action) flows to the ENI, in the default format."""
        eni = eni or self.eni
        stream = f"{eni}-all"
        if not logs.describe_log_streams(logGroupName=GROUP_NAME,
                                         logStreamNamePrefix=stream)["logStreams"]:
            logs.create_log_stream(logGroupName=GROUP_NAME, logStreamName=stream)
        at = NOW_MS - int(days_ago * DAY_MS)
        logs.put_log_events(logGroupName=GROUP_NAME, logStreamName=stream, logEvents=[
            {"timestamp": at + i, "message": (
                f"2 {ACCOUNT} {eni} {src} {dst} {40000 + i} {port} 6 10 840 "
                f"{at // 1000} {at // 1000 + 60} {action} OK")}
            for i, (src, port, action) in enumerate(flows)])

    def ingress(self) -> list[tuple[int, str]]:
        found = self.ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [self.group]}])["SecurityGroupRules"]
        return sorted((r["FromPort"], r.get("CidrIpv4", "")) for r in found
                      if not r["IsEgress"])


def opened(group: str, port: int) -> dict[str, Any]:
    return cloudtrail_event("AuthorizeSecurityGroupIngress", "ec2", {
        "groupId": group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": port, "toPort": port,
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}})


def entry(ctx: Context, incident_id: str, kind: EntryKind) -> dict[str, Any]:
    return next(e.detail for e in ctx.store.entries(incident_id) if e.kind is kind)


LIVE = [("203.0.113.5", 5432, "ACCEPT")] * 3 + [("203.0.113.9", 5432, "ACCEPT")] * 2 + [
    ("198.51.100.7", 5432, "ACCEPT"), ("192.0.2.1", 5432, "REJECT")]


def test_a_used_port_is_held_for_approval_with_the_figures(ctx: Context, ec2: Any,
                                                          logs: Any) -> None:
    world = World(ec2)
    world.open(5432)
    world.flow_logs(logs)
    world.records(logs, LIVE)
    world.records(logs, [("203.0.113.5", 5432, "ACCEPT")], days_ago=20)  # outside 14 days
    before = world.ingress()

    r = handle(opened(world.group, 5432), ctx)[0]

    figure = "live traffic: 6 accepted flows from 3 sources to port 5432 in 14 days"
    assert r.outcome is Outcome.APPROVAL_REQUESTED and r.reason is not None
    assert r.reason.startswith(figure) and "hold_if_traffic" in r.reason
    assert world.ingress() == before  # nothing was revoked
    item = ctx.store.approval(str(r.approval_id))
    note = next(n for n in item.plan.notes if n.startswith("pre-flight: live traffic"))
    assert "on 1 ENI" in note and "203.0.113.0/24 (5)" in note and "198.51.100.0/24 (1)" in note
    assert item.plan.saved["preflight"]["cut"]["ports"] == {"5432": 6}
    asked = entry(ctx, str(r.incident_id), EntryKind.APPROVAL_REQUESTED)
    assert asked["reason"] == r.reason and note in asked["notes"]
    blocks = notify.approval_blocks(approval_id=item.approval_id, policy=ctx.policies[0],
                                    plan=item.plan, incident_id=item.incident_id,
                                    detected="d", expires_at="e", reason=r.reason)
    text = str(blocks)
    assert figure in text and note in text
    # and the evidence report says what the flow logs showed before the change
    from chalicelib import evidence

    report = evidence.build(ctx.store, since=ctx.clock() - dt.timedelta(days=1),
                            now=ctx.clock(), policies=ctx.policies)
    (row,) = report["preflight"]
    assert row["incident_id"] == r.incident_id and row["status"] == "open"
    assert any(n.startswith(f"pre-flight: {figure}") for n in row["preflight"])
    for rendered in (evidence.to_md(report), evidence.to_html(report)):
        assert "Traffic checked before changes that cut connections" in rendered
        assert figure in rendered


def test_an_unused_port_is_fixed_at_once(ctx: Context, ec2: Any, logs: Any) -> None:
    world = World(ec2)
    world.open(5432)
    world.open(443)
    world.flow_logs(logs)
    other = ec2.create_network_interface(SubnetId=world.subnet)["NetworkInterface"][
        "NetworkInterfaceId"]
    # 443 stays open; 5432 only rejected here, and accepted on an ENI outside the group
    world.records(logs, [("203.0.113.5", 443, "ACCEPT"), ("203.0.113.5", 5432, "REJECT")])
    world.records(logs, [("203.0.113.5", 5432, "ACCEPT")], eni=other)

    r = handle(opened(world.group, 5432), ctx)[0]

    assert r.outcome is Outcome.REMEDIATED, r.reason
    assert world.ingress() == [(443, "0.0.0.0/0")]
    planned = entry(ctx, str(r.incident_id), EntryKind.PLANNED)
    assert any(n.startswith("pre-flight: no accepted flows in the last 14 days")
               for n in planned["notes"])


def test_traffic_a_remaining_rule_allows_is_not_counted(ctx: Context, ec2: Any,
                                                        logs: Any) -> None:
    world = World(ec2)
    world.open(5432)
    world.open(5432, cidr="198.51.100.0/24")  # stays: not world-open
    office = ec2.create_security_group(GroupName="office", Description="d",
                                       VpcId=world.vpc)["GroupId"]
    world.open(5432, cidr="10.0.0.0/8", group=office)  # the ENI's other group
    ec2.modify_network_interface_attribute(NetworkInterfaceId=world.eni,
                                           Groups=[world.group, office])
    world.flow_logs(logs)
    world.records(logs, [("198.51.100.7", 5432, "ACCEPT"), ("10.2.3.4", 5432, "ACCEPT")])

    r = handle(opened(world.group, 5432), ctx)[0]

    assert r.outcome is Outcome.REMEDIATED, r.reason
    assert world.ingress() == [(5432, "198.51.100.0/24")]


def test_no_flow_logs_is_planned_as_before_with_the_note(ctx: Context, ec2: Any) -> None:
    world = World(ec2)
    world.open(5432)

    r = handle(opened(world.group, 5432), ctx)[0]

    assert r.outcome is Outcome.REMEDIATED
    planned = entry(ctx, str(r.incident_id), EntryKind.PLANNED)
    assert "pre-flight: no flow logs: traffic not checked" in planned["notes"]


def test_flow_logs_in_s3_are_noted_not_read(ctx: Context, ec2: Any, logs: Any) -> None:
    world = World(ec2)
    world.open(5432)
    world.flow_logs(logs, s3=True)

    r = handle(opened(world.group, 5432), ctx)[0]

    assert r.outcome is Outcome.REMEDIATED
    planned = entry(ctx, str(r.incident_id), EntryKind.PLANNED)
    assert "pre-flight: flow logs go to S3: traffic not checked" in planned["notes"]


def test_world_open_ssh_is_cut_regardless_and_the_traffic_noted(ctx: Context, ec2: Any,
                                                                logs: Any) -> None:
    world = World(ec2)
    world.open(22)
    world.flow_logs(logs)
    world.records(logs, [("203.0.113.5", 22, "ACCEPT")] * 2)

    r = handle(opened(world.group, 22), ctx)[0]

    assert r.outcome is Outcome.REMEDIATED, r.reason
    planned = entry(ctx, str(r.incident_id), EntryKind.PLANNED)
    assert any("live traffic: 2 accepted flows from 1 source to port 22" in n
               for n in planned["notes"])


class Writes:
    """A before-call hook that refuses every AWS call that is not a read (the state table
    aside: the dry run records its incident)."""

    READS = ("Get", "List", "Describe", "Head", "Filter")

    def __init__(self, table: str) -> None:
        self.table, self.read = table, []  # type: tuple[str, list[str]]

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service, op = model.service_model.service_name, model.name
        if service in ("sts", "dynamodb") and (
                service == "sts" or params.get("TableName") == self.table
                or op == "TransactWriteItems"):
            return
        if not op.startswith(self.READS):
            raise AssertionError(f"the pre-flight check called {service}:{op}")
        self.read.append(f"{service}:{op}")


def test_a_dry_run_shows_the_same_figures_and_nothing_writes(ctx: Context, ec2: Any,
                                                             logs: Any) -> None:
    world = World(ec2)
    world.open(5432)
    world.flow_logs(logs)
    world.records(logs, LIVE)
    writes = Writes(ctx.store.table)
    ctx.aws.session().events.register("before-call", writes)

    r = handle(opened(world.group, 5432), ctx, dry_run=True)[0]

    assert r.outcome is Outcome.DRY_RUN
    assert "logs:FilterLogEvents" in writes.read and "ec2:DescribeFlowLogs" in writes.read
    dry = entry(ctx, str(r.incident_id), EntryKind.DRY_RUN)
    assert any("live traffic: 6 accepted flows from 3 sources to port 5432 in 14 days" in n
               for n in dry["notes"])


def test_the_read_is_bounded_and_says_so(aws: None, kms_key: str, ec2: Any,
                                         logs: Any) -> None:
    from tests.conftest import make_context

    ctx, _ = make_context(kms_key="alias/phi-data", approvers=("U_ONCALL",),
                          preflight_max_events=2)
    world = World(ec2)
    world.open(5432)
    world.flow_logs(logs)
    world.records(logs, [("203.0.113.5", 443, "ACCEPT")] * 2 + LIVE)

    r = handle(opened(world.group, 5432), ctx, dry_run=True)[0]

    dry = entry(ctx, str(r.incident_id), EntryKind.DRY_RUN)
    assert any(n.startswith("pre-flight: stopped after 2 flow-log events") for n in dry["notes"])


def test_preflight_off_reads_nothing(ctx: Context, ec2: Any, logs: Any) -> None:
    world = World(ec2)
    world.open(5432)
    world.flow_logs(logs)
    world.records(logs, LIVE)
    vars(ctx)["policies"] = [p.model_copy(update={"preflight": Mode.OFF}) if
                             p.name == "sg-open-ingress" else p for p in ctx.policies]
    writes = Writes(ctx.store.table)
    ctx.aws.session().events.register("before-call", writes)

    r = handle(opened(world.group, 5432), ctx, dry_run=True)[0]

    assert "logs:FilterLogEvents" not in writes.read
    dry = entry(ctx, str(r.incident_id), EntryKind.DRY_RUN)
    assert "pre-flight: off for this policy: traffic not checked" in dry["notes"]


def test_a_public_db_instance_counts_only_clients_from_outside(ctx: Context, ec2: Any,
                                                              logs: Any) -> None:
    """The flows to the instance's port from public addresses are the ones cut; the VPC's
    own and private (peered, VPN) sources still reach the private endpoint."""
    world = World(ec2)
    second = ec2.create_subnet(VpcId=world.vpc, CidrBlock="10.0.2.0/24",
                               AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_db_subnet_group(DBSubnetGroupName="phi", DBSubnetGroupDescription="d",
                               SubnetIds=[world.subnet, second])
    rds.create_db_instance(
        DBInstanceIdentifier="phi-db", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword="not-a-real-password",
        AllocatedStorage=20, PubliclyAccessible=True, DBSubnetGroupName="phi",
        VpcSecurityGroupIds=[world.group])
    # what RDS creates for the instance (moto does not): its interface in the subnet
    eni = ec2.create_network_interface(SubnetId=world.subnet, Groups=[world.group],
                                       PrivateIpAddress="10.0.1.20",
                                       Description="RDSNetworkInterface")[
        "NetworkInterface"]["NetworkInterfaceId"]
    world.flow_logs(logs)
    world.records(logs, [("203.0.113.5", 5432, "ACCEPT"), ("10.0.2.2", 5432, "ACCEPT"),
                         ("172.16.0.9", 5432, "ACCEPT"), ("203.0.113.5", 22, "ACCEPT")],
                  eni=eni, dst="10.0.1.20")

    r = handle(cloudtrail_event("ModifyDBInstance", "rds", {
        "dBInstanceIdentifier": "phi-db", "publiclyAccessible": True}), ctx)[0]

    assert r.outcome is Outcome.APPROVAL_REQUESTED
    notes = ctx.store.approval(str(r.approval_id)).plan.notes
    assert any(n.startswith("pre-flight: live traffic: 1 accepted flow from 1 source to "
                            "port 5432 in 14 days on 1 ENI") for n in notes), notes


def test_egress_counts_flows_from_the_interfaces_to_the_world(ctx: Context, ec2: Any,
                                                             logs: Any) -> None:
    world = World(ec2)
    ec2.create_tags(Resources=[world.group],
                    Tags=[{"Key": "data-classification", "Value": "phi"}])
    ec2.authorize_security_group_egress(GroupId=world.group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    world.flow_logs(logs)
    world.records(logs, [("10.0.1.10", 5432, "ACCEPT")] * 2, dst="93.184.216.34")  # cut
    world.records(logs, [("10.0.1.10", 443, "ACCEPT")], dst="93.184.216.34")  # 443 stays
    world.records(logs, [("10.0.1.10", 5432, "ACCEPT")], dst="10.5.5.5")  # 10/8 stays

    r = handle(cloudtrail_event("AuthorizeSecurityGroupEgress", "ec2", {
        "groupId": world.group, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}), ctx)[0]

    assert r.outcome is Outcome.APPROVAL_REQUESTED  # the shipped policy asks anyway
    notes = ctx.store.approval(str(r.approval_id)).plan.notes
    assert any(n.startswith("pre-flight: live traffic: 2 accepted flows to 1 destination on "
                            "port 5432 in 14 days") for n in notes), notes


@pytest.mark.parametrize("name", sorted(load()))
def test_every_remediation_that_cuts_traffic_has_the_preflight_wired(name: str) -> None:
    cls = load()[name]
    wired = issubclass(cls, TrafficChecked) and issubclass(cls.Params, TrafficParams)
    assert cls.cuts_traffic == wired, f"{name}: cuts_traffic={cls.cuts_traffic}, wired={wired}"
    if cls.cuts_traffic:
        assert {"logs:FilterLogEvents", "ec2:DescribeFlowLogs",
                "ec2:DescribeNetworkInterfaces"} <= set(cls.permissions)


def test_the_four_network_remediations_declare_it() -> None:
    assert {n for n, cls in load().items() if cls.cuts_traffic} >= {
        "sg_revoke_open_ingress", "sg_revoke_open_egress", "sg_close_default",
        "rds_instance_private"}
