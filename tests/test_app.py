"""app.py wiring: each EventBridge handler runs the pipeline (chalice.test.Client + moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from tests.helpers import ALL_ON, load_event


@pytest.fixture
def client(aws: None, kms_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("REMEDIATION_KMS_KEY", "alias/phi-data")
    Context(settings=Settings(table="autoremediate"), aws=Aws()).store.ensure_table()
    with Client(app, stage_name="prod") as c:
        yield c


def _invoke(client: Client, name: str, event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(client.lambda_.invoke(name, event).payload))


def test_cloudtrail_handler_blocks_public_access(client: Client, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    out = _invoke(client, "cloudtrail_calls", load_event("cloudtrail_put_bucket_policy"))
    assert out["outcome"] == "remediated"
    assert s3.get_public_access_block(Bucket="phi-bucket")[
        "PublicAccessBlockConfiguration"] == ALL_ON


def test_cloudwatch_handler_opens_an_alarm_incident(client: Client) -> None:
    out = _invoke(client, "cloudwatch_alarms", load_event("cloudwatch_alarm"))
    assert (out["outcome"], out["policy"]) == ("incident_opened", "hipaa-alarms")


def test_config_handler_encrypts(client: Client, s3: Any, kms_key: str) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    out = _invoke(client, "config_compliance", load_event("config_s3_encryption_noncompliant"))
    assert out["outcome"] == "remediated"
    rule = s3.get_bucket_encryption(Bucket="phi-bucket")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == kms_key


def test_guardduty_handler_blocks_public_access(client: Client, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    out = _invoke(client, "guardduty_findings",
                  load_event("guardduty_s3_block_public_access_disabled"))
    assert out["outcome"] == "remediated"
    assert s3.get_public_access_block(Bucket="phi-bucket")[
        "PublicAccessBlockConfiguration"] == ALL_ON


def test_dev_stage_is_dry_run(aws: None, s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    Context(settings=Settings(table="autoremediate-dev"), aws=Aws()).store.ensure_table()
    s3.create_bucket(Bucket="phi-bucket")
    with Client(app, stage_name="dev") as c:
        out = _invoke(c, "cloudtrail_calls", load_event("cloudtrail_put_bucket_policy"))
    assert out["outcome"] == "dry_run"
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket="phi-bucket")


def test_invalid_event_is_dropped_not_raised(client: Client) -> None:
    event = load_event("cloudtrail_put_bucket_policy")
    del event["detail"]["eventName"]
    out = _invoke(client, "cloudtrail_calls", event)
    assert out["outcome"] == "ignored" and "eventName" in out["reason"]


def test_timeline_route_serves_html_json_and_404(client: Client, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    out = _invoke(client, "cloudtrail_calls", load_event("cloudtrail_put_bucket_policy"))
    incident_id = out["incident_id"]
    page = client.http.get(f"/incidents/{incident_id}/timeline")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f"Incident {incident_id}".encode() in page.body
    as_json = client.http.get(f"/incidents/{incident_id}/timeline?format=json")
    assert json.loads(as_json.body)["status"] == "resolved"
    assert client.http.get("/incidents/inc-nope/timeline").status_code == 404
    assert client.http.get(f"/incidents/{incident_id}/timeline?format=pdf").status_code == 400


def test_timeline_route_requires_iam_auth() -> None:
    route = app.routes["/incidents/{incident_id}/timeline"]["GET"]
    from chalice import IAMAuthorizer

    assert isinstance(route.authorizer, IAMAuthorizer)


def test_the_monthly_drill_runs_only_when_the_stage_turns_it_on(
        client: Client, tmp_path: Any) -> None:
    from pathlib import Path

    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    assert "skipped" in client.lambda_.invoke("monthly_drill", event).payload  # prod: off
    (tmp_path / ".chalice").mkdir()
    config = json.loads(Path(".chalice/config.json").read_text())
    config["stages"] = {"drills": {"environment_variables": {
        "REMEDIATION_MONTHLY_DRILL": "true"}}}
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with Client(app, stage_name="drills", project_dir=str(tmp_path)) as on:
        ran = on.lambda_.invoke("monthly_drill", event).payload
    assert ran["ok"] and len(ran["scenarios"]) >= 5


def test_securityhub_handler_fixes_and_resolves_the_finding(client: Client, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    out = _invoke(client, "securityhub_findings", load_event("securityhub_s3_8_failed"))
    assert (out["outcome"], out["resource"]) == ("remediated", "arn:aws:s3:::phi-bucket")
    assert s3.get_public_access_block(Bucket="phi-bucket")[
        "PublicAccessBlockConfiguration"] == ALL_ON


def test_approval_worker_carries_out_a_decided_approval(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker Lambda gets the job the Slack route dispatched, as JSON."""
    import boto3

    from chalicelib.approval import claim
    from chalicelib.context import current

    monkeypatch.setenv("REMEDIATION_APPROVERS", "U_ONCALL")
    iam = boto3.client("iam", region_name="us-east-1")
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    arn = iam.create_policy(PolicyName="ops-admin", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            read, {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    event = load_event("cloudtrail_create_policy")
    event["detail"]["responseElements"]["policy"]["arn"] = arn
    out = _invoke(client, "cloudtrail_calls", event)
    assert out["outcome"] == "approval_requested"
    claim(current(), out["approval_id"], "U_ONCALL", approve=True)
    done = _invoke(client, "approval_worker", {"approval_id": out["approval_id"]})
    assert done["outcome"] == "remediated"
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    assert doc["Statement"] == [read]
    refused = _invoke(client, "approval_worker", {"neither": "approval nor group"})
    assert refused["outcome"] == "failed" and "not a worker job" in refused["reason"]


def test_approval_sweeper_reports_expired_approvals(client: Client) -> None:
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    assert client.lambda_.invoke("approval_sweeper", event).payload == {"expired": []}


def test_the_app_imports_when_a_source_has_no_policy(tmp_path: Any) -> None:
    """A deployment whose policies name no CloudWatch alarm has no such pattern: the app
    still imports, and that handler simply has no rule."""
    import runpy
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    patterns = json.loads((root / "chalicelib" / "event_patterns.json").read_text())
    del patterns["cloudwatch"]
    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "event_patterns.json").write_text(json.dumps(patterns))
    shutil.copy(root / "app.py", tmp_path / "app.py")
    module = runpy.run_path(str(tmp_path / "app.py"))
    rules = {h.name for h in module["app"].event_sources}
    assert "cloudwatch_alarms" not in rules and "cloudtrail_calls" in rules
