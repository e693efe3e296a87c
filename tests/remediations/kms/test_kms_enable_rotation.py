"""kms_enable_rotation against moto: rotation read back; keys that cannot rotate are
ignored with the reason, never failed."""

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
def kms(aws: None) -> Any:
    return boto3.client("kms", region_name="us-east-1")


def _rotation(kms: Any, key: str) -> bool:
    return bool(kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"])


def test_disable_key_rotation_is_undone_and_rolled_back(ctx: Context, kms: Any) -> None:
    meta = kms.create_key(Description="phi")["KeyMetadata"]
    r = handle(cloudtrail_event("DisableKeyRotation", "kms", {"keyId": meta["KeyId"]}), ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, meta["Arn"])  # id became the ARN
    assert _rotation(kms, meta["KeyId"]) is True
    rollback(ctx, str(r.incident_id), actor="test")
    assert _rotation(kms, meta["KeyId"]) is False


def test_config_and_cloudtrail_findings_share_the_key_incident(ctx: Context, kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    first = handle(cloudtrail_event("DisableKeyRotation", "kms", {"keyId": meta["Arn"]}),
                   ctx)[0]
    second = handle(config_event("cmk-backing-key-rotation-enabled", "AWS::KMS::Key",
                                 meta["KeyId"]), ctx)[0]
    assert second.outcome is Outcome.COMPLIANT and second.incident_id == first.incident_id


def test_a_new_symmetric_key_gets_rotation(ctx: Context, kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    event = cloudtrail_event("CreateKey", "kms", {"description": "x"}, {"keyMetadata": {
        "arn": meta["Arn"], "keyId": meta["KeyId"], "keySpec": "SYMMETRIC_DEFAULT",
        "origin": "AWS_KMS", "keyManager": "CUSTOMER"}})
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _rotation(kms, meta["KeyId"]) is True


@pytest.mark.parametrize("create, why", [
    ({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}, "RSA_2048"),
    ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, "HMAC_256"),
    ({"Origin": "EXTERNAL"}, "EXTERNAL"),
])
def test_keys_that_cannot_rotate_are_ignored_with_the_reason(
        ctx: Context, kms: Any, create: dict[str, str], why: str) -> None:
    meta = kms.create_key(**create)["KeyMetadata"]
    (r,) = handle(cloudtrail_event("DisableKeyRotation", "kms", {"keyId": meta["KeyId"]}), ctx)
    assert r.outcome is Outcome.IGNORED and why in str(r.reason) and r.incident_id is None


def test_a_key_pending_deletion_is_ignored_not_failed(ctx: Context, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    (r,) = handle(cloudtrail_event("DisableKeyRotation", "kms", {"keyId": key}), ctx)
    assert r.outcome is Outcome.IGNORED and "PendingDeletion" in str(r.reason)


def test_an_exempt_key_is_left_alone(ctx: Context, kms: Any) -> None:
    key = kms.create_key(Tags=[{"TagKey": "autoremediate:exempt",
                                "TagValue": "true"}])["KeyMetadata"]["KeyId"]
    (r,) = handle(cloudtrail_event("DisableKeyRotation", "kms", {"keyId": key}), ctx)
    assert r.outcome is Outcome.EXEMPT and _rotation(kms, key) is False


def test_rollback_refuses_when_rotation_changed_since(ctx: Context, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    r = handle(cloudtrail_event("DisableKeyRotation", "kms", {"keyId": key}), ctx)[0]
    kms.disable_key_rotation(KeyId=key)
    with pytest.raises(RollbackConflict):
        rollback(ctx, str(r.incident_id), actor="test")
