"""The auditor's checklist through the `remediate` executable against moto_server: one
end-to-end test per family (audit trail, keys, encryption at rest, detective controls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, aws_client, event_file
from tests.helpers import cloudtrail_event, load_event


def _handle(cli: Cli, tmp_path: Path, event: dict[str, Any], **kw: Any) -> tuple[int, Any]:
    return cli.json("handle", event_file(tmp_path, event), **kw)


def _name(tmp_path: Path, prefix: str) -> str:
    return f"{prefix}-{tmp_path.name}".lower().replace("_", "-")[:60]


def test_audit_trail_stopped_is_back_on_and_rolls_back(cli: Cli, moto_url: str,
                                                       tmp_path: Path) -> None:
    name = _name(tmp_path, "trail")
    aws_client(moto_url, "s3").create_bucket(Bucket=name)
    ct = aws_client(moto_url, "cloudtrail")
    arn = ct.create_trail(Name=name, S3BucketName=name, IsMultiRegionTrail=True,
                          EnableLogFileValidation=True)["TrailARN"]
    event = load_event("cloudtrail_stop_logging")
    event["detail"]["requestParameters"]["name"] = arn
    code, out = _handle(cli, tmp_path, event)
    assert (code, out["outcome"], out["resource"]) == (0, "remediated", arn)
    assert ct.get_trail_status(Name=arn)["IsLogging"] is True
    code, done = cli.json("rollback", out["incident_id"])
    assert (code, done["outcome"]) == (0, "rolled_back")
    assert ct.get_trail_status(Name=arn)["IsLogging"] is False


def test_keys_rotation_on_and_deletion_cancelled_after_approval(cli: Cli, moto_url: str,
                                                                tmp_path: Path) -> None:
    kms = aws_client(moto_url, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    code, out = _handle(cli, tmp_path, cloudtrail_event("DisableKeyRotation", "kms",
                                                        {"keyId": key}))
    assert (code, out["outcome"]) == (0, "remediated")
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True

    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    env = {"REMEDIATION_APPROVERS": "U_ONCALL"}
    code, out = _handle(cli, tmp_path, cloudtrail_event("ScheduleKeyDeletion", "kms",
                                                        {"keyId": key}), env=env)
    assert (code, out["outcome"]) == (0, "approval_requested")
    code, done = cli.json("approve", out["approval_id"], "--as", "U_ONCALL", env=env)
    assert (code, done["outcome"]) == (0, "remediated")
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta.get("DeletionDate") is None


@pytest.mark.parametrize("service", ["sqs", "sns", "logs"])
def test_encryption_at_rest_gets_our_key_and_rolls_back(cli: Cli, moto_url: str,
                                                        tmp_path: Path, service: str) -> None:
    name = _name(tmp_path, "phi")
    client = aws_client(moto_url, service)
    if service == "sqs":
        url = client.create_queue(QueueName=name)["QueueUrl"]
        event = cloudtrail_event("CreateQueue", "sqs", {"queueName": name}, {"queueUrl": url})

        def key() -> Any:
            return client.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "KmsMasterKeyId"]).get("Attributes", {}).get("KmsMasterKeyId")
    elif service == "sns":
        arn = client.create_topic(Name=name)["TopicArn"]
        event = cloudtrail_event("CreateTopic", "sns", {"name": name}, {"topicArn": arn})

        def key() -> Any:
            return client.get_topic_attributes(TopicArn=arn)["Attributes"].get(
                "KmsMasterKeyId")
    else:
        client.create_log_group(logGroupName=f"/{name}")
        event = cloudtrail_event("DisassociateKmsKey", "logs", {"logGroupName": f"/{name}"})

        def key() -> Any:
            return client.describe_log_groups(logGroupNamePrefix=f"/{name}")[
                "logGroups"][0].get("kmsKeyId")
    code, out = _handle(cli, tmp_path, event)
    assert (code, out["outcome"]) == (0, "remediated"), out.get("reason")
    alias = cli.env["REMEDIATION_KMS_KEY"]
    ours = aws_client(moto_url, "kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    assert key() == ours
    code, _ = cli.json("rollback", out["incident_id"])
    assert code == 0 and not key()


def test_detective_controls_guardduty_back_in_the_region(cli: Cli, moto_url: str,
                                                         tmp_path: Path) -> None:
    region = "eu-west-3"  # a region no other test touches: no detector there yet
    event = cloudtrail_event("DeleteDetector", "guardduty", {"detectorId": "d-gone"},
                             region=region)
    code, out = _handle(cli, tmp_path, event)
    assert (code, out["outcome"]) == (0, "remediated")
    gd = aws_client(moto_url, "guardduty", region)
    detectors = gd.list_detectors()["DetectorIds"]
    assert [gd.get_detector(DetectorId=d)["Status"] for d in detectors] == ["ENABLED"]
