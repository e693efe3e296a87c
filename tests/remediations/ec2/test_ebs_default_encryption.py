"""ebs_default_encryption against moto: the region's setting read back."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import RollbackConflict
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import ACCOUNT, cloudtrail_event, config_event


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def _on(ec2: Any) -> bool:
    return bool(ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"])


def test_disabling_is_undone_for_the_region_and_rolled_back(ctx: Context, ec2: Any) -> None:
    r = handle(cloudtrail_event("DisableEbsEncryptionByDefault", "ec2", {}), ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED,
                                       f"AWS::::Account/{ACCOUNT}/us-east-1")
    assert _on(ec2) is True
    assert _on(boto3.client("ec2", region_name="us-west-2")) is False  # another region
    rollback(ctx, str(r.incident_id), actor="test")
    assert _on(ec2) is False


def test_config_account_result_joins_the_same_incident(ctx: Context, ec2: Any) -> None:
    first = handle(cloudtrail_event("DisableEbsEncryptionByDefault", "ec2", {}), ctx)[0]
    second = handle(config_event("ec2-ebs-encryption-by-default", "AWS::::Account",
                                 ACCOUNT), ctx)[0]
    assert second.outcome is Outcome.COMPLIANT and second.incident_id == first.incident_id


def test_rollback_refuses_after_someone_else_changed_it(ctx: Context, ec2: Any) -> None:
    r = handle(cloudtrail_event("DisableEbsEncryptionByDefault", "ec2", {}), ctx)[0]
    ec2.disable_ebs_encryption_by_default()
    with pytest.raises(RollbackConflict):
        rollback(ctx, str(r.incident_id), actor="test")


@pytest.mark.parametrize("event", [
    config_event("encrypted-volumes", "AWS::EC2::Volume", "vol-0abc"),
    config_event("rds-storage-encrypted", "AWS::RDS::DBInstance", "db-PHI"),
    cloudtrail_event("CreateCacheCluster", "elasticache", {"cacheClusterId": "c1"}),
    cloudtrail_event("CreateReplicationGroup", "elasticache", {"replicationGroupId": "g1"}),
])
def test_storage_that_cannot_be_encrypted_in_place_opens_an_incident(
        ctx: Context, event: dict[str, Any]) -> None:
    (r,) = handle(event, ctx)
    assert (r.policy, r.outcome, r.changes) == ("unencrypted-storage",
                                                Outcome.INCIDENT_OPENED, [])


def test_an_encrypted_replication_group_triggers_nothing(ctx: Context) -> None:
    event = cloudtrail_event("CreateReplicationGroup", "elasticache", {
        "replicationGroupId": "g2", "atRestEncryptionEnabled": True})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED
