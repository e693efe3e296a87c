"""guardduty_enable against moto: a detector enabled (or created) and read back."""

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
def guardduty(aws: None) -> Any:
    return boto3.client("guardduty", region_name="us-east-1")


def _statuses(guardduty: Any) -> list[str]:
    return [guardduty.get_detector(DetectorId=d)["Status"]
            for d in guardduty.list_detectors()["DetectorIds"]]


def test_a_disabled_detector_is_enabled_and_rolled_back(ctx: Context, guardduty: Any) -> None:
    detector = guardduty.create_detector(Enable=False)["DetectorId"]
    event = cloudtrail_event("UpdateDetector", "guardduty",
                             {"detectorId": detector, "enable": False})
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert r.resource == f"arn:aws:guardduty:us-east-1:123456789012:detector/{detector}"
    assert _statuses(guardduty) == ["ENABLED"]
    rollback(ctx, str(r.incident_id), actor="test")
    assert _statuses(guardduty) == ["DISABLED"]


def test_a_deleted_detector_is_replaced_by_an_enabled_one(ctx: Context,
                                                          guardduty: Any) -> None:
    event = cloudtrail_event("DeleteDetector", "guardduty", {"detectorId": "d-gone"})
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED and r.changes[0]["operation"] == "CreateDetector"
    assert _statuses(guardduty) == ["ENABLED"]
    rollback(ctx, str(r.incident_id), actor="test")  # disabled, not deleted: no data lost
    assert _statuses(guardduty) == ["DISABLED"]


def test_enabling_a_detector_triggers_nothing(ctx: Context, guardduty: Any) -> None:
    event = cloudtrail_event("UpdateDetector", "guardduty", {"detectorId": "d", "enable": True})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_the_account_level_config_result_enables_guardduty_in_its_region(
        ctx: Context, guardduty: Any) -> None:
    """guardduty-enabled-centralized names the account (AWS::::Account), not a detector."""
    event = config_event("guardduty-enabled-centralized-conformance-pack-x1y2",
                         "AWS::::Account", ACCOUNT)
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED and r.changes[0]["operation"] == "CreateDetector"
    assert r.resource == f"AWS::::Account/{ACCOUNT}/us-east-1"
    assert _statuses(guardduty) == ["ENABLED"]
    again = handle(config_event("guardduty-enabled-centralized", "AWS::::Account",
                                ACCOUNT), ctx)[0]
    assert again.outcome is Outcome.COMPLIANT and _statuses(guardduty) == ["ENABLED"]
    rollback(ctx, str(r.incident_id), actor="test")
    assert _statuses(guardduty) == ["DISABLED"]
