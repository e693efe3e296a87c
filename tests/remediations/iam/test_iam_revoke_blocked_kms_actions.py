"""iam_revoke_blocked_kms_actions against moto: after approval, the blocked KMS actions are
gone from Allow-on-* statements (other actions, Sids and conditions stay), in a new
default version of a customer policy or in a principal's inline policy; rollback restores."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.errors import RollbackConflict
from chalicelib.finding import Resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from remediations.iam.iam_revoke_blocked_kms_actions import grants_blocked
from tests.helpers import ACCOUNT, cloudtrail_event, config_event

MIXED = {"Sid": "AppKeys", "Effect": "Allow", "Resource": "*",
         "Action": ["kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject"],
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
KMS_ALL = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
SCOPED = {"Sid": "OneKey", "Effect": "Allow", "Action": "kms:Decrypt",
          "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f0f0f0f-1111-2222-3333-444444444444"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _default_doc(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


@pytest.mark.parametrize("action, blocked", [
    ("kms:Decrypt", True), ("kms:*", True), ("kms:ReEncrypt*", True),
    ("KMS:reencryptfrom", True), ("kms:De*", True), ("kms:Encrypt", False),
    ("kms:GenerateDataKey*", False), ("*", False), ("s3:*", False)])
def test_which_actions_are_blocked(action: str, blocked: bool) -> None:
    assert grants_blocked(action) is blocked


def test_a_customer_policy_gets_a_narrowed_version_after_approval(ctx: Context,
                                                                  iam: Any) -> None:
    policy = iam.create_policy(PolicyName="app", PolicyDocument=json.dumps(
        doc(MIXED, KMS_ALL, SCOPED)))["Policy"]
    event = config_event("iam-customer-policy-blocked-kms-actions-conformance-pack-a1",
                         "AWS::IAM::Policy", policy["PolicyId"])
    (r,) = handle(event, ctx)
    assert (r.outcome, r.resource) == (Outcome.APPROVAL_REQUESTED, policy["Arn"])
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    assert _default_doc(iam, policy["Arn"])["Statement"] == [
        {**MIXED, "Action": ["kms:GenerateDataKey", "s3:GetObject"]}, SCOPED]
    assert len(iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]) == 2
    rollback(ctx, str(r.incident_id), actor="test")
    assert _default_doc(iam, policy["Arn"]) == doc(MIXED, KMS_ALL, SCOPED)


@pytest.mark.parametrize("kind", ["Role", "User", "Group"])
def test_inline_policies_are_narrowed_and_restored(build: Any, iam: Any, kind: str) -> None:
    name = f"app-{kind.lower()}"
    if kind == "Role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc()))
    else:
        getattr(iam, f"create_{kind.lower()}")(**{f"{kind}Name": name})
    put = getattr(iam, f"put_{kind.lower()}_policy")
    put(**{f"{kind}Name": name}, PolicyName="kms", PolicyDocument=json.dumps(doc(KMS_ALL)))
    put(**{f"{kind}Name": name}, PolicyName="ok", PolicyDocument=json.dumps(doc(SCOPED)))
    rem = build("iam_revoke_blocked_kms_actions",
                resource=Resource(type=f"AWS::IAM::{kind}", id=name))
    plan = rem.plan()
    assert [(c.operation, c.params["PolicyName"]) for c in plan.calls] == [
        (f"Put{kind}Policy", "kms")]
    rem.apply(plan)
    rem.verify(plan)
    got = getattr(iam, f"get_{kind.lower()}_policy")(**{f"{kind}Name": name},
                                                     PolicyName="kms")["PolicyDocument"]
    assert got["Statement"][0]["Effect"] == "Deny"  # the grant-nothing statement
    rem.rollback(plan)
    got = getattr(iam, f"get_{kind.lower()}_policy")(**{f"{kind}Name": name},
                                                     PolicyName="kms")["PolicyDocument"]
    assert got == doc(KMS_ALL)


def test_allowed_keys_keep_the_blocked_actions_on_those_keys(build: Any, iam: Any) -> None:
    arn = iam.create_policy(PolicyName="app", PolicyDocument=json.dumps(
        doc(MIXED)))["Policy"]["Arn"]
    rem = build("iam_revoke_blocked_kms_actions",
                resource=Resource(type="AWS::IAM::Policy", id=arn), allowed_key_arns=[KEY])
    rem.apply(plan := rem.plan())
    rem.verify(plan)
    assert _default_doc(iam, arn)["Statement"] == [
        {**MIXED, "Action": ["kms:GenerateDataKey", "s3:GetObject"]},
        {**MIXED, "Sid": "AppKeysKmsKeys", "Action": "kms:Decrypt", "Resource": [KEY]}]


def test_rollback_refuses_after_a_later_edit_unless_forced(build: Any, iam: Any) -> None:
    arn = iam.create_policy(PolicyName="app", PolicyDocument=json.dumps(
        doc(KMS_ALL, SCOPED)))["Policy"]["Arn"]
    rem = build("iam_revoke_blocked_kms_actions",
                resource=Resource(type="AWS::IAM::Policy", id=arn))
    rem.apply(plan := rem.plan())
    later = doc(SCOPED, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(later),
                              SetAsDefault=True)
    with pytest.raises(RollbackConflict):
        rem.rollback(plan)
    rem.rollback(plan, force=True)
    assert _default_doc(iam, arn) == doc(KMS_ALL, SCOPED)


def test_a_wildcard_statement_is_left_to_iam_revoke_wildcard(build: Any, iam: Any) -> None:
    wild = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    arn = iam.create_policy(PolicyName="admin", PolicyDocument=json.dumps(
        doc(wild, KMS_ALL)))["Policy"]["Arn"]
    rem = build("iam_revoke_blocked_kms_actions",
                resource=Resource(type="AWS::IAM::Policy", id=arn))
    plan = rem.plan()
    assert plan.after["Document"]["Statement"] == [wild]
    assert any("iam_revoke_wildcard" in n for n in plan.notes)
    rem.apply(plan)
    rem.verify(plan)


def test_cloudtrail_put_with_kms_asks_and_without_kms_is_silent(ctx: Context,
                                                                iam: Any) -> None:
    iam.create_role(RoleName="etl", AssumeRolePolicyDocument=json.dumps(doc()))
    iam.put_role_policy(RoleName="etl", PolicyName="kms", PolicyDocument=json.dumps(
        doc(KMS_ALL)))
    event = cloudtrail_event("PutRolePolicy", "iam", {
        "roleName": "etl", "policyName": "kms", "policyDocument": json.dumps(doc(KMS_ALL))})
    results = {r.policy: r for r in handle(event, ctx)}
    r = results["iam-blocked-kms-actions"]
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    from urllib.parse import quote

    encoded = cloudtrail_event("PutRolePolicy", "iam", {
        "roleName": "etl", "policyName": "kms",
        "policyDocument": quote(json.dumps(doc(KMS_ALL)))})  # as CloudTrail may record it
    assert "iam-blocked-kms-actions" in {r.policy for r in handle(encoded, ctx)}
    quiet = cloudtrail_event("PutRolePolicy", "iam", {
        "roleName": "etl", "policyName": "s3", "policyDocument": json.dumps(doc(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))})
    assert "iam-blocked-kms-actions" not in {r.policy for r in handle(quiet, ctx)}


def test_dry_run_changes_nothing(ctx: Context, iam: Any) -> None:
    policy = iam.create_policy(PolicyName="app", PolicyDocument=json.dumps(
        doc(KMS_ALL)))["Policy"]
    event = config_event("iam-customer-policy-blocked-kms-actions", "AWS::IAM::Policy",
                         policy["PolicyId"])
    (r,) = handle(event, ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN
    assert [c["operation"] for c in r.changes] == ["CreatePolicyVersion"]
    assert _default_doc(iam, policy["Arn"]) == doc(KMS_ALL)


def test_an_exempt_role_is_left_alone(ctx: Context, iam: Any) -> None:
    role = iam.create_role(RoleName="etl", AssumeRolePolicyDocument=json.dumps(doc()),
                           Tags=[{"Key": "autoremediate:exempt", "Value": "true"}])["Role"]
    iam.put_role_policy(RoleName="etl", PolicyName="kms",
                        PolicyDocument=json.dumps(doc(KMS_ALL)))
    event = config_event("iam-inline-policy-blocked-kms-actions", "AWS::IAM::Role",
                         role["RoleId"])  # moto gives roles AROA… ids, as IAM does
    (r,) = handle(event, ctx)
    assert (r.outcome, r.resource) == (Outcome.EXEMPT, role["Arn"])
    assert iam.get_role_policy(RoleName="etl", PolicyName="kms")["PolicyDocument"] == \
        doc(KMS_ALL)
