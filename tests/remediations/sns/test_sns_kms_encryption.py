"""sns_kms_encryption against moto: the topic's key read back after fix and rollback."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import RollbackConflict
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event, config_event


@pytest.fixture
def sns(aws: None) -> Any:
    return boto3.client("sns", region_name="us-east-1")


def _key(sns: Any, arn: str) -> str | None:
    return sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId")


def test_a_topic_created_without_a_key_gets_ours_and_rolls_back(ctx: Context, sns: Any,
                                                                kms_key: str) -> None:
    arn = sns.create_topic(Name="phi-alerts")["TopicArn"]
    event = cloudtrail_event("CreateTopic", "sns", {"name": "phi-alerts"}, {"topicArn": arn})
    r = handle(event, ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, arn)
    assert _key(sns, arn) == kms_key
    rollback(ctx, str(r.incident_id), actor="test")
    assert not _key(sns, arn)


def test_removing_the_key_and_config_share_one_incident(ctx: Context, sns: Any,
                                                        kms_key: str) -> None:
    arn = sns.create_topic(Name="phi-jobs", Attributes={
        "KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    first = handle(cloudtrail_event("SetTopicAttributes", "sns", {
        "topicArn": arn, "attributeName": "KmsMasterKeyId",
        "attributeValue": "alias/aws/sns"}), ctx)[0]
    second = handle(config_event("sns-encrypted-kms", "AWS::SNS::Topic", arn), ctx)[0]
    assert first.outcome is Outcome.REMEDIATED and _key(sns, arn) == kms_key
    assert second.outcome is Outcome.COMPLIANT and second.incident_id == first.incident_id


def test_dry_run_plans_and_changes_nothing(ctx: Context, sns: Any) -> None:
    arn = sns.create_topic(Name="phi-dry")["TopicArn"]
    event = cloudtrail_event("CreateTopic", "sns", {"name": "phi-dry"}, {"topicArn": arn})
    r = handle(event, ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN and r.changes[0]["operation"] == "SetTopicAttributes"
    assert not _key(sns, arn)


def test_rollback_refuses_when_the_key_changed_since(ctx: Context, sns: Any) -> None:
    arn = sns.create_topic(Name="phi-moved")["TopicArn"]
    r = handle(cloudtrail_event("CreateTopic", "sns", {"name": "phi-moved"},
                                {"topicArn": arn}), ctx)[0]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId",
                             AttributeValue="alias/other")
    with pytest.raises(RollbackConflict):
        rollback(ctx, str(r.incident_id), actor="test")
