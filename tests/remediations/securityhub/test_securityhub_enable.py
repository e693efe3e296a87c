"""securityhub_enable against moto: the account is subscribed again (DescribeHub reads it
back), with no default standards; rollback unsubscribes; a centrally configured account is
recorded, not changed."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.context import Context
from chalicelib.errors import HandsOff
from chalicelib.finding import account_resource
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import CallLog
from tests.helpers import ACCOUNT, cloudtrail_event, config_event


@pytest.fixture
def hub(aws: None) -> Any:
    return boto3.client("securityhub", region_name="us-east-1")


def _on(hub: Any) -> bool:
    try:
        hub.describe_hub()
    except hub.exceptions.InvalidAccessException:
        return False
    return True


def _result() -> dict[str, Any]:
    return config_event("securityhub-enabled-conformance-pack-q1w2", "AWS::::Account", ACCOUNT)


def test_security_hub_is_enabled_without_standards_and_rolled_back(
        ctx: Context, hub: Any) -> None:
    r = handle(_result(), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert [(c["operation"], c["params"]) for c in r.changes] == [
        ("EnableSecurityHub", {"EnableDefaultStandards": False})]
    assert _on(hub)
    assert handle(_result(), ctx)[0].outcome is Outcome.COMPLIANT
    rollback(ctx, str(r.incident_id), actor="test")
    assert not _on(hub)


def test_disable_security_hub_is_undone_within_seconds(ctx: Context, hub: Any) -> None:
    r = handle(cloudtrail_event("DisableSecurityHub", "securityhub", None), ctx)[0]
    assert (r.policy, r.outcome) == ("securityhub-on", Outcome.REMEDIATED)
    assert r.resource == f"AWS::::Account/{ACCOUNT}/us-east-1"
    assert _on(hub)


def test_dry_run_enables_nothing(ctx_log: tuple[Context, CallLog], hub: Any) -> None:
    ctx, log = ctx_log
    (r,) = handle(_result(), ctx, dry_run=True)
    assert r.outcome is Outcome.DRY_RUN and r.changes[0]["operation"] == "EnableSecurityHub"
    assert "securityhub:EnableSecurityHub" not in log.actions and not _on(hub)


def test_an_exempt_account_is_left_alone(aws: None, hub: Any, tmp_path: Any) -> None:
    from pathlib import Path

    from tests.conftest import make_context

    src = Path(__file__).resolve().parents[3] / "policies" / "57-hipaa-detection.yaml"
    (tmp_path / "57.yaml").write_text(src.read_text().replace(
        "    remediation: securityhub_enable\n",
        f"    remediation: securityhub_enable\n    exempt_accounts: ['{ACCOUNT}']\n"))
    ctx = make_context(policy_dir=tmp_path)[0]
    r = handle(_result(), ctx)[0]
    assert r.outcome is Outcome.EXEMPT and not _on(hub)


def test_a_centrally_configured_account_is_recorded(build: Any) -> None:
    client = boto3.client("securityhub", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("describe_hub", "InvalidAccessException", http_status_code=401)
    stub.add_response("describe_organization_configuration", {
        "AutoEnable": False, "OrganizationConfiguration": {
            "ConfigurationType": "CENTRAL", "Status": "ENABLED"}})
    rem = build("securityhub_enable", resource=account_resource(ACCOUNT, "us-east-1"))
    rem.target.clients = lambda service: client
    with stub, pytest.raises(HandsOff, match="configured centrally"):
        rem.plan()


def test_the_plan_reads_only_what_it_declares(build: Any, hub: Any) -> None:
    rem = build("securityhub_enable", resource=account_resource(ACCOUNT, "us-east-1"))
    plan = rem.plan()
    rem.apply(plan)
    assert rem.verify(plan) == {"Enabled": True} and _on(hub)
