"""s3_event_notifications against moto: our object-removed topic entry is added and every
existing entry kept, read back; rollback restores the saved configuration exactly. moto
does not check the topic policy (S3 does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.remediations.s3._bucket import EXEMPT, config, context

RULE = "s3-event-notifications-enabled"
QUEUE = {"Id": "ingest", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:ingest",
         "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}


@pytest.fixture
def topic(aws: None, s3: Any) -> str:
    s3.create_bucket(Bucket="records")
    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="ingest")
    return str(boto3.client("sns", region_name="us-east-1").create_topic(
        Name="s3-deletions")["TopicArn"])


def _config(s3: Any) -> dict[str, Any]:
    found = s3.get_bucket_notification_configuration(Bucket="records")
    found.pop("ResponseMetadata")
    return dict(found)


def test_ours_is_added_beside_every_existing_entry_and_rolled_back(
        s3: Any, topic: str, tmp_path: Path) -> None:
    s3.put_bucket_notification_configuration(
        Bucket="records", NotificationConfiguration={"QueueConfigurations": [QUEUE]})
    ctx = context(tmp_path, s3_events_topic_arn=topic)
    r = handle(config(RULE, "records"), ctx)[0]
    assert (r.outcome, r.policy) == (Outcome.REMEDIATED, "s3-event-notifications")
    assert _config(s3) == {"QueueConfigurations": [QUEUE], "TopicConfigurations": [{
        "Id": "autoremediate", "TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}]}
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert _config(s3) == {"QueueConfigurations": [QUEUE]}


def test_a_bucket_with_none_gets_ours_and_rollback_clears_it(
        s3: Any, topic: str, tmp_path: Path) -> None:
    ctx = context(tmp_path, s3_events_topic_arn=topic)
    r = handle(config(RULE, "records"), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert [t["Id"] for t in _config(s3)["TopicConfigurations"]] == ["autoremediate"]
    rollback(ctx, str(r.incident_id), actor="test")
    assert _config(s3) == {}


def test_without_the_setting_the_fix_fails_naming_it(s3: Any, topic: str,
                                                     tmp_path: Path) -> None:
    r = handle(config(RULE, "records"), context(tmp_path))[0]
    assert r.outcome is Outcome.FAILED and "REMEDIATION_S3_EVENTS_TOPIC_ARN" in str(r.reason)
    r = handle(config(RULE, "records"), context(tmp_path, s3_events_topic_arn="s3-deletions"))[0]
    assert r.outcome is Outcome.FAILED and "not an SNS topic ARN" in str(r.reason)
    assert _config(s3) == {}


def test_dry_run_and_exemption_change_nothing(s3: Any, topic: str, tmp_path: Path) -> None:
    ctx = context(tmp_path, s3_events_topic_arn=topic)
    r = handle(config(RULE, "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN
    assert r.changes[0]["operation"] == "PutBucketNotificationConfiguration"
    s3.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.EXEMPT
    assert _config(s3) == {}
