"""rds_snapshot_private against moto: `all` goes, shared accounts stay, by identifier or
by Config's id; rollback makes it public again."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event, config_event


@pytest.fixture
def rds(aws: None) -> Any:
    client = boto3.client("rds", region_name="us-east-1")
    client.create_db_instance(DBInstanceIdentifier="phi-db", Engine="postgres",
                              DBInstanceClass="db.t3.micro", MasterUsername="admin",
                              MasterUserPassword="not-a-real-password", AllocatedStorage=20)
    return client


def _public(rds: Any, name: str) -> str:
    arn = rds.create_db_snapshot(DBSnapshotIdentifier=name,
                                 DBInstanceIdentifier="phi-db")["DBSnapshot"]["DBSnapshotArn"]
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=name, AttributeName="restore",
                                     ValuesToAdd=["all", "111122223333"])
    return str(arn)


def _restore(rds: Any, name: str) -> list[str]:
    got = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=name)
    return sorted(got["DBSnapshotAttributesResult"]["DBSnapshotAttributes"][0][
        "AttributeValues"])


def test_a_public_snapshot_is_private_again_and_rolls_back(ctx: Context, rds: Any) -> None:
    arn = _public(rds, "nightly")
    event = cloudtrail_event("ModifyDBSnapshotAttribute", "rds", {
        "dBSnapshotIdentifier": "nightly", "attributeName": "restore",
        "valuesToAdd": ["all"]})
    r = handle(event, ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, arn)
    assert _restore(rds, "nightly") == ["111122223333"]
    rollback(ctx, str(r.incident_id), actor="test")
    assert _restore(rds, "nightly") == ["111122223333", "all"]


def test_config_and_cloudtrail_name_the_same_snapshot(ctx: Context, rds: Any) -> None:
    arn = _public(rds, "weekly")
    first = handle(config_event("rds-snapshots-public-prohibited", "AWS::RDS::DBSnapshot",
                                arn), ctx)[0]
    second = handle(cloudtrail_event("ModifyDBSnapshotAttribute", "rds", {
        "dBSnapshotIdentifier": "weekly", "valuesToAdd": ["all"]}), ctx)[0]
    assert first.outcome is Outcome.REMEDIATED and second.outcome is Outcome.COMPLIANT
    assert first.incident_id == second.incident_id


def test_a_snapshot_deleted_before_we_got_to_it_is_ignored(ctx: Context, rds: Any) -> None:
    """Gone: `ignored`, no incident. An automated snapshot (moto refuses to create one)
    keeps its `rds:` prefix: the id is everything after `snapshot:` in the ARN."""
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:rds:phi-db-2026-12-02-03-00"
    r = handle(config_event("rds-snapshots-public-prohibited", "AWS::RDS::DBSnapshot",
                            arn), ctx)[0]
    assert r.outcome is Outcome.IGNORED and r.incident_id is None
    assert r.reason == ("resource no longer exists: no DBSnapshot "
                        "rds:phi-db-2026-12-02-03-00")
