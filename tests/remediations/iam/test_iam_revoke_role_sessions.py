"""iam_revoke_role_sessions against moto: after approval the role carries the console's
AWSRevokeOlderSessions deny with a cutoff at the moment it was applied; rollback restores
the prior inline policy or removes ours; our own roles are refused."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import load_event

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "ec2.amazonaws.com"}}]})


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _role_finding(role: str) -> dict[str, Any]:
    event = load_event("guardduty_credential_exfiltration")
    event["detail"]["resource"]["accessKeyDetails"]["userName"] = role
    return event


def _inline(iam: Any, role: str) -> dict[str, Any] | None:
    try:
        return dict(iam.get_role_policy(RoleName=role, PolicyName="AWSRevokeOlderSessions")[
            "PolicyDocument"])
    except iam.exceptions.NoSuchEntityException:
        return None


def test_older_sessions_are_revoked_after_approval_and_rolled_back(ctx: Context,
                                                                   iam: Any) -> None:
    iam.create_role(RoleName="phi-ingest-instance-role", AssumeRolePolicyDocument=TRUST)
    (r,) = handle(_role_finding("phi-ingest-instance-role"), ctx)
    assert (r.policy, r.outcome) == ("contain-role-session", Outcome.APPROVAL_REQUESTED)
    assert _inline(iam, "phi-ingest-instance-role") is None
    time.sleep(1.1)  # the approval comes later: the cutoff must be when it is applied
    approved_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    done = decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED  # not "changed since": the cutoff may move
    doc = _inline(iam, "phi-ingest-instance-role")
    assert doc is not None
    (statement,) = doc["Statement"]
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
        "Deny", ["*"], ["*"])
    cutoff = dt.datetime.fromisoformat(
        statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"])
    assert cutoff >= approved_at
    rollback(ctx, str(r.incident_id), actor="test")
    assert _inline(iam, "phi-ingest-instance-role") is None


def test_our_own_member_role_is_recorded_not_revoked(ctx: Context, iam: Any) -> None:
    iam.create_role(RoleName="autoremediate-member", AssumeRolePolicyDocument=TRUST)
    (r,) = handle(_role_finding("autoremediate-member"), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED and "own roles" in str(r.reason)
    assert _inline(iam, "autoremediate-member") is None


def test_a_second_finding_about_the_same_role_joins_the_pending_approval(
        ctx: Context, iam: Any) -> None:
    """Its plan carries the moment it is made (the cutoff), so two findings a second apart
    plan different calls; the pending approval is still the same fix (`unchanged`), and
    the on-call is asked once (issue #24: `pending_for` used to compare the calls itself)."""
    iam.create_role(RoleName="phi-ingest-instance-role", AssumeRolePolicyDocument=TRUST)
    (first,) = handle(_role_finding("phi-ingest-instance-role"), ctx)
    time.sleep(1.1)  # the second plan's cutoff is a different second
    (second,) = handle(_role_finding("phi-ingest-instance-role"), ctx)
    assert first.outcome is second.outcome is Outcome.APPROVAL_REQUESTED
    assert second.approval_id == first.approval_id
    assert second.incident_id == first.incident_id
    assert "already pending" in str(second.reason)
    assert [a.approval_id for a in ctx.store.pending_approvals()] == [first.approval_id]
