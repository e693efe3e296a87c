"""s3_version_lifecycle against moto: a versioned bucket with no lifecycle configuration
gets the noncurrent-expiry rule, read back; rollback deletes it; an existing configuration
is never replaced (all-disabled rules open an incident)."""

from __future__ import annotations

from typing import Any

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.remediations.s3._bucket import EXEMPT, call, config

RULE = "s3-version-lifecycle-policy-check"


def _rules(s3: Any) -> list[dict[str, Any]] | None:
    try:
        return list(s3.get_bucket_lifecycle_configuration(Bucket="records")["Rules"])
    except s3.exceptions.ClientError:
        return None


def _versioned(s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    s3.put_bucket_versioning(Bucket="records", VersioningConfiguration={"Status": "Enabled"})


def test_a_versioned_bucket_gets_the_rule_and_rollback_deletes_it(ctx: Context,
                                                                  s3: Any) -> None:
    _versioned(s3)
    r = handle(config(RULE, "records"), ctx)[0]
    assert (r.outcome, r.policy) == (Outcome.REMEDIATED, "s3-version-lifecycle")
    (rule,) = _rules(s3)
    assert rule["ID"] == "autoremediate-noncurrent" and rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 2192}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert _rules(s3) is None


def test_a_deleted_configuration_comes_back(ctx: Context, s3: Any) -> None:
    _versioned(s3)
    assert handle(call("DeleteBucketLifecycle", "records"), ctx)[0].outcome is (
        Outcome.REMEDIATED)
    assert [r["ID"] for r in _rules(s3)] == ["autoremediate-noncurrent"]


def test_an_existing_configuration_is_never_replaced(ctx: Context, s3: Any) -> None:
    _versioned(s3)
    theirs = {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "old/"},
              "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}
    s3.put_bucket_lifecycle_configuration(Bucket="records",
                                          LifecycleConfiguration={"Rules": [theirs]})
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    assert [r["ID"] for r in _rules(s3)] == ["archive"]


def test_only_disabled_rules_open_an_incident(ctx: Context, s3: Any) -> None:
    _versioned(s3)
    off = {"ID": "off", "Status": "Disabled", "Filter": {},
           "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket="records",
                                          LifecycleConfiguration={"Rules": [off]})
    r = handle(config(RULE, "records"), ctx)[0]
    assert r.outcome is Outcome.INCIDENT_OPENED and "all disabled" in str(r.reason)
    assert [x["ID"] for x in _rules(s3)] == ["off"]


def test_unversioned_bucket_is_compliant(ctx: Context, s3: Any) -> None:
    s3.create_bucket(Bucket="records")
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    assert _rules(s3) is None


def test_dry_run_and_exemption_change_nothing(ctx: Context, s3: Any) -> None:
    _versioned(s3)
    r = handle(config(RULE, "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN
    assert r.changes[0]["operation"] == "PutBucketLifecycleConfiguration"
    s3.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.EXEMPT
    assert _rules(s3) is None
