"""s3_enable_access_logging against moto: logging into the configured bucket under
`<bucket>/`, read back; rollback turns it off; unset setting fails naming it. moto checks
the log bucket's grant to logging.s3.amazonaws.com, as S3 does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.remediations.s3._bucket import EXEMPT, call, config, context

RULE = "s3-bucket-logging-enabled"
LOGS = "org-access-logs"


def _logging(s3: Any, bucket: str = "records") -> dict[str, Any] | None:
    return s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled")


@pytest.fixture
def buckets(s3: Any) -> Any:
    s3.create_bucket(Bucket=LOGS)
    s3.put_bucket_policy(Bucket=LOGS, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": ["s3:PutObject"], "Resource": f"arn:aws:s3:::{LOGS}/*"}]}))
    s3.create_bucket(Bucket="records")
    return s3


def test_logging_is_enabled_and_rolled_back(buckets: Any, tmp_path: Path) -> None:
    ctx = context(tmp_path, s3_access_logs_bucket=LOGS)
    r = handle(config(RULE, "records"), ctx)[0]
    assert (r.outcome, r.policy) == (Outcome.REMEDIATED, "s3-access-logging")
    assert _logging(buckets) == {"TargetBucket": LOGS, "TargetPrefix": "records/"}
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert _logging(buckets) is None


def test_turning_logging_off_is_undone(buckets: Any, tmp_path: Path) -> None:
    ctx = context(tmp_path, s3_access_logs_bucket=LOGS)
    event = call("PutBucketLogging", "records", BucketLoggingStatus={})
    assert handle(event, ctx)[0].outcome is Outcome.REMEDIATED
    assert _logging(buckets)["TargetBucket"] == LOGS


def test_without_the_setting_the_fix_fails_naming_it(buckets: Any, tmp_path: Path) -> None:
    r = handle(config(RULE, "records"), context(tmp_path))[0]
    assert r.outcome is Outcome.FAILED and "REMEDIATION_S3_ACCESS_LOGS_BUCKET" in str(r.reason)
    assert _logging(buckets) is None


def test_a_log_bucket_without_the_grant_fails_and_nothing_changes(s3: Any,
                                                                 tmp_path: Path) -> None:
    s3.create_bucket(Bucket=LOGS)
    s3.create_bucket(Bucket="records")
    r = handle(config(RULE, "records"), context(tmp_path, s3_access_logs_bucket=LOGS))[0]
    assert r.outcome is Outcome.FAILED and "InvalidTargetBucketForLogging" in str(r.reason)
    assert _logging(s3) is None


def test_the_log_bucket_is_never_logged_into_itself(buckets: Any, tmp_path: Path) -> None:
    r = handle(config(RULE, LOGS), context(tmp_path, s3_access_logs_bucket=LOGS))[0]
    assert r.outcome is Outcome.INCIDENT_OPENED and "loop" in str(r.reason)
    assert _logging(buckets, LOGS) is None


def test_dry_run_and_exemption_change_nothing(buckets: Any, tmp_path: Path) -> None:
    ctx = context(tmp_path, s3_access_logs_bucket=LOGS)
    r = handle(config(RULE, "records"), ctx, dry_run=True)[0]
    assert r.outcome is Outcome.DRY_RUN and r.changes[0]["operation"] == "PutBucketLogging"
    buckets.put_bucket_tagging(Bucket="records", Tagging=EXEMPT)
    assert handle(config(RULE, "records"), ctx)[0].outcome is Outcome.EXEMPT
    assert _logging(buckets) is None
