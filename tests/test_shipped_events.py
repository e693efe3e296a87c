"""The contract over every event we ship (tests/events, the demo's events): in dry-run
nothing outside our own state table is written, anywhere (AWS, Security Hub included), and
every outcome but `remediated` carries a reason.

Each event runs in two accounts: one where every resource the events name exists and is
non-compliant (so each remediation plans a real change), and an empty one (every resource
is gone). A botocore `before-call` hook on the pipeline's session sees every AWS call and
refuses (records) any that is not a read: its operation is not Get*/List*/Describe*/Head*
and it is not DynamoDB on the state table. moto itself would accept the writes, so the hook,
not moto, is what proves it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from tests.conftest import make_context

ROOT = Path(__file__).parent.parent
SHIPPED = sorted([*ROOT.glob("tests/events/*.json"), *ROOT.glob("chalicelib/demo_events/*.json")])
READS = ("Get", "List", "Describe", "Head", "BatchGet", "LookupEvents", "FilterLogEvents")
# sts:AssumeRole and GetCallerIdentity change nothing; the member role is how we read
HARMLESS = {("sts", "AssumeRole"), ("sts", "GetCallerIdentity")}


class Writes:
    """A before-call hook: every call that is not a read, outside our state table."""

    def __init__(self, table: str) -> None:
        self.table, self.seen = table, []  # type: tuple[str, list[str]]

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service, op = model.service_model.service_name, model.name
        if op.startswith(READS) or (service, op) in HARMLESS:
            return
        if service == "dynamodb" and self._our_table(op, params):
            return
        self.seen.append(f"{service}:{op}")
        raise AssertionError(f"a dry run called {service}:{op}")

    def _our_table(self, op: str, params: dict[str, Any]) -> bool:
        if op == "TransactWriteItems":
            return all(next(iter(item.values())).get("TableName") == self.table
                       for item in params.get("TransactItems", []))
        return params.get("TableName") == self.table


def _world() -> dict[str, str]:
    """Every resource the shipped events name, non-compliant; returns the text
    substitutions that point the events at what moto created (ids moto chooses)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("phi-bucket", "phi-audit-logs"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket="phi-bucket", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::phi-bucket/*"}]}))
    trail = boto3.client("cloudtrail", region_name="us-east-1")
    trail.create_trail(Name="phi-audit-trail", S3BucketName="phi-audit-logs")
    iam = boto3.client("iam")
    admin = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    policy = iam.create_policy(PolicyName="ops-admin", PolicyDocument=admin)["Policy"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    for role in ("etl-worker", "phi-ingest-instance-role"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="etl-worker", PolicyName="wide", PolicyDocument=admin)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                 SecurityGroupIds=[group])["Instances"][0]["InstanceId"]
    hub = boto3.client("securityhub", region_name="us-east-1")
    hub.enable_security_hub()
    return {"sg-0123456789abcdef0": group, "ANPAEXAMPLEID1234567": policy["PolicyId"],
            "i-0abc123def4567890": instance}


def _events(world: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in SHIPPED:
        text = path.read_text()
        for shipped, real in world.items():
            text = text.replace(shipped, real)
        event = json.loads(text)
        event["id"] = f"{path.parent.name}-{path.stem}"  # the demo ships copies of some
        out.append((f"{path.parent.name}/{path.name}", event))
    return out


def _context(aws: None, kms_key: str) -> tuple[Context, Writes]:
    ctx, _ = make_context(kms_key="alias/phi-data", approvers=("U_ONCALL",))
    writes = Writes(ctx.store.table)
    ctx.aws.session().events.register("before-call", writes)
    return ctx, writes


def _import_findings(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Security Hub holds the findings the events carry, so a write-back could land."""
    hub = boto3.client("securityhub", region_name="us-east-1")
    findings = [f for _, e in events if e.get("source") == "aws.securityhub"
                for f in e["detail"]["findings"]]
    if findings:
        hub.batch_import_findings(Findings=findings)


@pytest.mark.parametrize("world", ["non-compliant", "empty"])
def test_a_dry_run_of_every_shipped_event_writes_nothing(aws: None, kms_key: str,
                                                         world: str) -> None:
    events = _events(_world() if world == "non-compliant" else {})
    if world == "non-compliant":
        _import_findings(events)
    ctx, writes = _context(aws, kms_key)
    outcomes, unexplained = {}, []
    for name, event in events:
        results = handle(event, ctx, dry_run=True)
        outcomes[name] = sorted({r.outcome.value for r in results})
        unexplained += [f"{name}: {r.outcome.value}" for r in results if not r.reason]
    assert writes.seen == [], f"dry runs wrote: {writes.seen}"
    assert not any(Outcome.REMEDIATED.value in o for o in outcomes.values()), outcomes
    assert unexplained == [], "outcomes without a reason"
    if world == "non-compliant":  # the remediations did plan changes, not just skip
        assert sum(Outcome.DRY_RUN.value in o for o in outcomes.values()) >= 10, outcomes


def test_every_outcome_but_remediated_has_a_reason(aws: None, kms_key: str) -> None:
    """Acted on for real, twice (the second time finds them compliant or duplicate)."""
    events = _events(_world())
    _import_findings(events)
    ctx, _ = make_context(kms_key="alias/phi-data", approvers=("U_ONCALL",))
    seen: set[str] = set()
    unexplained = []
    for again in range(2):
        for name, event in events:
            for r in handle({**event, "id": f"{event['id']}-{again}"}, ctx):
                seen.add(r.outcome.value)
                if r.outcome is not Outcome.REMEDIATED and not r.reason:
                    unexplained.append(f"{name}: {r.outcome.value}")
    assert unexplained == [], "outcomes without a reason"
    assert {"remediated", "compliant", "ignored"} <= seen, seen
