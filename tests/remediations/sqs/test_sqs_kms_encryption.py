"""sqs_kms_encryption against moto: the queue's key read back after fix and rollback."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import cloudtrail_event


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def _key(sqs: Any, url: str) -> str | None:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])
    return attributes.get("Attributes", {}).get("KmsMasterKeyId")


def _created(url: str, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    return cloudtrail_event("CreateQueue", "sqs", {
        "queueName": url.rsplit("/", 1)[-1], "attributes": attributes or {}},
        {"queueUrl": url})


def test_a_queue_created_without_our_key_gets_it_and_rolls_back(ctx: Context, sqs: Any,
                                                                 kms_key: str) -> None:
    url = sqs.create_queue(QueueName="phi-intake")["QueueUrl"]
    r = handle(_created(url), ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED,
                                       "arn:aws:sqs:us-east-1:123456789012:phi-intake")
    assert _key(sqs, url) == kms_key
    rollback(ctx, str(r.incident_id), actor="test")
    assert _key(sqs, url) is None


def test_aws_managed_sqs_key_is_replaced_but_another_customer_key_is_kept(
        ctx: Context, sqs: Any, kms_key: str) -> None:
    url = sqs.create_queue(QueueName="q-aws", Attributes={
        "KmsMasterKeyId": "alias/aws/sqs"})["QueueUrl"]
    event = cloudtrail_event("SetQueueAttributes", "sqs", {
        "queueUrl": url, "attributes": {"KmsMasterKeyId": "alias/aws/sqs"}})
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _key(sqs, url) == kms_key
    mine = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    other = sqs.create_queue(QueueName="q-own", Attributes={"KmsMasterKeyId": mine})["QueueUrl"]
    event = cloudtrail_event("SetQueueAttributes", "sqs", {
        "queueUrl": other, "attributes": {"KmsMasterKeyId": mine}})
    assert handle(event, ctx)[0].outcome is Outcome.COMPLIANT and _key(sqs, other) == mine


def test_unrelated_attribute_changes_and_keyed_creations_trigger_nothing(ctx: Context,
                                                                         sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q-quiet")["QueueUrl"]
    event = cloudtrail_event("SetQueueAttributes", "sqs", {
        "queueUrl": url, "attributes": {"VisibilityTimeout": "60"}})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED
    keyed = _created(url, {"KmsMasterKeyId": "alias/phi-data"})
    assert handle(keyed, ctx)[0].outcome is Outcome.IGNORED


def test_without_a_key_setting_the_fix_fails_and_changes_nothing(aws: None, sqs: Any) -> None:
    ctx, _ = make_context()
    url = sqs.create_queue(QueueName="q-nokey")["QueueUrl"]
    r = handle(_created(url), ctx)[0]
    assert r.outcome is Outcome.FAILED and "REMEDIATION_KMS_KEY" in str(r.reason)
    assert _key(sqs, url) is None


def test_an_exempt_queue_is_left_alone(ctx: Context, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q-exempt",
                           tags={"autoremediate:exempt": "true"})["QueueUrl"]
    assert handle(_created(url), ctx)[0].outcome is Outcome.EXEMPT
