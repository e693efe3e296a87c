"""logs_kms_encryption against moto (with AssociateKmsKey added by tests/moto_ext.py, as
moto lacks it): the group's key read back after fix and rollback."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event


@pytest.fixture
def logs(aws: None) -> Any:
    return boto3.client("logs", region_name="us-east-1")


def _key(logs: Any, name: str) -> str | None:
    return logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0].get("kmsKeyId")


def test_a_group_created_without_a_key_gets_ours_and_rolls_back(ctx: Context, logs: Any,
                                                                kms_key: str) -> None:
    logs.create_log_group(logGroupName="/phi/app")
    event = cloudtrail_event("CreateLogGroup", "logs", {"logGroupName": "/phi/app"})
    r = {x.policy: x for x in handle(event, ctx)}["logs-kms"]
    assert r.outcome is Outcome.REMEDIATED and r.changes[0]["operation"] == "AssociateKmsKey"
    assert _key(logs, "/phi/app") == kms_key
    rollback(ctx, str(r.incident_id), actor="test")
    assert _key(logs, "/phi/app") is None


def test_a_disassociated_key_comes_back_and_a_chosen_key_stays(ctx: Context, logs: Any,
                                                              kms_key: str) -> None:
    logs.create_log_group(logGroupName="/phi/jobs")
    event = cloudtrail_event("DisassociateKmsKey", "logs", {"logGroupName": "/phi/jobs"})
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _key(logs, "/phi/jobs") == kms_key
    other = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="/phi/own", kmsKeyId=other)
    keyed = cloudtrail_event("CreateLogGroup", "logs", {"logGroupName": "/phi/own",
                                                        "kmsKeyId": other})
    assert all(r.policy != "logs-kms" for r in handle(keyed, ctx))  # did not even trigger
    again = cloudtrail_event("DisassociateKmsKey", "logs", {"logGroupName": "/phi/own"})
    assert handle(again, ctx)[0].outcome is Outcome.COMPLIANT and _key(logs, "/phi/own") == other


def test_an_exempt_group_is_left_alone(ctx: Context, logs: Any) -> None:
    logs.create_log_group(logGroupName="/phi/exempt", tags={"autoremediate:exempt": "true"})
    event = cloudtrail_event("DisassociateKmsKey", "logs", {"logGroupName": "/phi/exempt"})
    assert handle(event, ctx)[0].outcome is Outcome.EXEMPT and _key(logs, "/phi/exempt") is None
