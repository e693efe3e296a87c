"""`remediate demo`: the whole story on an embedded AWS emulator, no AWS account needed.

A public, unencrypted bucket holding "PHI" is detected and fixed; a repeated finding joins
the incident; a dry-run shows a plan without changing anything; an exempt bucket is left
alone; a GuardDuty finding opens an incident; a replayed event is a duplicate; a fix is
rolled back. Timelines land in `demo-output/`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from chalicelib import render
from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from chalicelib.emulator import emulator
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback

EVENTS = Path(__file__).resolve().parent / "demo_events"


def _event(name: str, bucket: str, event_id: str) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text().replace("phi-bucket", bucket)
    event: dict[str, Any] = json.loads(text)
    event["id"] = event_id
    return event


def _setup(ctx: Context) -> None:
    s3 = ctx.aws.home_client("s3")
    kms = ctx.aws.home_client("kms")
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


def run(*, output: Path) -> int:
    console = Console()
    started = time.perf_counter()
    with emulator() as url:
        console.rule("[bold]autoremediate demo")
        console.print(f"AWS emulator (moto) on {url}: no AWS account is touched.\n")
        settings = Settings(table="autoremediate-demo", kms_key="alias/phi-data")
        ctx = Context(settings=settings, aws=Aws())
        ctx.store.ensure_table()
        _setup(ctx)
        console.print("Created buckets [cyan]patient-records[/] (public policy, no encryption)"
                      ", [cyan]lab-results[/] and [cyan]research-share[/] (tagged exempt).\n")

        steps = [
            ("Someone makes patient-records public (CloudTrail PutBucketPolicy)",
             "cloudtrail_put_bucket_policy", "patient-records", False),
            ("...and removes its encryption (CloudTrail DeleteBucketEncryption)",
             "cloudtrail_delete_bucket_encryption", "patient-records", False),
            ("GuardDuty reports the same bucket a minute later",
             "guardduty_s3_block_public_access_disabled", "patient-records", False),
            ("EventBridge delivers the first event again",
             "cloudtrail_put_bucket_policy", "patient-records", False),
            ("Config flags lab-results unencrypted; replayed with --dry-run",
             "config_s3_encryption_noncompliant", "lab-results", True),
            ("research-share is made public, but it is tagged exempt",
             "cloudtrail_put_bucket_policy", "research-share", False),
            ("GuardDuty: SSH brute force against an EC2 instance",
             "guardduty_ec2_ssh_bruteforce", "patient-records", False),
        ]
        table = Table(title="What happened", show_lines=False)
        for col in ("step", "event", "outcome", "incident", "calls"):
            table.add_column(col)
        incidents: dict[str, str] = {}
        for n, (title, name, bucket, dry) in enumerate(steps, 1):
            event_id = "demo-0001" if n in (1, 4) else f"demo-{n:04d}"
            for r in handle(_event(name, bucket, event_id), ctx, dry_run=dry):
                calls = ", ".join(c["operation"] for c in r.changes) or "-"
                style = {"remediated": "green", "failed": "red", "dry_run": "yellow",
                         "exempt": "magenta"}.get(r.outcome.value, "white")
                table.add_row(str(n), title, f"[{style}]{r.outcome.value}[/]",
                              r.incident_id or "-", calls)
                if r.incident_id:
                    incidents.setdefault(r.incident_id, r.outcome.value)
                if r.outcome is Outcome.FAILED:
                    console.print(f"[red]step {n} failed: {r.reason}")
        console.print(table)

        s3 = ctx.aws.home_client("s3")
        pab = s3.get_public_access_block(Bucket="patient-records")
        enc = s3.get_bucket_encryption(Bucket="patient-records")
        console.print("\n[bold]patient-records now, read back from the emulator:[/]")
        console.print(pab["PublicAccessBlockConfiguration"])
        console.print(enc["ServerSideEncryptionConfiguration"]["Rules"][0])

        first = next(iter(incidents))
        console.print(f"\n[bold]Rolling back incident {first}[/] (restores the saved state)")
        done = rollback(ctx, first, actor="demo-operator")
        console.print(f"restored: {done['restored']}")

        output.mkdir(parents=True, exist_ok=True)
        for incident_id in incidents:
            inc = ctx.store.incident(incident_id)
            entries = ctx.store.entries(incident_id)
            (output / f"{incident_id}.json").write_text(
                json.dumps(render.timeline_json(inc, entries), indent=2, default=str))
            (output / f"{incident_id}.md").write_text(render.timeline_md(inc, entries))
            (output / f"{incident_id}.html").write_text(render.timeline_html(inc, entries))
        inc = ctx.store.incident(first)
        timeline = Table(title=f"Timeline of {first} ({inc.resource}, status "
                               f"{inc.status.value})")
        for col in ("at", "kind", "actor", "what"):
            timeline.add_column(col)
        for entry in ctx.store.entries(first):
            timeline.add_row(f"{entry.at:%H:%M:%S.%f}"[:-3], entry.kind.value, entry.actor,
                             render.summary(entry))
        console.print()
        console.print(timeline)
        console.print(f"Timelines written to [cyan]{output}/[/] "
                      f"({len(incidents)} incidents, JSON, Markdown and HTML).")
        console.print(f"Done in {time.perf_counter() - started:.1f} s.")
    return 0
