"""kms_cancel_deletion against moto: after approval the key is enabled with no deletion
date; rollback re-schedules the deletion with the same window."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event


@pytest.fixture
def kms(aws: None) -> Any:
    return boto3.client("kms", region_name="us-east-1")


def _state(kms: Any, key: str) -> tuple[str, Any]:
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    return meta["KeyState"], meta.get("DeletionDate")


def test_scheduled_deletion_waits_for_approval_then_is_cancelled(ctx: Context,
                                                                 kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=10)
    (r,) = handle(cloudtrail_event("ScheduleKeyDeletion", "kms",
                                   {"keyId": key, "pendingWindowInDays": 10}), ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    assert [c["operation"] for c in r.changes] == ["CancelKeyDeletion", "EnableKey"]
    assert _state(kms, key)[0] == "PendingDeletion"  # nothing before the approval
    done = decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED
    assert _state(kms, key) == ("Enabled", None)
    rollback(ctx, str(r.incident_id), actor="test")
    state, deletion = _state(kms, key)
    assert state == "PendingDeletion" and deletion is not None


def test_disabled_key_is_enabled_and_rolled_back_to_disabled(ctx: Context, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    (r,) = handle(cloudtrail_event("DisableKey", "kms", {"keyId": key}), ctx)
    assert [c["operation"] for c in r.changes] == ["EnableKey"]
    decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert _state(kms, key) == ("Enabled", None)
    rollback(ctx, str(r.incident_id), actor="test")
    assert _state(kms, key)[0] == "Disabled"


def test_a_key_pending_deletion_and_disabled_before_is_fully_restored(ctx: Context,
                                                                      kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    (r,) = handle(cloudtrail_event("ScheduleKeyDeletion", "kms", {"keyId": key}), ctx)
    decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert _state(kms, key) == ("Enabled", None)


def test_a_key_enabled_again_before_approval_is_compliant(ctx: Context, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    (r,) = handle(cloudtrail_event("DisableKey", "kms", {"keyId": key}), ctx)
    kms.enable_key(KeyId=key)  # its owner fixed it first
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.COMPLIANT
