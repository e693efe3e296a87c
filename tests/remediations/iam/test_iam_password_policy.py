"""iam_password_policy against moto: each field the stricter of current and required, read
back; rollback restores the saved policy exactly or deletes it. moto reports MaxPasswordAge
0 for "never expires" (AWS omits it): the remediation treats 0 as unset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.errors import RollbackConflict
from chalicelib.finding import Resource, account_resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import ACCOUNT, cloudtrail_event, config_event

STRONG = {"MinimumPasswordLength": 14, "RequireSymbols": True, "RequireNumbers": True,
          "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True,
          "MaxPasswordAge": 90, "PasswordReusePrevention": 24}


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _policy(iam: Any) -> dict[str, Any] | None:
    try:
        got = dict(iam.get_account_password_policy()["PasswordPolicy"])
    except iam.exceptions.NoSuchEntityException:
        return None
    got.pop("ExpirePasswords", None)
    # moto reports 0 for an unset number (AWS omits it)
    return {k: v for k, v in got.items() if isinstance(v, bool) or v != 0}


def _config() -> dict[str, Any]:
    return config_event("iam-password-policy-conformance-pack-abc123", "AWS::::Account",
                        ACCOUNT)


def test_no_policy_gets_the_required_one_and_rollback_deletes_it(ctx: Context,
                                                                 iam: Any) -> None:
    r = handle(_config(), ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED, f"AWS::::Account/{ACCOUNT}/us-east-1")
    assert _policy(iam) == {**STRONG, "AllowUsersToChangePassword": False,
                            "HardExpiry": False}
    rollback(ctx, str(r.incident_id), actor="test")
    assert _policy(iam) is None


def test_a_weak_policy_is_tightened_never_weakened_and_restored(ctx: Context,
                                                                iam: Any) -> None:
    # stricter than required on length and age, weaker elsewhere; the kept flags stay
    iam.update_account_password_policy(MinimumPasswordLength=20, MaxPasswordAge=30,
                                       RequireSymbols=True, AllowUsersToChangePassword=True,
                                       HardExpiry=True)
    before = _policy(iam)
    event = cloudtrail_event("UpdateAccountPasswordPolicy", "iam",
                             {"minimumPasswordLength": 20, "maxPasswordAge": 30})
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert _policy(iam) == {**STRONG, "MinimumPasswordLength": 20, "MaxPasswordAge": 30,
                            "AllowUsersToChangePassword": True, "HardExpiry": True}
    rollback(ctx, str(r.incident_id), actor="test")
    assert _policy(iam) == before


def test_a_deleted_policy_is_put_back_within_seconds(ctx: Context, iam: Any) -> None:
    r = handle(cloudtrail_event("DeleteAccountPasswordPolicy", "iam", None), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert _policy(iam) is not None and _policy(iam)["MinimumPasswordLength"] == 14  # type: ignore[index]


def test_a_strong_policy_is_compliant_and_untouched(ctx: Context, iam: Any) -> None:
    iam.update_account_password_policy(**{**STRONG, "MinimumPasswordLength": 16})
    assert handle(_config(), ctx)[0].outcome is Outcome.COMPLIANT
    assert _policy(iam)["MinimumPasswordLength"] == 16  # type: ignore[index]


def test_dry_run_plans_one_update_and_changes_nothing(ctx: Context, iam: Any) -> None:
    r = handle(_config(), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN
    assert [c["operation"] for c in r.changes] == ["UpdateAccountPasswordPolicy"]
    assert "MaxPasswordAge" in r.changes[0]["params"]
    assert _policy(iam) is None


def test_moto_zero_max_age_is_unset_and_never_sent(build: Any, iam: Any) -> None:
    iam.update_account_password_policy(MinimumPasswordLength=8)  # moto: MaxPasswordAge=0
    rem = build("iam_password_policy", resource=account_resource(ACCOUNT, "us-east-1"))
    plan = rem.plan()
    assert "MaxPasswordAge" not in plan.before["PasswordPolicy"]
    assert plan.after["PasswordPolicy"]["MaxPasswordAge"] == 90
    rem.apply(plan)
    rem.verify(plan)
    rem.rollback(plan)
    assert _policy(iam) == {"MinimumPasswordLength": 8, "RequireSymbols": False,
                            "RequireNumbers": False, "RequireUppercaseCharacters": False,
                            "RequireLowercaseCharacters": False,
                            "AllowUsersToChangePassword": False, "HardExpiry": False}


def test_rollback_refuses_after_a_later_change_unless_forced(build: Any, iam: Any) -> None:
    rem = build("iam_password_policy", resource=Resource(type="AWS::::Account",
                                                         id=f"{ACCOUNT}/us-east-1"),
                min_length=16)
    plan = rem.plan()
    rem.apply(plan)
    assert rem.verify(plan)["PasswordPolicy"]["MinimumPasswordLength"] == 16
    iam.update_account_password_policy(**{**STRONG, "MinimumPasswordLength": 30})
    with pytest.raises(RollbackConflict):
        rem.rollback(plan)
    rem.rollback(plan, force=True)
    assert _policy(iam) is None


def test_an_exempt_account_is_left_alone(aws: None, iam: Any, tmp_path: Path) -> None:
    text = (Path("policies") / "32-hipaa-iam.yaml").read_text().replace(
        "    remediation: iam_password_policy\n",
        f"    remediation: iam_password_policy\n    exempt_accounts: ['{ACCOUNT}']\n")
    (tmp_path / "p.yaml").write_text(text)
    ctx, _ = make_context(policy_dir=tmp_path)
    (r,) = [r for r in handle(_config(), ctx) if r.policy == "iam-password-policy"]
    assert r.outcome is Outcome.EXEMPT and _policy(iam) is None
