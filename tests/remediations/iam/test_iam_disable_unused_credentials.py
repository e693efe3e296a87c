"""iam_disable_unused_credentials against moto: after approval, keys unused for
max_age_days read back Inactive and an unused console password is gone; rollback
re-activates the keys and gives the user a console password again (never recorded).
moto never sets PasswordLastUsed nor a key's last use: the tests set them on its model;
moto's CreateLoginProfile ignores PasswordResetRequired, so that is not asserted."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import config_event
from tests.remediations.iam._moto_iam import age_key, set_user_id, use_key, use_password

USER_ID = "AIDAOLDANALYSTEXAMP1"
PASSWORD = "Initial-Passw0rd!-for-tests"


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _state(iam: Any, user: str) -> tuple[dict[str, str], bool]:
    keys = {k["AccessKeyId"]: k["Status"]
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    try:
        iam.get_login_profile(UserName=user)
        return keys, True
    except iam.exceptions.NoSuchEntityException:
        return keys, False


def _user(iam: Any) -> tuple[str, str, str]:
    iam.create_user(UserName="old-analyst")
    set_user_id("old-analyst", USER_ID)
    iam.create_login_profile(UserName="old-analyst", Password=PASSWORD)
    use_password("old-analyst", 120)
    idle = iam.create_access_key(UserName="old-analyst")["AccessKey"]["AccessKeyId"]
    age_key("old-analyst", idle, 300)
    use_key("old-analyst", idle, 100)
    never = iam.create_access_key(UserName="old-analyst")["AccessKey"]["AccessKeyId"]
    age_key("old-analyst", never, 95)  # never used, created 95 days ago: unused
    return idle, never, "old-analyst"


def _event() -> dict[str, Any]:
    return config_event("iam-user-unused-credentials-check-conformance-pack-k1",
                        "AWS::IAM::User", USER_ID)


def test_unused_keys_and_password_are_disabled_after_approval_and_rolled_back(
        ctx: Context, iam: Any) -> None:
    idle, never, user = _user(iam)
    (r,) = handle(_event(), ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    notes = ctx.store.approval(str(r.approval_id)).plan.notes
    assert any(idle in n and "last used" in n for n in notes)
    assert any(never in n and "never used" in n for n in notes)
    assert any("console password last used" in n for n in notes)
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    assert _state(iam, user) == ({idle: "Inactive", never: "Inactive"}, False)
    rollback(ctx, str(r.incident_id), actor="test")
    assert _state(iam, user) == ({idle: "Active", never: "Active"}, True)
    # the generated password is in no record: only the call's name and user are
    dumped = json.dumps([e.model_dump(mode="json") for e in
                         ctx.store.entries(str(r.incident_id))])
    assert "CreateLoginProfile" in dumped and '"Password"' not in dumped


def test_recently_used_credentials_stay(build: Any, iam: Any) -> None:
    idle, never, user = _user(iam)
    use_key(user, idle, 2)
    use_password(user, 5)
    rem = build("iam_disable_unused_credentials",
                resource=Resource(type="AWS::IAM::User", id=user))
    plan = rem.plan()
    assert [(c.operation, c.params.get("AccessKeyId")) for c in plan.calls] == [
        ("UpdateAccessKey", never)]
    rem.apply(plan)
    assert rem.verify(plan) == {"Keys": {idle: "Active", never: "Inactive"},
                                "ConsolePassword": True}


def test_a_user_without_console_password_only_loses_keys(build: Any, iam: Any) -> None:
    idle, _, user = _user(iam)
    iam.delete_login_profile(UserName=user)
    rem = build("iam_disable_unused_credentials",
                resource=Resource(type="AWS::IAM::User", id=user), max_age_days=99)
    plan = rem.plan()
    # used 100 days ago: unused; the never-used key is 95 days old: not yet
    assert [c.params.get("AccessKeyId") for c in plan.calls] == [idle]
    assert plan.before["ConsolePassword"] is False
    rem.apply(plan)
    rem.verify(plan)


def test_dry_run_and_exemption_change_nothing(ctx: Context, iam: Any) -> None:
    idle, never, user = _user(iam)
    (r,) = handle(_event(), ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN
    assert [c["operation"] for c in r.changes] == [
        "UpdateAccessKey", "UpdateAccessKey", "DeleteLoginProfile"]
    iam.tag_user(UserName=user, Tags=[{"Key": "autoremediate:exempt", "Value": "true"}])
    assert handle(_event(), ctx)[0].outcome is Outcome.EXEMPT
    assert _state(iam, user) == ({idle: "Active", never: "Active"}, True)
