from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import ResourceGone, RollbackConflict, VerifyFailed
from tests.helpers import ALL_ON, public_access_block


def test_turns_on_all_four_flags(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="open")
    rem = build("s3_block_public_access", "open")
    plan = rem.plan()
    assert plan.before == {"PublicAccessBlockConfiguration": None}
    assert [c.operation for c in plan.calls] == ["PutPublicAccessBlock"]
    rem.apply(plan)
    rem.verify(plan)
    assert public_access_block(s3, "open") == ALL_ON


def test_plan_never_writes(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="open")
    build("s3_block_public_access", "open").plan()
    assert public_access_block(s3, "open") is None


def test_rollback_restores_a_partial_configuration_exactly(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="half")
    partial = {"BlockPublicAcls": True, "IgnorePublicAcls": False,
               "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket="half", PublicAccessBlockConfiguration=partial)
    rem = build("s3_block_public_access", "half")
    plan = rem.plan()
    rem.apply(plan)
    assert public_access_block(s3, "half") == ALL_ON
    rem.rollback(plan)
    assert public_access_block(s3, "half") == partial


def test_rollback_removes_a_block_that_did_not_exist(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="none")
    rem = build("s3_block_public_access", "none")
    plan = rem.plan()
    rem.apply(plan)
    calls = rem.rollback(plan)
    assert [c.operation for c in calls] == ["DeletePublicAccessBlock"]
    assert public_access_block(s3, "none") is None


def test_rollback_refuses_when_changed_since_fix_unless_forced(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="bkt-b")
    rem = build("s3_block_public_access", "bkt-b")
    plan = rem.plan()
    rem.apply(plan)
    edited = {**ALL_ON, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket="bkt-b", PublicAccessBlockConfiguration=edited)
    with pytest.raises(RollbackConflict, match="--force"):
        rem.rollback(plan)
    assert public_access_block(s3, "bkt-b") == edited
    rem.rollback(plan, force=True)
    assert public_access_block(s3, "bkt-b") is None


def test_verify_fails_when_apply_did_not_take(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="bkt-b")
    rem = build("s3_block_public_access", "bkt-b")
    plan = rem.plan()
    # sabotage: someone weakens the block between apply and verify
    rem.apply(plan)
    s3.put_public_access_block(Bucket="bkt-b", PublicAccessBlockConfiguration={
        **ALL_ON, "BlockPublicPolicy": False})
    with pytest.raises(VerifyFailed, match="expected"):
        rem.verify(plan)


def test_missing_bucket_is_resource_gone(build: Any) -> None:
    with pytest.raises(ResourceGone, match="NoSuchBucket"):
        build("s3_block_public_access", "never-existed").plan()


def test_already_blocked_is_a_noop(s3: Any, build: Any) -> None:
    s3.create_bucket(Bucket="bkt-b")
    s3.put_public_access_block(Bucket="bkt-b", PublicAccessBlockConfiguration=ALL_ON)
    assert build("s3_block_public_access", "bkt-b").plan().is_noop
