"""lambda_env_encryption against moto (KMSKeyArn on update added by tests/moto_ext.py):
after approval the function's key reads back as ours; the plan warns about the role."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.helpers import cloudtrail_event


@pytest.fixture
def lam(aws: None) -> Any:
    return boto3.client("lambda", region_name="us-east-1")


def _function(lam: Any, name: str, variables: dict[str, str] | None) -> tuple[str, str]:
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]
    }))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return 1\n")
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
        **({"Environment": {"Variables": variables}} if variables else {}))["FunctionArn"]
    return str(arn), str(role)


def _created(arn: str) -> dict[str, Any]:
    name = arn.rsplit(":", 1)[-1]
    return cloudtrail_event("CreateFunction20150331", "lambda", {
        "functionName": name, "environment": {"variables": "HIDDEN_DUE_TO_SECURITY_REASONS"}},
        {"functionArn": arn})


def _key(lam: Any, name: str) -> str | None:
    return lam.get_function_configuration(FunctionName=name).get("KMSKeyArn")


def test_variables_get_our_key_after_approval_and_roll_back(ctx: Context, lam: Any,
                                                           kms_key: str) -> None:
    arn, role = _function(lam, "phi-etl", {"DB_URL": "postgres://…"})
    (r,) = handle(_created(arn), ctx)
    assert (r.outcome, r.resource) == (Outcome.APPROVAL_REQUESTED, arn)
    assert _key(lam, "phi-etl") is None  # nothing before the approval
    detail = next(e.detail for e in ctx.store.entries(str(r.incident_id))
                  if e.kind.value == "approval_requested")
    assert role in detail["notes"][0] and "kms:Decrypt" in detail["notes"][0]
    assert decide(ctx, str(r.approval_id), "U_ONCALL", approve=True).outcome is \
        Outcome.REMEDIATED
    assert _key(lam, "phi-etl") == kms_key
    rollback(ctx, str(r.incident_id), actor="test")
    assert not _key(lam, "phi-etl")


def test_a_function_without_variables_is_compliant(ctx: Context, lam: Any) -> None:
    arn, _ = _function(lam, "no-env", None)
    assert handle(_created(arn), ctx)[0].outcome is Outcome.COMPLIANT


def test_an_update_naming_a_key_triggers_nothing(ctx: Context) -> None:
    event = cloudtrail_event("UpdateFunctionConfiguration20150331v2", "lambda", {
        "functionName": "f", "kMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED
