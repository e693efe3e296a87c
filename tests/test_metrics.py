"""Metrics in CloudWatch's embedded metric format, from the Lambda entry points (driven
through Chalice's test client, so the wiring is the deployed one) against moto."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from chalicelib.metrics import NAMESPACE, record_results
from chalicelib.outcome import Outcome, Result
from tests.helpers import load_event


def emf(out: str) -> list[dict[str, Any]]:
    """The EMF documents among stdout's lines."""
    docs = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def metric(doc: dict[str, Any]) -> tuple[str, dict[str, str], float]:
    (definition,) = doc["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == NAMESPACE
    (name,) = [m["Name"] for m in definition["Metrics"]]
    (dims,) = definition["Dimensions"]
    value = doc[name]
    return name, {d: doc[d] for d in dims}, value[0] if isinstance(value, list) else value


def test_a_fix_counts_by_outcome_remediation_and_account_and_times_the_fix(
        capsys: pytest.CaptureFixture[str]) -> None:
    event = {"account": "123456789012", "time": "2026-11-26T10:00:00Z"}
    results = [Result(event_id="e", outcome=Outcome.REMEDIATED,
                      remediation="s3_block_public_access"),
               Result(event_id="e", outcome=Outcome.APPROVAL_REQUESTED,
                      remediation="s3_revoke_public_policy")]
    record_results(event, results, now=dt.datetime(2026, 11, 26, 10, 0, 2, tzinfo=dt.UTC))
    got = [metric(d) for d in emf(capsys.readouterr().out)]
    service = {"service": "autoremediate"}
    assert got == [
        ("Results", {"Outcome": "remediated", "Remediation": "s3_block_public_access",
                     "Account": "123456789012", **service}, 1.0),
        ("TimeToFix", {"Remediation": "s3_block_public_access", **service}, 2000.0),
        ("Results", {"Outcome": "approval_requested",
                     "Remediation": "s3_revoke_public_policy",
                     "Account": "123456789012", **service}, 1.0)]


def test_the_deployed_handler_emits_metrics_and_the_sweeper_counts_pending(
        aws: None, kms_key: str, s3: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from chalice.test import Client

    import app
    from tests.conftest import make_context

    monkeypatch.setenv("REMEDIATION_KMS_KEY", "alias/phi-data")
    monkeypatch.setenv("REMEDIATION_APPROVERS", "U_ONCALL")
    make_context(table="autoremediate")  # the prod stage's table (.chalice/config.json)
    s3.create_bucket(Bucket="phi-bucket")
    s3.put_bucket_policy(Bucket="phi-bucket", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::phi-bucket/*"}]}))
    capsys.readouterr()
    with Client(app.app, stage_name="prod") as client:
        response = client.lambda_.invoke(
            "cloudtrail_calls", load_event("cloudtrail_put_bucket_policy"))
        assert response.payload["outcome"] == "remediated"
        names = [metric(d)[:2] for d in emf(capsys.readouterr().out)]
        assert ("Results", {"Outcome": "approval_requested",
                            "Remediation": "s3_revoke_public_policy",
                            "Account": "123456789012", "service": "autoremediate"}) in names
        sweep = client.lambda_.invoke("approval_sweeper", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={},
            resources=[], region="us-east-1"))
        assert sweep.payload == {"expired": []}  # nothing is past its expiry yet
        (pending,) = [metric(d) for d in emf(capsys.readouterr().out)]
        assert pending == ("ApprovalsPending", {"service": "autoremediate"}, 1.0)
