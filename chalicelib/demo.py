"""`remediate demo`: the whole story on an embedded AWS emulator, no AWS account needed.

1. patient-records is made public and loses its encryption: Block Public Access and
   SSE-KMS are restored automatically; the public policy statement waits for approval.
2. GuardDuty reports the same bucket: the finding joins the incident (already compliant);
   EventBridge delivers an event twice: the second is a duplicate.
3. A wildcard IAM policy is created: the fix waits for approval, the on-call engineer
   approves, exactly the wildcard statement goes — then it is rolled back.
4. lab-results is replayed in dry-run: a plan, no change. research-share is exempt.
5. GuardDuty sees SSH brute force: an incident opens with its breach notification clock.
6. Someone stops the audit trail: logging is back on within the same second.
7. SSH is opened to the internet: that one rule goes; HTTPS and the office's SSH stay.
8. Postgres is opened to the internet and the flow logs show clients using it: the
   pre-flight holds the fix for approval, with the figures in the Slack message.
9. Security Hub reports a bucket without Block Public Access: fixed, the finding resolved.

Timelines (JSON, Markdown, HTML), the evidence report and an index land in demo-output/.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from chalicelib import evidence, render
from chalicelib.approval import decide
from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from chalicelib.emulator import emulator
from chalicelib.outcome import Result
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback

EVENTS = Path(__file__).resolve().parent / "demo_events"
ONCALL = "U0ONCALL"
STYLE = {"remediated": "green", "failed": "bold red", "dry_run": "yellow",
         "exempt": "magenta", "approval_requested": "cyan", "denied": "red",
         "duplicate": "dim", "compliant": "green", "incident_opened": "blue"}


_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def stamped(event: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """`event` moved in time so that it happens `now`: every timestamp in it shifts by the
    same amount, so their order and gaps stay (a GuardDuty finding's first sighting stays a
    minute before the finding). The demo's breach clock then never reads "overdue"."""
    delta = now - dt.datetime.fromisoformat(event["time"])

    def shift(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shift(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shift(v) for v in value]
        if isinstance(value, str) and (m := _STAMP.match(value)):
            moved = (dt.datetime.fromisoformat(value) + delta).astimezone(dt.UTC)
            spec = "milliseconds" if m.group(1) else "seconds"
            return moved.isoformat(timespec=spec).replace("+00:00", "Z")
        return value

    return dict(shift(event))


def _event(name: str, event_id: str, bucket: str | None = None,
           edit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text()
    if bucket:
        text = text.replace("phi-bucket", bucket)
    event: dict[str, Any] = stamped(json.loads(text), dt.datetime.now(dt.UTC))
    event["id"] = event_id
    if edit:
        edit(event)
    return event


def _setup(ctx: Context) -> str:
    s3 = ctx.aws.home_client("s3")
    kms = ctx.aws.home_client("kms")
    iam = ctx.aws.home_client("iam")
    key = kms.create_key(Description="autoremediate demo: PHI data key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/phi-data", TargetKeyId=key["KeyId"])
    for bucket in ("patient-records", "lab-results", "research-share"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket="patient-records", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "Oops", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::patient-records/*"}]}))
    s3.put_bucket_tagging(Bucket="research-share", Tagging={"TagSet": [
        {"Key": "autoremediate:exempt", "Value": "true"},
        {"Key": "autoremediate:exempt-reason", "Value": "public de-identified dataset"}]})
    policy = iam.create_policy(PolicyName="etl-ops", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "ReadPhi", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::patient-records/*",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            {"Sid": "Debugging", "Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    s3.create_bucket(Bucket="phi-audit-logs")
    trail = ctx.aws.home_client("cloudtrail")
    arn = trail.create_trail(Name="phi-audit-trail", S3BucketName="phi-audit-logs",
                             IsMultiRegionTrail=True,
                             EnableLogFileValidation=True)["TrailARN"]
    trail.start_logging(Name=arn)
    return str(policy["Policy"]["Arn"])


def _api_group(ctx: Context) -> str:
    """The PHI API's security group: 443 from anywhere, SSH from the office network."""
    ec2 = ctx.aws.home_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="phi-api", Description="PHI API",
                                      VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "public API"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}]}])
    return str(group)


FLOW_LOGS = "vpc-flow-logs"


def _phi_db(ctx: Context) -> tuple[str, str]:
    """The PHI database's VPC, with flow logs to CloudWatch Logs (what vpc_flow_logs sets up),
    its security group and one network interface; returns (group id, ENI id)."""
    ec2, logs = ctx.aws.home_client("ec2"), ctx.aws.home_client("logs")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="phi-db", Description="PHI database",
                                      VpcId=vpc)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group],
                                       PrivateIpAddress="10.30.1.10")["NetworkInterface"][
        "NetworkInterfaceId"]
    logs.create_log_group(logGroupName=FLOW_LOGS)
    ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                         LogDestinationType="cloud-watch-logs", LogGroupName=FLOW_LOGS,
                         DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs")
    return str(group), str(eni)


def _flows(ctx: Context, eni: str, flows: list[tuple[str, int]], *, now: dt.datetime) -> None:
    """Accepted flows (source, destination port) to the ENI over the last days, as VPC flow
    logs write them (the default version 2 format)."""
    logs = ctx.aws.home_client("logs")
    stream = f"{eni}-all"
    logs.create_log_stream(logGroupName=FLOW_LOGS, logStreamName=stream)
    start = int(now.timestamp()) - 3 * 86_400
    logs.put_log_events(logGroupName=FLOW_LOGS, logStreamName=stream, logEvents=[
        {"timestamp": (start + i * 3_600) * 1000, "message": (
            f"2 123456789012 {eni} {src} 10.30.1.10 {40000 + i} {port} 6 12 2048 "
            f"{start + i * 3_600} {start + i * 3_600 + 60} ACCEPT OK")}
        for i, (src, port) in enumerate(flows)])


def _ingress(ctx: Context, group: str) -> str:
    rules = ctx.aws.home_client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    return ", ".join(sorted(f"{r['FromPort']} from {r.get('CidrIpv4')}" for r in rules
                            if not r["IsEgress"]))


class Story:
    def __init__(self, console: Console, ctx: Context) -> None:
        self.console = console
        self.ctx = ctx
        self.table = Table(title="What happened")
        for col in ("#", "policy", "outcome", "incident", "calls"):
            self.table.add_column(col, overflow="fold")
        self.incidents: dict[str, str] = {}
        self.step = 0

    def record(self, title: str, results: list[Result]) -> list[Result]:
        self.step += 1
        for r in results:
            style = STYLE.get(r.outcome.value, "white")
            calls = ", ".join(c["operation"] for c in r.changes) or "-"
            self.table.add_row(str(self.step), r.policy or "-",
                               f"[{style}]{r.outcome.value}[/]", r.incident_id or "-", calls)
            self.console.print(f"  [{style}]●[/] {title}: [{style}]{r.outcome.value}[/]"
                               + (f" ({r.policy})" if r.policy else ""))
            if r.incident_id:
                self.incidents.setdefault(r.incident_id, r.policy or "")
        return results

    def event(self, title: str, event: dict[str, Any], *, dry_run: bool = False) -> list[Result]:
        return self.record(title, handle(event, self.ctx, dry_run=dry_run))


def _write_outputs(ctx: Context, incidents: dict[str, str], output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    now = ctx.clock()
    links = []
    for incident_id in incidents:
        inc = ctx.store.incident(incident_id)
        entries = ctx.store.entries(incident_id)
        (output / f"{incident_id}.json").write_text(json.dumps(
            render.timeline_json(inc, entries, now=now), indent=2, default=str) + "\n")
        (output / f"{incident_id}.md").write_text(render.timeline_md(inc, entries, now=now))
        (output / f"{incident_id}.html").write_text(
            render.timeline_html(inc, entries, now=now))
        links.append(f"<tr><td><a href='{incident_id}.html'>{html.escape(incident_id)}</a>"
                     f"</td><td>{html.escape(inc.status.value)}</td>"
                     f"<td>{html.escape(inc.remediation)}</td>"
                     f"<td><code>{html.escape(inc.resource)}</code></td></tr>")
    from chalicelib.snapshot import take

    snapshot = take(ctx, accounts=[ctx.aws.account_id()],
                    regions=[ctx.aws.home_region])
    report = evidence.build(ctx.store, since=now - dt.timedelta(days=1), now=now,
                            policies=ctx.policies, snapshot=snapshot)
    (output / "evidence.md").write_text(evidence.to_md(report))
    (output / "evidence.html").write_text(evidence.to_html(report))
    (output / "evidence.json").write_text(evidence.to_json(report))
    (output / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>autoremediate demo"
        f"</title><style>{render.CSS}</style></head><body><h1>autoremediate demo</h1>"
        "<p><a href='evidence.html'>HIPAA evidence report</a></p><table><tr><th>Incident"
        "</th><th>Status</th><th>Remediation</th><th>Resource</th></tr>"
        + "".join(links) + "</table></body></html>\n")


def run(*, output: Path) -> int:
    console = Console()
    started = time.perf_counter()
    with emulator() as url:
        console.rule("[bold]autoremediate demo")
        console.print(f"AWS emulator (moto) on {url}: no AWS account is touched.")
        settings = Settings(table="autoremediate-demo", kms_key="alias/phi-data",
                            approvers=(ONCALL,))
        ctx = Context(settings=settings, aws=Aws())
        with console.status("Creating the state table and the demo account..."):
            ctx.store.ensure_table()
            policy_arn = _setup(ctx)
            api_group = _api_group(ctx)
            db_group, db_eni = _phi_db(ctx)
        console.print("Buckets [cyan]patient-records[/] (public policy, unencrypted), "
                      "[cyan]lab-results[/], [cyan]research-share[/] (tagged exempt); "
                      "IAM policy [cyan]etl-ops[/] with a wildcard statement.\n")
        story = Story(console, ctx)
        s3, iam = ctx.aws.home_client("s3"), ctx.aws.home_client("iam")

        console.print("[bold]1. A bucket holding PHI is made public and unencrypted")
        first = _event("cloudtrail_put_bucket_policy", "demo-0001", "patient-records")
        results = story.event("PutBucketPolicy on patient-records", first)
        story.event("DeleteBucketEncryption on patient-records",
                    _event("cloudtrail_delete_bucket_encryption", "demo-0002",
                           "patient-records"))
        pending = next(r for r in results if r.approval_id)
        story.record(f"{ONCALL} approves removing the public statement",
                     [decide(ctx, str(pending.approval_id), ONCALL, approve=True)])

        console.print("[bold]2. Repeated and duplicate findings")
        story.event("GuardDuty: Block Public Access disabled",
                    _event("guardduty_s3_block_public_access_disabled", "demo-0003",
                           "patient-records"))
        story.event("EventBridge redelivers the first event", first)

        console.print("[bold]3. A wildcard IAM policy: approval, fix, rollback")

        def created(event: dict[str, Any]) -> None:
            event["detail"]["responseElements"]["policy"]["arn"] = policy_arn

        (wild,) = story.event("CreatePolicy etl-ops with Action *",
                              _event("cloudtrail_create_policy", "demo-0004", edit=created))
        (fixed,) = story.record(f"{ONCALL} approves in Slack (here: remediate approve)",
                                [decide(ctx, str(wild.approval_id), ONCALL, approve=True)])
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)
        sids = [s.get("Sid") for s in doc["PolicyVersion"]["Document"]["Statement"]]
        console.print(f"    etl-ops now keeps statements {sids} (default {version})")
        done = rollback(ctx, str(fixed.incident_id), actor=ONCALL)
        console.print(f"    [blue]rolled back[/] by {ONCALL}: "
                      f"{', '.join(c['operation'] for c in done['changes'])}")

        console.print("[bold]4. Dry-run and exemption")
        story.event("Config: lab-results unencrypted (replayed with --dry-run)",
                    _event("config_s3_encryption_noncompliant", "demo-0005", "lab-results"),
                    dry_run=True)
        story.event("research-share made public (tagged exempt)",
                    _event("cloudtrail_put_bucket_policy", "demo-0006", "research-share"))

        console.print("[bold]5. A GuardDuty finding with no automatic fix")
        story.event("GuardDuty: SSH brute force on i-0abc123def4567890",
                    _event("guardduty_ec2_ssh_bruteforce", "demo-0007"))

        console.print("[bold]6. Someone switches off the audit trail")
        trail = ctx.aws.home_client("cloudtrail")
        trail_arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/phi-audit-trail"
        trail.stop_logging(Name=trail_arn)  # what the intruder did; CloudTrail reports it
        stopped = time.perf_counter()
        story.event("StopLogging on phi-audit-trail",
                    _event("cloudtrail_stop_logging", "demo-0008"))
        back_on = trail.get_trail_status(Name=trail_arn)["IsLogging"]
        console.print(f"    phi-audit-trail logging: {'on' if back_on else 'OFF'} again "
                      f"{(time.perf_counter() - stopped) * 1000:.0f} ms after the event")

        console.print("[bold]7. SSH opened to the internet")
        ctx.aws.home_client("ec2").authorize_security_group_ingress(
            GroupId=api_group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22,
                                               "ToPort": 22,
                                               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

        def opened(event: dict[str, Any]) -> None:
            event["detail"]["requestParameters"]["groupId"] = api_group

        console.print(f"    phi-api ingress now: {_ingress(ctx, api_group)}")
        story.event("AuthorizeSecurityGroupIngress 22 from 0.0.0.0/0 on phi-api",
                    _event("cloudtrail_authorize_security_group_ingress", "demo-0009",
                           edit=opened))
        console.print(f"    phi-api ingress after: {_ingress(ctx, api_group)} "
                      "(only the world-open SSH rule went)")

        console.print("[bold]8. Postgres opened to the internet, with clients using it")
        ctx.aws.home_client("ec2").authorize_security_group_ingress(
            GroupId=db_group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432,
                                              "ToPort": 5432,
                                              "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        _flows(ctx, db_eni, [("203.0.113.5", 5432)] * 9 + [("203.0.113.77", 5432)] * 3
               + [("198.51.100.20", 5432)] * 2, now=ctx.clock())

        def db_opened(event: dict[str, Any]) -> None:
            event["detail"]["requestParameters"]["groupId"] = db_group
            port = event["detail"]["requestParameters"]["ipPermissions"]["items"][0]
            port["fromPort"] = port["toPort"] = 5432

        (held,) = story.event("AuthorizeSecurityGroupIngress 5432 from 0.0.0.0/0 on phi-db",
                              _event("cloudtrail_authorize_security_group_ingress",
                                     "demo-0011", edit=db_opened))
        console.print(f"    phi-db ingress still: {_ingress(ctx, db_group)} "
                      "(nothing changed: live clients would be cut)")
        if held.approval_id:
            approval = ctx.store.approval(str(held.approval_id))
            console.print("    the Slack approval request says, before you approve:")
            for note in approval.plan.notes:
                console.print(f"      • {note}", highlight=False)

        console.print("[bold]9. Security Hub reports a bucket without Block Public Access")
        hub = ctx.aws.home_client("securityhub")
        hub.enable_security_hub()
        s3_8 = _event("securityhub_s3_8_failed", "demo-0010", "lab-results")
        hub.batch_import_findings(Findings=s3_8["detail"]["findings"])  # what it holds
        story.event("Security Hub S3.8 FAILED on lab-results", s3_8)
        (stored,) = hub.get_findings(Filters={"Id": [{
            "Value": s3_8["detail"]["findings"][0]["Id"], "Comparison": "EQUALS"}]})[
            "Findings"]
        console.print(f"    the Security Hub finding is now {stored['Workflow']['Status']}: "
                      f"\"{stored.get('Note', {}).get('Text', '')}\"")

        console.print()
        console.print(story.table)
        pab = s3.get_public_access_block(Bucket="patient-records")
        enc = s3.get_bucket_encryption(Bucket="patient-records")
        rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
        console.print("\n[bold]patient-records, read back from the emulator:[/] "
                      f"public access block {pab['PublicAccessBlockConfiguration']}, "
                      f"{rule['ApplyServerSideEncryptionByDefault']['SSEAlgorithm']} with "
                      f"bucket key {rule['BucketKeyEnabled']}")
        with console.status("Writing timelines and the evidence report..."):
            _write_outputs(ctx, story.incidents, output)
        console.print(f"\nWrote {len(story.incidents)} incident timelines (JSON, Markdown, "
                      f"HTML), the HIPAA evidence report and [cyan]{output}/index.html[/].")
        console.print(f"Done in {time.perf_counter() - started:.1f} s.")
    return 0
