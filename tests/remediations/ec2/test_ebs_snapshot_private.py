"""ebs_snapshot_private against moto: only the `all` permission goes; shared accounts stay;
rollback makes it public again."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import ACCOUNT, cloudtrail_event, config_event


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def _public_snapshot(ec2: Any) -> str:
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["VolumeId"]
    snapshot = str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])
    ec2.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                  OperationType="add", GroupNames=["all"],
                                  UserIds=["111122223333"])
    return snapshot


def _who(ec2: Any, snapshot: str) -> list[dict[str, str]]:
    return list(ec2.describe_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission")["CreateVolumePermissions"])


def test_a_public_snapshot_is_private_again_and_rolls_back(ctx: Context, ec2: Any) -> None:
    snapshot = _public_snapshot(ec2)
    event = cloudtrail_event("ModifySnapshotAttribute", "ec2", {
        "snapshotId": snapshot, "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {"add": {"items": [{"group": "all"}]}}})
    r = handle(event, ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED,
                                       f"arn:aws:ec2:us-east-1::snapshot/{snapshot}")
    assert _who(ec2, snapshot) == [{"UserId": "111122223333"}]
    rollback(ctx, str(r.incident_id), actor="test")
    assert {"Group": "all"} in _who(ec2, snapshot)


def test_account_level_config_result_covers_every_public_snapshot(ctx: Context,
                                                                  ec2: Any) -> None:
    first, second = _public_snapshot(ec2), _public_snapshot(ec2)
    event = config_event("ebs-snapshot-public-restorable-check", "AWS::::Account", ACCOUNT)
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _who(ec2, first) == _who(ec2, second) == [{"UserId": "111122223333"}]


def test_sharing_with_an_account_triggers_nothing(ctx: Context, ec2: Any) -> None:
    event = cloudtrail_event("ModifySnapshotAttribute", "ec2", {
        "snapshotId": "snap-1", "createVolumePermission": {
            "add": {"items": [{"userId": "111122223333"}]}}})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED
