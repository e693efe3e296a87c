"""rds_instance_private against moto: after approval the instance reads back private;
Config's resource id resolves to the same instance; rollback makes it public again."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event, config_event


@pytest.fixture
def rds(aws: None) -> Any:
    return boto3.client("rds", region_name="us-east-1")


def _public_db(rds: Any) -> dict[str, Any]:
    return dict(rds.create_db_instance(
        DBInstanceIdentifier="phi-db", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="admin", MasterUserPassword="not-a-real-password",
        AllocatedStorage=20, PubliclyAccessible=True)["DBInstance"])


def _public(rds: Any) -> bool:
    return bool(rds.describe_db_instances(DBInstanceIdentifier="phi-db")["DBInstances"][0][
        "PubliclyAccessible"])


def test_public_instance_goes_private_after_approval_and_rolls_back(ctx: Context,
                                                                   rds: Any) -> None:
    db = _public_db(rds)
    event = cloudtrail_event("ModifyDBInstance", "rds", {
        "dBInstanceIdentifier": "phi-db", "publiclyAccessible": True})
    (r,) = handle(event, ctx)
    assert (r.outcome, r.resource) == (Outcome.APPROVAL_REQUESTED, db["DBInstanceArn"])
    assert _public(rds) is True
    decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert _public(rds) is False
    rollback(ctx, str(r.incident_id), actor="test")
    assert _public(rds) is True


def test_config_names_the_instance_by_resource_id(ctx: Context, rds: Any) -> None:
    db = _public_db(rds)
    first = handle(cloudtrail_event("CreateDBInstance", "rds", {
        "dBInstanceIdentifier": "phi-db", "publiclyAccessible": True}), ctx)[0]
    second = handle(config_event("rds-instance-public-access-check", "AWS::RDS::DBInstance",
                                 db["DbiResourceId"]), ctx)[0]
    assert second.resource == db["DBInstanceArn"]
    assert second.incident_id == first.incident_id
    assert second.approval_id == first.approval_id  # joins the pending approval
