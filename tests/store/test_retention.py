"""What the state table keeps: the audit evidence (incidents, timeline entries, approvals,
drill runs, reports) never carries the TTL attribute, so DynamoDB never deletes it; the
housekeeping items (event claims, finding deliveries, blast-radius counters) always do.

The items are the ones the store really writes: every shipped event goes through the
pipeline, a drill runs, a report is recorded; then the whole table is read back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from chalicelib.context import Context
from chalicelib.store.table import HOUSEKEEPING, TTL_ATTRIBUTE
from tests.helpers import EVENTS, load_event


def _items(table: str) -> list[dict[str, Any]]:
    db = boto3.client("dynamodb", region_name="us-east-1")
    de = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in db.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += [{k: de.deserialize(v) for k, v in i.items()} for i in page["Items"]]
    return items


def _kind(item: dict[str, Any]) -> str:
    sk = str(item["sk"])
    return "ENTRY" if sk.startswith("ENTRY#") else sk


def test_only_housekeeping_items_carry_the_ttl_attribute(ctx: Context, s3: Any) -> None:
    from chalicelib.approval import decide
    from chalicelib.drill import run
    from chalicelib.pipeline import handle

    s3.create_bucket(Bucket="phi-bucket")  # the events' bucket: its fixes apply
    public = {"Version": "2012-10-17", "Statement": [{  # revoking it asks for approval
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::phi-bucket/*"}]}
    s3.put_bucket_policy(Bucket="phi-bucket", Policy=json.dumps(public))
    approvals = []
    for path in sorted(EVENTS.glob("*.json")):
        approvals += [r.approval_id for r in handle(load_event(path.stem), ctx)
                      if r.approval_id]
    assert approvals
    decide(ctx, str(approvals[0]), "U_ONCALL", approve=True)
    run(ctx)
    ctx.store.put_report("0" * 64, since="2026-01-01", fmt="json")

    db = boto3.client("dynamodb", region_name="us-east-1")
    ttl = db.describe_time_to_live(TableName=ctx.settings.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}

    items = _items(ctx.settings.table)
    kinds = {_kind(i) for i in items}
    # the run wrote every kind this test is about (else it would prove nothing)
    assert {"EVENT", "FINDING", "RATE", "META", "ENTRY", "POINTER", "DRILL",
            "REPORT"} <= kinds, kinds
    assert any(str(i["pk"]).startswith("APPROVAL#") for i in items)
    now = dt.datetime.now(dt.UTC).timestamp()
    for item in items:
        if _kind(item) in HOUSEKEEPING:
            purge = item.get(TTL_ATTRIBUTE)
            assert isinstance(purge, int | float) or str(purge).isdigit(), item["pk"]
            # expires after its use, and well within the evidence's six years
            assert now < float(purge) < now + 90 * 86400, item["pk"]
        else:
            assert TTL_ATTRIBUTE not in item, f"evidence item would expire: {item['pk']}"


def test_bootstrap_makes_the_table_the_stack_makes(aws: None, kms_key: str,
                                                   monkeypatch: Any,
                                                   capsys: Any) -> None:
    """`remediate bootstrap` (local and dev): the central stack's StateTable settings,
    as far as the emulator keeps them."""
    from chalicelib.cli import main
    from chalicelib.stack import _table

    monkeypatch.setenv("REMEDIATION_TABLE", "autoremediate-local")
    assert main(["bootstrap", "--kms-key", kms_key]) == 0
    assert json.loads(capsys.readouterr().out) == {"table": "autoremediate-local",
                                                   "created": True}
    stack = _table("autoremediate-local")["Properties"]
    db = boto3.client("dynamodb", region_name="us-east-1")
    table = db.describe_table(TableName="autoremediate-local")["Table"]
    assert table["KeySchema"] == stack["KeySchema"]
    assert table["AttributeDefinitions"] == stack["AttributeDefinitions"]
    assert table["BillingModeSummary"]["BillingMode"] == stack["BillingMode"]
    assert table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == kms_key
    assert table["DeletionProtectionEnabled"] is stack["DeletionProtectionEnabled"] is True
    backups = db.describe_continuous_backups(TableName="autoremediate-local")[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert backups["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = db.describe_time_to_live(TableName="autoremediate-local")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == stack["TimeToLiveSpecification"]["AttributeName"]
    # idempotent; and the table refuses to be deleted
    assert main(["bootstrap"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] is False
    with pytest.raises(db.exceptions.ClientError, match="DeletionProtectionEnabled"):
        db.delete_table(TableName="autoremediate-local")
