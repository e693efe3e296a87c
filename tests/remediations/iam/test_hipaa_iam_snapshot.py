"""`remediate evidence --snapshot` judges the IAM hygiene rules' resources: the account's
password policy, every user's keys and credentials, every principal's inline policies and
every customer policy's KMS grants."""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.context import Context
from chalicelib.snapshot import take
from tests.helpers import ACCOUNT
from tests.remediations.iam._moto_iam import age_key

KMS_ALL = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}


def _rows(rows: list[dict[str, Any]], policy: str) -> dict[str, dict[str, Any]]:
    return {str(r["resource"]): r for r in rows if r["policy"] == policy}


def test_iam_resources_are_judged(ctx: Context) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="etl-bot")
    key = iam.create_access_key(UserName="etl-bot")["AccessKey"]["AccessKeyId"]
    age_key("etl-bot", key, 120)
    iam.create_user(UserName="fresh")
    iam.put_user_policy(UserName="fresh", PolicyName="kms", PolicyDocument=json.dumps(KMS_ALL))
    arn = iam.create_policy(PolicyName="app", PolicyDocument=json.dumps(KMS_ALL))[
        "Policy"]["Arn"]

    rows = take(ctx, accounts=[ACCOUNT], regions=["us-east-1"])
    user = f"arn:aws:iam::{ACCOUNT}:user/"
    assert _rows(rows, "iam-password-policy")[f"AWS::::Account/{ACCOUNT}/us-east-1"][
        "state"] == {"PasswordPolicy": None}
    keys = _rows(rows, "iam-access-keys-rotated")
    assert (keys[f"{user}etl-bot"]["compliant"], keys[f"{user}fresh"]["compliant"]) == (
        False, True)
    assert _rows(rows, "iam-unused-credentials")[f"{user}etl-bot"]["compliant"] is False
    assert _rows(rows, "iam-no-inline-policies")[f"{user}fresh"]["compliant"] is False
    kms = _rows(rows, "iam-blocked-kms-actions")
    assert kms[arn]["compliant"] is False and kms[f"{user}fresh"]["compliant"] is False
    assert kms[f"{user}etl-bot"]["compliant"] is True
