"""iam_deactivate_stale_keys against moto: after approval the user's Active keys older than
max_age_days read back Inactive (never deleted), younger ones stay Active; the approval
shows each key's age and last use; rollback re-activates. moto cannot backdate a key's
CreateDate through the API: the tests set it on moto's model (`_moto_iam`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import ACCOUNT, config_event
from tests.remediations.iam._moto_iam import age_key, set_user_id, use_key

USER_ID = "AIDAETLBOTEXAMPLE0001"


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _status(iam: Any, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"]
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def _user_with_keys(iam: Any, name: str = "etl-bot") -> tuple[str, str]:
    iam.create_user(UserName=name)
    set_user_id(name, USER_ID)
    old = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    age_key(name, old, 200)
    use_key(name, old, 3, service="s3", region="eu-west-1")
    age_key(name, new, 10)
    return old, new


def _event() -> dict[str, Any]:
    return config_event("access-keys-rotated-conformance-pack-q1w2e3", "AWS::IAM::User",
                        USER_ID)


def test_a_stale_key_is_deactivated_after_approval_and_rolled_back(ctx: Context,
                                                                   iam: Any) -> None:
    old, new = _user_with_keys(iam)
    (r,) = handle(_event(), ctx)
    assert (r.policy, r.outcome) == ("iam-access-keys-rotated", Outcome.APPROVAL_REQUESTED)
    assert r.resource == f"arn:aws:iam::{ACCOUNT}:user/etl-bot"  # resolved from AIDA…
    notes = ctx.store.approval(str(r.approval_id)).plan.notes
    assert any(old in n and "200 days old" in n and "by s3 in eu-west-1" in n for n in notes)
    assert _status(iam, "etl-bot") == {old: "Active", new: "Active"}
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    assert _status(iam, "etl-bot") == {old: "Inactive", new: "Active"}  # never deleted
    rollback(ctx, str(r.incident_id), actor="test")
    assert _status(iam, "etl-bot") == {old: "Active", new: "Active"}


def test_max_age_is_a_parameter_and_inactive_keys_are_left_alone(build: Any,
                                                                 iam: Any) -> None:
    old, new = _user_with_keys(iam)
    iam.update_access_key(UserName="etl-bot", AccessKeyId=old, Status="Inactive")
    rem = build("iam_deactivate_stale_keys",
                resource=Resource(type="AWS::IAM::User", id=USER_ID), max_age_days=7)
    plan = rem.plan()
    assert [c.params["AccessKeyId"] for c in plan.calls] == [new]
    assert any(new in n and "never used" in n for n in plan.notes)
    rem.apply(plan)
    assert rem.verify(plan) == {"Keys": {old: "Inactive", new: "Inactive"}}


def test_fresh_keys_are_compliant(ctx: Context, iam: Any) -> None:
    iam.create_user(UserName="fresh")
    set_user_id("fresh", USER_ID)
    key = iam.create_access_key(UserName="fresh")["AccessKey"]["AccessKeyId"]
    assert handle(_event(), ctx)[0].outcome is Outcome.COMPLIANT
    assert _status(iam, "fresh") == {key: "Active"}


def test_dry_run_changes_nothing(ctx: Context, iam: Any) -> None:
    old, new = _user_with_keys(iam)
    (r,) = handle(_event(), ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN
    assert [c["params"]["AccessKeyId"] for c in r.changes] == [old]
    assert _status(iam, "etl-bot") == {old: "Active", new: "Active"}


def test_a_break_glass_user_is_exempt(ctx: Context, iam: Any) -> None:
    old, new = _user_with_keys(iam)
    iam.tag_user(UserName="etl-bot", Tags=[{"Key": "autoremediate:exempt", "Value": "true"}])
    assert handle(_event(), ctx)[0].outcome is Outcome.EXEMPT
    assert _status(iam, "etl-bot") == {old: "Active", new: "Active"}


def test_a_user_that_is_gone_is_ignored(ctx: Context, iam: Any) -> None:
    (r,) = handle(_event(), ctx)
    assert r.outcome is Outcome.IGNORED and "no IAM user with id" in str(r.reason)


def test_our_own_user_is_refused(aws: None, iam: Any, tmp_path: Path) -> None:
    iam.create_user(UserName="moto")  # moto's caller identity is user/moto
    set_user_id("moto", USER_ID)
    key = iam.create_access_key(UserName="moto")["AccessKey"]["AccessKeyId"]
    age_key("moto", key, 400)
    ctx, _ = make_context(approvers=("U_ONCALL",))
    (r,) = handle(_event(), ctx)
    assert "own principals" in str(r.reason)
    assert _status(iam, "moto") == {key: "Active"}
