"""`remediate evidence --snapshot`: the state of every watched resource now, judged by the
remediation that watches it, with a failing listing shown as such, never a crash."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3

from chalicelib import evidence
from chalicelib.context import Context
from chalicelib.pipeline import handle
from chalicelib.snapshot import take
from tests.helpers import ACCOUNT, ALL_ON, load_event


def _rows(rows: list[dict[str, Any]], policy: str) -> dict[str, dict[str, Any]]:
    return {str(r["resource"]): r for r in rows if r["policy"] == policy}


def test_watched_resources_are_judged_and_linked_to_open_incidents(ctx: Context,
                                                                   s3: Any) -> None:
    s3.create_bucket(Bucket="phi-open")
    s3.create_bucket(Bucket="phi-closed")
    s3.put_public_access_block(Bucket="phi-closed", PublicAccessBlockConfiguration=ALL_ON)
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/phi/short")
    logs.put_retention_policy(logGroupName="/phi/short", retentionInDays=30)
    dry = handle(load_event("cloudtrail_put_bucket_policy", bucket="phi-open"), ctx,
                 dry_run=True)[0]  # an open incident, nothing changed

    rows = take(ctx, accounts=[ACCOUNT], regions=["us-east-1"])
    buckets = _rows(rows, "s3-block-public-access")
    assert buckets["arn:aws:s3:::phi-open"]["compliant"] is False
    assert buckets["arn:aws:s3:::phi-open"]["incident_id"] == dry.incident_id
    assert buckets["arn:aws:s3:::phi-closed"]["compliant"] is True
    assert _rows(rows, "kms-rotation")[key]["compliant"] is False
    log_row = _rows(rows, "logs-retention")[
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/phi/short"]
    assert (log_row["compliant"], log_row["state"]) == (False, {"retentionInDays": 30})
    trails = _rows(rows, "cloudtrail-on")[f"AWS::::Account/{ACCOUNT}/us-east-1"]
    assert trails["compliant"] is None and "no CloudTrail trail" in trails["note"]

    report = evidence.build(ctx.store, since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                            policies=ctx.policies, snapshot=rows)
    access = next(c for c in report["controls"] if c["control"] == "164.312(a)(1)")
    assert any(r["resource"] == "arn:aws:s3:::phi-open" for r in access["snapshot"])
    assert "NOT compliant" in evidence.to_md(report)
    assert "Configuration now" in evidence.to_html(report)


def test_a_service_that_refuses_is_shown_not_a_crash(ctx: Context) -> None:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: object) -> list[bytes]:
            return [b'{"__type":"AccessDeniedException","message":"denied by SCP"}']

    kms = ctx.aws.client("kms", account=ACCOUNT, region="us-east-1")
    kms.meta.events.register("before-send.kms.ListKeys",
                             lambda **_: AWSResponse("https://kms", 400, {}, Raw()))
    rows = take(ctx, accounts=[ACCOUNT], regions=["us-east-1"])
    (refused,) = [r for r in rows if r["policy"] == "kms-rotation"]
    assert refused["resource"] is None and refused["note"].startswith("could not read:")
    assert "AccessDenied" in refused["note"]


def test_exemptions_in_force_are_shown_with_reason_and_since(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="public-dataset")
    s3.put_bucket_tagging(Bucket="public-dataset", Tagging={"TagSet": [
        {"Key": "autoremediate:exempt", "Value": "true"},
        {"Key": "autoremediate:exempt-reason", "Value": "de-identified open data"},
        {"Key": "autoremediate:exempt-since", "Value": "2026-03-01"}]})
    rows = take(ctx, accounts=[ACCOUNT], regions=["us-east-1"])
    row = _rows(rows, "s3-block-public-access")["arn:aws:s3:::public-dataset"]
    assert row["exempt"] == {"reason": "de-identified open data", "since": "2026-03-01"}
    report = evidence.build(ctx.store, since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                            policies=ctx.policies, snapshot=rows)
    assert "exempt since 2026-03-01: de-identified open data" in evidence.to_md(report)
