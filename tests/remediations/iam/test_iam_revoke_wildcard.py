from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.errors import ResourceGone, RollbackConflict
from chalicelib.finding import Resource
from remediations._policy_doc import is_wildcard, parse

WILD = {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}
S3_ALL = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}
NOT_ACTION = {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
READ = {"Sid": "ReadPhi", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::phi/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
DENY = {"Sid": "NoDelete", "Effect": "Deny", "Action": "*", "Resource": "*"}
LOGS = {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*:*:*"}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def _for(build: Any, rtype: str, rid: str) -> Any:
    rem = build("iam_revoke_wildcard", "unused")
    rem.target.resource = Resource(type=rtype, id=rid)
    return rem


def _default_doc(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


@pytest.mark.parametrize("statement, offending", [
    (WILD, True), (S3_ALL, True), (NOT_ACTION, True), (READ, False), (DENY, False),
    (LOGS, False), ({**WILD, "Resource": ["arn:aws:s3:::x", "*"]}, True),
])
def test_wildcard_detection(statement: dict[str, Any], offending: bool) -> None:
    assert is_wildcard(statement) is offending


def test_url_encoded_documents_parse() -> None:
    encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
    assert parse(encoded) == {"Version": "2012-10-17", "Statement": []}
    assert parse(json.dumps(doc(READ))) == doc(READ)


def test_managed_policy_loses_exactly_the_wildcard_and_keeps_versions(iam: Any,
                                                                      build: Any) -> None:
    arn = iam.create_policy(PolicyName="ops", PolicyDocument=json.dumps(
        doc(READ, WILD, DENY, S3_ALL)))["Policy"]["Arn"]
    rem = _for(build, "AWS::IAM::Policy", arn)
    plan = rem.plan()
    assert [c.operation for c in plan.calls] == ["CreatePolicyVersion"]
    rem.apply(plan)
    rem.verify(plan)
    assert _default_doc(iam, arn)["Statement"] == [READ, DENY]
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert {v["VersionId"] for v in versions} == {"v1", "v2"}
    rem.rollback(plan)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    assert _default_doc(iam, arn) == doc(READ, WILD, DENY, S3_ALL)


def test_policy_with_only_wildcards_gets_a_grant_nothing_version(iam: Any,
                                                                 build: Any) -> None:
    arn = iam.create_policy(PolicyName="admin",
                            PolicyDocument=json.dumps(doc(WILD)))["Policy"]["Arn"]
    rem = _for(build, "AWS::IAM::Policy", arn)
    rem.apply(plan := rem.plan())
    rem.verify(plan)
    (only,) = _default_doc(iam, arn)["Statement"]
    assert only["Effect"] == "Deny" and only["NotAction"] == "*"


def test_five_version_limit_deletes_oldest_after_saving_it(iam: Any, build: Any) -> None:
    arn = iam.create_policy(PolicyName="busy", PolicyDocument=json.dumps(
        doc({**READ, "Sid": "V1"})))["Policy"]["Arn"]
    for n in range(2, 5):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(
            doc({**READ, "Sid": f"V{n}"})))
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc(READ, WILD)),
                              SetAsDefault=True)
    rem = _for(build, "AWS::IAM::Policy", arn)
    plan = rem.plan()
    assert [c.operation for c in plan.calls] == ["DeletePolicyVersion", "CreatePolicyVersion"]
    assert plan.calls[0].params["VersionId"] == "v1"
    assert plan.saved["deleted_versions"]["v1"]["Statement"][0]["Sid"] == "V1"
    rem.apply(plan)
    rem.verify(plan)
    ids = {v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]}
    assert ids == {"v2", "v3", "v4", "v5", "v6"}
    rem.rollback(plan)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"


def test_config_policy_id_is_resolved(iam: Any, build: Any) -> None:
    policy = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(doc(WILD, READ)))
    rem = _for(build, "AWS::IAM::Policy", policy["Policy"]["PolicyId"])
    plan = rem.plan()
    assert plan.before["PolicyArn"] == policy["Policy"]["Arn"]


def test_unknown_policy_id_is_resource_gone(iam: Any, build: Any) -> None:
    with pytest.raises(ResourceGone):
        _for(build, "AWS::IAM::Policy", "ANPANOSUCHPOLICY0000").plan()


@pytest.mark.parametrize("kind", ["role", "user", "group"])
def test_inline_policies_rewritten_or_deleted_and_restored(iam: Any, build: Any,
                                                           kind: str) -> None:
    name = f"{kind}-x"
    create = {"role": lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}"),
              "user": lambda: iam.create_user(UserName=name),
              "group": lambda: iam.create_group(GroupName=name)}[kind]
    create()
    key = {f"{kind.title()}Name": name}
    put = getattr(iam, f"put_{kind}_policy")
    put(**key, PolicyName="mixed", PolicyDocument=json.dumps(doc(READ, WILD)))
    put(**key, PolicyName="all-wild", PolicyDocument=json.dumps(doc(NOT_ACTION)))
    put(**key, PolicyName="fine", PolicyDocument=json.dumps(doc(LOGS)))
    rem = _for(build, f"AWS::IAM::{kind.title()}", name)
    plan = rem.plan()
    rem.apply(plan)
    rem.verify(plan)
    names = getattr(iam, f"list_{kind}_policies")(**key)["PolicyNames"]
    assert sorted(names) == ["fine", "mixed"]
    got = getattr(iam, f"get_{kind}_policy")(**key, PolicyName="mixed")["PolicyDocument"]
    assert got["Statement"] == [READ]
    rem.rollback(plan)
    got = getattr(iam, f"get_{kind}_policy")(**key, PolicyName="all-wild")["PolicyDocument"]
    assert got == doc(NOT_ACTION)
    got = getattr(iam, f"get_{kind}_policy")(**key, PolicyName="mixed")["PolicyDocument"]
    assert got == doc(READ, WILD)


def test_admin_attachment_is_detached_and_reattached(build: Any) -> None:
    from moto import mock_aws

    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="etl", AssumeRolePolicyDocument="{}")
        admin = "arn:aws:iam::aws:policy/AdministratorAccess"
        ro = "arn:aws:iam::aws:policy/ReadOnlyAccess"
        iam.attach_role_policy(RoleName="etl", PolicyArn=admin)
        iam.attach_role_policy(RoleName="etl", PolicyArn=ro)
        rem = _for(build, "AWS::IAM::Role", "etl")
        plan = rem.plan()
        assert [c.operation for c in plan.calls] == ["DetachRolePolicy"]
        rem.apply(plan)
        attached = iam.list_attached_role_policies(RoleName="etl")["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [ro]
        rem.rollback(plan)
        attached = iam.list_attached_role_policies(RoleName="etl")["AttachedPolicies"]
        assert sorted(p["PolicyArn"] for p in attached) == [admin, ro]


def test_rollback_refuses_when_policy_edited_since(iam: Any, build: Any) -> None:
    arn = iam.create_policy(PolicyName="ops", PolicyDocument=json.dumps(
        doc(READ, WILD)))["Policy"]["Arn"]
    rem = _for(build, "AWS::IAM::Policy", arn)
    rem.apply(plan := rem.plan())
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc(LOGS)),
                              SetAsDefault=True)
    with pytest.raises(RollbackConflict):
        rem.rollback(plan)
    assert _default_doc(iam, arn) == doc(LOGS)


def test_config_and_cloudtrail_findings_for_one_policy_share_one_incident(iam: Any,
                                                                         ctx: Any) -> None:
    from chalicelib.pipeline import handle
    from tests.helpers import load_event

    created = iam.create_policy(PolicyName="ops", PolicyDocument=json.dumps(doc(READ, WILD)))
    arn, policy_id = created["Policy"]["Arn"], created["Policy"]["PolicyId"]
    trail = load_event("cloudtrail_create_policy")
    trail["detail"]["responseElements"]["policy"]["arn"] = arn
    config = json.loads(json.dumps(load_event("config_iam_admin_access")).replace(
        "ANPAEXAMPLEID1234567", policy_id))
    (by_arn,) = handle(trail, ctx)
    (by_id,) = handle(config, ctx)
    assert by_arn.resource == by_id.resource == arn
    assert by_id.incident_id == by_arn.incident_id
    assert by_id.approval_id == by_arn.approval_id  # the same plan waits for one approval
    assert len(ctx.store.pending_approvals()) == 1
