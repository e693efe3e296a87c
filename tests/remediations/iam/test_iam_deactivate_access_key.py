"""iam_deactivate_access_key against moto: after approval the key reads back Inactive, the
user's other key stays Active; rollback re-activates; our own principals are refused."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import load_event


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def finding(user: str, key: str) -> dict[str, Any]:
    event = load_event("guardduty_credential_exfiltration")
    event["detail"]["resource"]["accessKeyDetails"].update(
        userName=user, userType="IAMUser", accessKeyId=key, principalId="AIDAEXAMPLE")
    return event


def _status(iam: Any, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"]
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_the_key_is_deactivated_after_approval_and_rolled_back(ctx: Context,
                                                               iam: Any) -> None:
    iam.create_user(UserName="etl-bot")
    bad = iam.create_access_key(UserName="etl-bot")["AccessKey"]["AccessKeyId"]
    good = iam.create_access_key(UserName="etl-bot")["AccessKey"]["AccessKeyId"]
    (r,) = handle(finding("etl-bot", bad), ctx)  # one result: the containment
    assert (r.policy, r.outcome) == ("contain-user-key", Outcome.APPROVAL_REQUESTED)
    incident = ctx.store.incident(str(r.incident_id))
    assert incident.breach_notification_deadline is not None  # the GuardDuty clock
    assert _status(iam, "etl-bot") == {bad: "Active", good: "Active"}
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    assert _status(iam, "etl-bot") == {bad: "Inactive", good: "Active"}
    rollback(ctx, str(r.incident_id), actor="test")
    assert _status(iam, "etl-bot") == {bad: "Active", good: "Active"}


def test_a_key_of_our_own_user_is_recorded_not_contained(ctx: Context, iam: Any) -> None:
    iam.create_user(UserName="moto")  # moto's caller identity is user/moto
    key = iam.create_access_key(UserName="moto")["AccessKey"]["AccessKeyId"]
    (r,) = handle(finding("moto", key), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED and "own principals" in str(r.reason)
    assert _status(iam, "moto") == {key: "Active"}


def test_a_key_that_is_gone_still_opens_the_incident(ctx: Context, iam: Any) -> None:
    """Deleted already (by its owner, or a responder): nothing to deactivate or retry, but
    a GuardDuty credential finding is a possible breach: its incident (and breach clock)
    is opened for a human, not dropped as `ignored`."""
    iam.create_user(UserName="gone-bot")
    (r,) = handle(finding("gone-bot", "AKIAEXAMPLEGONE00001"), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED and "no access key" in str(r.reason)
    assert str(r.reason).startswith("resource no longer exists: ")
    assert ctx.store.incident(str(r.incident_id)).breach_notification_deadline
