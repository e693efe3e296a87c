"""s3_require_ssl against moto: the TLS-only Deny is merged into the bucket policy by Sid
(every other statement kept), read back, and rolled back to the saved policy or to none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.context import Context
from chalicelib.errors import RollbackConflict
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from remediations.s3.s3_require_ssl import SID
from tests.remediations.s3._bucket import EXEMPT, call, config

PARTNER = {"Sid": "Partner", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject",
           "Resource": "arn:aws:s3:::records/*"}
RULE = "s3-bucket-ssl-requests-only"


def _policy(s3: Any) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_bucket_policy(Bucket="records")["Policy"])
    except s3.exceptions.ClientError:
        return None


def _ours(policy: dict[str, Any]) -> dict[str, Any]:
    (found,) = [s for s in policy["Statement"] if s.get("Sid") == SID]
    return found


def test_merged_into_the_existing_policy_and_rolled_back(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    original = {"Version": "2012-10-17", "Statement": [PARTNER]}
    s3.put_bucket_policy(Bucket="records", Policy=json.dumps(original))
    r = handle(config(RULE, "records"), ctx)[0]
    assert (r.outcome, r.policy) == (Outcome.REMEDIATED, "s3-ssl-only")
    policy = _policy(s3)
    assert policy["Statement"][0] == PARTNER
    assert _ours(policy) == {
        "Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::records", "arn:aws:s3:::records/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert _policy(s3) == original


def test_a_deleted_policy_comes_back_as_ours_alone_and_rollback_deletes_it(
        ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    r = handle(call("DeleteBucketPolicy", "records"), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert [s["Sid"] for s in _policy(s3)["Statement"]] == [SID]
    rollback(ctx, str(r.incident_id), actor="test")
    assert _policy(s3) is None


def test_a_policy_that_already_denies_plain_http_is_compliant(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    theirs = {"Sid": "TlsOnly", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
              "Resource": ["arn:aws:s3:::records", "arn:aws:s3:::records/*"],
              "Condition": {"Bool": {"aws:securetransport": ["false"]}}}
    s3.put_bucket_policy(Bucket="records", Policy=json.dumps({"Statement": [theirs]}))
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    assert _policy(s3) == {"Statement": [theirs]}


def test_our_statement_is_replaced_by_sid_never_duplicated(build: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    stale = {"Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::records/*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(Bucket="records", Policy=json.dumps({"Statement": [PARTNER, stale]}))
    rem = build("s3_require_ssl", "records")
    rem.apply(plan := rem.plan())
    rem.verify(plan)
    policy = _policy(s3)
    assert [s.get("Sid") for s in policy["Statement"]] == ["Partner", SID]
    assert _ours(policy)["Action"] == "s3:*"
    s3.put_bucket_policy(Bucket="records", Policy=json.dumps({"Statement": [PARTNER]}))
    with pytest.raises(RollbackConflict):
        rem.rollback(plan)
    rem.rollback(plan, force=True)
    assert _policy(s3) == {"Statement": [PARTNER, stale]}


def test_dry_run_and_exemption_change_nothing(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    r = handle(config(RULE, "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN and r.changes[0]["operation"] == "PutBucketPolicy"
    s3.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.EXEMPT
    assert _policy(s3) is None
