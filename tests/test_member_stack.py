"""The member stack deployed (moto's CloudFormation) into an account that has nothing
else: the account's data key and alias exist, so the encryption fixes work on day one
with the central stack's REMEDIATION_KMS_KEY (its `DataKeyAlias`, the same default); the
forwarding dead-letter queue is on a customer-managed key EventBridge may use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.member import MEMBER_STACK_FILE
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.stack import DATA_KEY_ALIAS
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, default_encryption, load_event

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


@pytest.fixture
def cfn(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # moto's CloudFormation stores a key's KeyPolicy as the template's object, which its
    # own KMS then cannot parse (real KMS keeps the JSON text): give it the text
    from moto.kms.models import Key

    create = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def as_text(cls: Any, name: str, cfn_json: Any, *args: Any, **kwargs: Any) -> Any:
        props = cfn_json.get("Properties", {})
        if isinstance(props.get("KeyPolicy"), dict):
            props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
        return create(cls, name, cfn_json, *args, **kwargs)

    monkeypatch.setattr(Key, "create_from_cloudformation_json", classmethod(as_text))
    yield boto3.client("cloudformation", region_name=REGION)


def _deploy(cfn: Any, **parameters: str) -> dict[str, str]:
    """Create the committed member stack; its outputs."""
    values = {"SecurityAccountId": "111122223333",
              "CentralBusArn": "arn:aws:events:us-east-1:111122223333:event-bus/autoremediate",
              **parameters}
    cfn.create_stack(StackName="autoremediate-member",
                     TemplateBody=(ROOT / MEMBER_STACK_FILE).read_text(),
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in values.items()])
    (stack,) = cfn.describe_stacks(StackName="autoremediate-member")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _queue_key(outputs: dict[str, str]) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.get_queue_attributes(QueueUrl=outputs["ForwardDeadLetterQueueUrl"],
                                   AttributeNames=["KmsMasterKeyId"])
    return str(got["Attributes"]["KmsMasterKeyId"])


def _eventbridge_may_use(key: str) -> None:
    kms = boto3.client("kms", region_name=REGION)
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    (grant,) = [s for s in policy["Statement"]
                if "events.amazonaws.com" in s["Principal"].get("Service", [])]
    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= set(grant["Action"])
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_a_new_account_gets_its_data_key_and_the_fixes_use_it(cfn: Any, s3: Any) -> None:
    outputs = _deploy(cfn)
    kms = boto3.client("kms", region_name=REGION)
    data_key = outputs["DataKeyArn"]
    meta = kms.describe_key(KeyId=DATA_KEY_ALIAS)["KeyMetadata"]
    assert meta["Arn"] == data_key
    # the forwarding dead-letter queue: on the data key, which EventBridge may use
    assert _queue_key(outputs) == meta["KeyId"]
    _eventbridge_may_use(_queue_key(outputs))

    # the central stack passes REMEDIATION_KMS_KEY = its DataKeyAlias (same default)
    ctx, _ = make_context(kms_key=DATA_KEY_ALIAS)
    s3.create_bucket(Bucket="phi-bucket")
    (r,) = handle(load_event("cloudtrail_delete_bucket_encryption"), ctx)
    assert r.outcome is Outcome.REMEDIATED, r.reason
    (rule,) = default_encryption(s3, "phi-bucket")["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == data_key

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="phi-intake")["QueueUrl"]
    (r,) = handle(cloudtrail_event("CreateQueue", "sqs", {"queueName": "phi-intake"},
                                   {"queueUrl": url}), ctx)
    assert r.outcome is Outcome.REMEDIATED, r.reason
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])[
        "Attributes"]["KmsMasterKeyId"] == data_key

    sns = boto3.client("sns", region_name=REGION)
    arn = sns.create_topic(Name="phi-alerts")["TopicArn"]
    (r,) = handle(cloudtrail_event("CreateTopic", "sns", {"name": "phi-alerts"},
                                   {"topicArn": arn}), ctx)
    assert r.outcome is Outcome.REMEDIATED, r.reason
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"] == data_key


def test_an_account_with_its_own_key_gets_none_and_the_queue_a_key_of_its_own(
        cfn: Any) -> None:
    outputs = _deploy(cfn, CreateDataKey="false")
    assert "DataKeyArn" not in outputs
    kms = boto3.client("kms", region_name=REGION)
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert DATA_KEY_ALIAS not in aliases
    _eventbridge_may_use(_queue_key(outputs))
