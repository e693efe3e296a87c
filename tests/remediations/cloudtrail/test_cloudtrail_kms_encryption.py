"""cloudtrail_kms_encryption against moto: after approval the trail's KmsKeyId is our
customer-managed key (read back with GetTrail), in the trail's home region; rollback
clears it; the approval warns about readers and the key policy; unset key fails."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.approval import decide
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, HandsOff
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import cloudtrail_event, config_event
from tests.remediations.cloudtrail.trails import (
    get_trail,
    make_trail,
    org_trail_stub,
    trail_resource,
)

RULE = "cloud-trail-encryption-enabled-conformance-pack-k3y"


def _key(arn: str) -> str:
    return str(get_trail(arn).get("KmsKeyId", ""))


def test_the_trail_is_encrypted_after_approval_and_rolled_back(
        ctx: Context, kms_key: str) -> None:
    arn = make_trail()
    (r,) = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED and _key(arn) == ""
    done = decide(ctx, str(r.approval_id), "U_ONCALL", approve=True)
    assert done.outcome is Outcome.REMEDIATED and _key(arn) == kms_key
    assert handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"),
                  ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert _key(arn) == ""


def test_update_trail_removing_the_key_asks_again(ctx: Context, kms_key: str) -> None:
    arn = make_trail()
    event = cloudtrail_event("UpdateTrail", "cloudtrail", {"name": arn, "kmsKeyId": ""})
    (r,) = [x for x in handle(event, ctx) if x.policy == "cloudtrail-kms-encryption"]
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    assert [c["params"] for c in r.changes] == [{"Name": arn, "KmsKeyId": kms_key}]


def test_the_key_is_checked_in_the_trails_home_region(build: Any, kms_key: str) -> None:
    arn = make_trail("eu-trail", "eu-west-1")
    eu_key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    rem = build("cloudtrail_kms_encryption", resource=trail_resource(arn), kms_key=eu_key)
    plan = rem.plan()
    assert [(c.region, c.params) for c in plan.calls] == [
        ("eu-west-1", {"Name": arn, "KmsKeyId": eu_key})]
    assert any("kms:Decrypt" in n for n in plan.notes)
    assert any("cloudtrail.amazonaws.com" in n for n in plan.notes)
    rem.apply(plan)
    rem.verify(plan)
    assert _key(arn) == eu_key
    # our us-east-1 key cannot encrypt a trail homed in eu-west-1 (refused, nothing sent)
    other = make_trail("eu-trail-2", "eu-west-1")
    with pytest.raises(AutoremediateError, match=f"KMS key {kms_key}"):
        build("cloudtrail_kms_encryption", resource=trail_resource(other),
              kms_key=kms_key).plan()
    assert _key(other) == ""


def test_without_a_key_the_fix_fails_naming_the_variable(aws: None) -> None:
    ctx = make_context(approvers=("U_ONCALL",))[0]
    arn = make_trail()
    (r,) = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), ctx)
    assert r.outcome is Outcome.FAILED and "REMEDIATION_KMS_KEY" in str(r.reason)
    assert _key(arn) == ""


def test_dry_run_and_an_already_encrypted_trail_change_nothing(
        ctx: Context, kms_key: str) -> None:
    arn = make_trail()
    (r,) = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), ctx,
                  dry_run=True)
    assert r.outcome is Outcome.DRY_RUN and _key(arn) == ""
    team_key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    boto3.client("cloudtrail", region_name="us-east-1").update_trail(Name=arn,
                                                                     KmsKeyId=team_key)
    (r,) = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), ctx)
    assert r.outcome is Outcome.COMPLIANT and _key(arn) == team_key


def test_an_exempt_trail_is_left_alone(ctx: Context) -> None:
    arn = make_trail(TagsList=[{"Key": "autoremediate:exempt", "Value": "true"}])
    (r,) = handle(config_event(RULE, "AWS::CloudTrail::Trail", "phi-audit-trail"), ctx)
    assert r.outcome is Outcome.EXEMPT and _key(arn) == ""


def test_an_organization_trail_of_the_management_account_is_recorded(
        build: Any, kms_key: str) -> None:
    rem, stub = org_trail_stub(build, "cloudtrail_kms_encryption", kms_key=kms_key)
    with stub, pytest.raises(HandsOff, match="organization trail managed from account"):
        rem.plan()
