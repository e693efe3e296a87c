"""`remediate redrive`: events that failed every attempt come back out of the dead-letter
queue (moto SQS) and are handled; a message is deleted only once it was handled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, ConfigurationError
from chalicelib.pipeline import handle
from chalicelib.redrive import event_of, redrive
from tests.conftest import make_context

EVENTS = Path(__file__).parent / "events"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def on_failure_record(event: dict[str, Any]) -> str:
    """What Lambda's asynchronous on-failure destination sends to SQS (the documented
    invocation record) once every attempt raised."""
    return json.dumps({
        "version": "1.0", "timestamp": "2026-11-26T10:00:00.000Z",
        "requestContext": {
            "requestId": "c9b8fa9f-5a71-4e29-8a4b-5d1c0a1d2e3f",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:"
                           "autoremediate-prod-cloudtrail_calls:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "state table autoremediate: PutItem failed",
                            "errorType": "StateError"}})


@pytest.fixture
def queue(aws: None) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs, sqs.create_queue(QueueName="autoremediate-dlq")["QueueUrl"]


def left_in(queue: tuple[Any, str]) -> list[str]:
    sqs, url = queue
    return [m["Body"] for m in sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])]


def test_an_event_that_failed_every_attempt_is_redriven_to_remediated(
        queue: tuple[Any, str], kms_key: str, s3: Any) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    event = load("cloudtrail_delete_bucket_encryption")
    # the function raised on every attempt (its state table was not there yet) …
    broken = Context(settings=Settings(table="not-created-yet", kms_key="alias/phi-data"),
                     aws=Aws())
    with pytest.raises(AutoremediateError):
        handle(event, broken)
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_encryption(Bucket="phi-bucket")  # … and changed nothing
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=on_failure_record(event))

    ctx, _ = make_context(kms_key="alias/phi-data")
    (result,) = redrive(ctx, url)

    assert result.report["outcome"] == "remediated" and result.deleted
    assert result.report["event_id"] == event["id"]
    assert left_in(queue) == []
    rule = s3.get_bucket_encryption(Bucket="phi-bucket")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    kinds = [e.kind.value for e in ctx.store.entries(result.report["incident_id"])]
    assert kinds[:2] == ["detected", "planned"] and "verified" in kinds


def test_only_handled_messages_are_deleted_and_the_rest_is_visible_again(
        queue: tuple[Any, str], kms_key: str, s3: Any) -> None:
    ctx, _ = make_context(kms_key="alias/phi-data")
    s3.create_bucket(Bucket="phi-bucket")
    handled_before = load("cloudtrail_delete_bucket_encryption")
    handle(handled_before, ctx)
    s3.create_bucket(Bucket="other-bucket")
    raw = load("cloudtrail_delete_bucket_encryption")  # an EventBridge target DLQ: the event
    raw["id"] = "8d2f6c1e-0000-4000-8000-000000000001"
    raw["detail"]["requestParameters"]["bucketName"] = "other-bucket"
    sqs, url = queue
    for body in (json.dumps(raw), "not an event at all", json.dumps(handled_before)):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    results = {r.report["outcome"]: r for r in redrive(ctx, url)}

    assert set(results) == {"remediated", "failed", "duplicate"}
    assert results["remediated"].deleted and results["duplicate"].deleted
    assert not results["failed"].deleted
    assert "InvalidEvent" in results["failed"].report["reason"]
    # the message nobody could handle is kept, and visible again at once for a person
    assert left_in(queue) == ["not an event at all"]


def test_an_invocation_record_without_an_event_is_refused() -> None:
    from chalicelib.errors import InvalidEvent

    with pytest.raises(InvalidEvent, match="requestPayload"):
        event_of(json.dumps({"requestContext": {}, "requestPayload": "text"}))


def test_a_url_that_is_not_a_queue_is_refused_before_any_call(ctx: Context) -> None:
    with pytest.raises(ConfigurationError, match="not an SQS queue URL"):
        list(redrive(ctx, "s3://bucket/key"))
