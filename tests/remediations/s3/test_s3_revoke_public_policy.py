from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.errors import RollbackConflict
from remediations._policy_doc import is_public

PUBLIC = {"Sid": "World", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
          "Resource": "arn:aws:s3:::pub-bucket/*"}
VPCE = {"Sid": "ViaEndpoint", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::pub-bucket/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}}}
PARTNER = {"Sid": "Partner", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject",
           "Resource": "arn:aws:s3:::pub-bucket/*"}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize("statement, public", [
    (PUBLIC, True), (VPCE, False), (PARTNER, False),
    ({**PUBLIC, "Principal": {"AWS": "*"}}, True),
    ({**PUBLIC, "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]}}, True),
    ({**PUBLIC, "Effect": "Deny"}, False),
    ({**PUBLIC, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, True),
    ({**PUBLIC, "Condition": {"StringEquals": {"AWS:PrincipalOrgID": "o-1"}}}, False),
])
def test_public_detection(statement: dict[str, Any], public: bool) -> None:
    assert is_public(statement) is public


def _policy(s3: Any) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_bucket_policy(Bucket="pub-bucket")["Policy"])
    except s3.exceptions.ClientError:
        return None


def test_removes_only_public_statements_and_restores_them(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="pub-bucket")
    original = doc(PARTNER, PUBLIC, VPCE)
    s3.put_bucket_policy(Bucket="pub-bucket", Policy=json.dumps(original))
    rem = build("s3_revoke_public_policy", "pub-bucket")
    plan = rem.plan()
    assert [c.operation for c in plan.calls] == ["PutBucketPolicy"]
    rem.apply(plan)
    rem.verify(plan)
    assert _policy(s3)["Statement"] == [PARTNER, VPCE]
    rem.rollback(plan)
    assert _policy(s3) == original


def test_policy_deleted_when_nothing_remains(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="pub-bucket")
    s3.put_bucket_policy(Bucket="pub-bucket", Policy=json.dumps(doc(PUBLIC)))
    rem = build("s3_revoke_public_policy", "pub-bucket")
    plan = rem.plan()
    assert [c.operation for c in plan.calls] == ["DeleteBucketPolicy"]
    rem.apply(plan)
    assert _policy(s3) is None
    rem.rollback(plan)
    assert _policy(s3) == doc(PUBLIC)


def test_public_acl_grants_removed_and_restored(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="pub-bucket")
    s3.put_bucket_acl(Bucket="pub-bucket", ACL="public-read")
    rem = build("s3_revoke_public_policy", "pub-bucket")
    plan = rem.plan()
    assert [c.operation for c in plan.calls] == ["PutBucketAcl"]
    rem.apply(plan)
    rem.verify(plan)
    grants = s3.get_bucket_acl(Bucket="pub-bucket")["Grants"]
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in grants) and grants
    rem.rollback(plan)
    grants = s3.get_bucket_acl(Bucket="pub-bucket")["Grants"]
    assert any(g["Grantee"].get("URI") == ALL_USERS for g in grants)


def test_private_bucket_is_a_noop(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="pub-bucket")
    s3.put_bucket_policy(Bucket="pub-bucket", Policy=json.dumps(doc(PARTNER, VPCE)))
    assert build("s3_revoke_public_policy", "pub-bucket").plan().is_noop


def test_rollback_refuses_after_later_policy_edit(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="pub-bucket")
    s3.put_bucket_policy(Bucket="pub-bucket", Policy=json.dumps(doc(PARTNER, PUBLIC)))
    rem = build("s3_revoke_public_policy", "pub-bucket")
    rem.apply(plan := rem.plan())
    s3.put_bucket_policy(Bucket="pub-bucket", Policy=json.dumps(doc(VPCE)))
    with pytest.raises(RollbackConflict):
        rem.rollback(plan)
    assert _policy(s3) == doc(VPCE)
