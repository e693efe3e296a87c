"""iam_inline_to_managed against moto: after approval each inline policy is a managed
policy under /autoremediate/ with the same document, attached, and the inline one is gone;
rollback puts the inline documents back and deletes the copies; service-linked and
Identity Center roles are left alone."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.errors import RemediationError
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import ACCOUNT, config_event
from tests.remediations.iam._moto_iam import set_user_id

READ = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadPhi", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::phi/*"}]}
LOGS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}]}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]})


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _state(iam: Any, kind: str, name: str) -> tuple[list[str], dict[str, Any]]:
    key = {f"{kind}Name": name}
    lower = kind.lower()
    inline = getattr(iam, f"list_{lower}_policies")(**key)["PolicyNames"]
    copies = {}
    for p in getattr(iam, f"list_attached_{lower}_policies")(**key)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]["DefaultVersionId"]
        copies[p["PolicyArn"]] = iam.get_policy_version(
            PolicyArn=p["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
    return sorted(inline), copies


def test_a_users_inline_policies_move_after_approval_and_back(ctx: Context,
                                                              iam: Any) -> None:
    iam.create_user(UserName="analyst")
    set_user_id("analyst", "AIDAANALYSTEXAMPLE01")
    iam.put_user_policy(UserName="analyst", PolicyName="read", PolicyDocument=json.dumps(READ))
    iam.put_user_policy(UserName="analyst", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    event = config_event("iam-no-inline-policy-check-conformance-pack-z9", "AWS::IAM::User",
                         "AIDAANALYSTEXAMPLE01")
    (r,) = handle(event, ctx)
    assert (r.outcome, r.resource) == (Outcome.APPROVAL_REQUESTED,
                                       f"arn:aws:iam::{ACCOUNT}:user/analyst")
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    base = f"arn:aws:iam::{ACCOUNT}:policy/autoremediate/analyst"
    assert _state(iam, "User", "analyst") == ([], {f"{base}-logs": LOGS,
                                                   f"{base}-read": READ})
    rollback(ctx, str(r.incident_id), actor="test")
    assert _state(iam, "User", "analyst") == (["logs", "read"], {})
    assert not iam.list_policies(Scope="Local", PathPrefix="/autoremediate/")["Policies"]


@pytest.mark.parametrize("kind", ["Role", "Group"])
def test_roles_and_groups_move_too(build: Any, iam: Any, kind: str) -> None:
    if kind == "Role":
        iam.create_role(RoleName="etl", AssumeRolePolicyDocument=TRUST)
    else:
        iam.create_group(GroupName="etl")
    getattr(iam, f"put_{kind.lower()}_policy")(**{f"{kind}Name": "etl"}, PolicyName="read",
                                               PolicyDocument=json.dumps(READ))
    rem = build("iam_inline_to_managed", resource=Resource(type=f"AWS::IAM::{kind}",
                                                           id="etl"))
    plan = rem.plan()
    assert [c.operation for c in plan.calls] == [
        "CreatePolicy", f"Attach{kind}Policy", f"Delete{kind}Policy"]
    rem.apply(plan)
    rem.verify(plan)
    assert _state(iam, kind, "etl")[0] == []
    rem.rollback(plan)
    assert _state(iam, kind, "etl") == (["read"], {})


@pytest.mark.parametrize("name, path", [
    ("AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/"),
    ("AWSReservedSSO_Admin_0123456789abcdef", "/aws-reserved/sso.amazonaws.com/")])
def test_service_linked_and_identity_center_roles_are_left_alone(
        ctx: Context, iam: Any, name: str, path: str) -> None:
    role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=json.dumps(READ))
    (r,) = handle(config_event("iam-no-inline-policy-check", "AWS::IAM::Role",
                               role["RoleId"]), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED
    assert "service-linked" in str(r.reason) or "Identity Center" in str(r.reason)
    assert _state(iam, "Role", name) == (["x"], {})


def test_the_attached_quota_fails_before_any_change(build: Any, iam: Any) -> None:
    iam.create_user(UserName="full")
    iam.put_user_policy(UserName="full", PolicyName="read", PolicyDocument=json.dumps(READ))
    rem = build("iam_inline_to_managed", resource=Resource(type="AWS::IAM::User", id="full"),
                attached_quota=1)
    arn = iam.create_policy(PolicyName="other", PolicyDocument=json.dumps(LOGS))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="full", PolicyArn=arn)
    with pytest.raises(RemediationError, match="quota of 1"):
        rem.plan()
    assert _state(iam, "User", "full")[0] == ["read"]


def test_dry_run_and_no_inline_policies(ctx: Context, iam: Any) -> None:
    iam.create_user(UserName="analyst")
    set_user_id("analyst", "AIDAANALYSTEXAMPLE01")
    def event() -> dict[str, Any]:  # a new event id each time
        return config_event("iam-no-inline-policy-check", "AWS::IAM::User",
                            "AIDAANALYSTEXAMPLE01")

    assert handle(event(), ctx)[0].outcome is Outcome.COMPLIANT
    iam.put_user_policy(UserName="analyst", PolicyName="read", PolicyDocument=json.dumps(READ))
    (r,) = handle(event(), ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN
    assert [c["operation"] for c in r.changes] == [
        "CreatePolicy", "AttachUserPolicy", "DeleteUserPolicy"]
    assert _state(iam, "User", "analyst") == (["read"], {})
