"""The record-only rules of the HIPAA pack's detection family: a NON_COMPLIANT result ends
`incident_opened` (never `ignored`), says why, names its runbook section, and changes
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from tests.conftest import CallLog
from tests.helpers import ACCOUNT, config_event

ROOT = Path(__file__).resolve().parents[3]
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7"


@pytest.mark.parametrize(("rule", "rtype", "rid", "policy", "resource"), [
    ("acm-certificate-expiration-check-conformance-pack-a1", "AWS::ACM::Certificate", CERT,
     "acm-certificate-expiring", CERT),
    ("vpc-vpn-2-tunnels-up", "AWS::EC2::VPNConnection", "vpn-0a1b2c3d4e5f60718",
     "vpn-tunnels-down",
     "arn:aws:ec2:us-east-1:123456789012:vpn-connection/vpn-0a1b2c3d4e5f60718"),
    ("annual-risk-assessment-performed", "AWS::::Account", ACCOUNT,
     "annual-risk-assessment-due", f"AWS::::Account/{ACCOUNT}/us-east-1"),
])
def test_each_rule_opens_an_incident_naming_why_and_its_runbook(
        ctx_log: tuple[Context, CallLog], rule: str, rtype: str, rid: str, policy: str,
        resource: str) -> None:
    ctx, log = ctx_log
    (r,) = handle(config_event(rule, rtype, rid), ctx)
    assert (r.policy, r.outcome, r.resource) == (policy, Outcome.INCIDENT_OPENED, resource)
    assert r.incident_id and r.changes == []
    section = rule.split("-conformance-pack")[0]
    assert f"runbooks/hipaa-detection.md#{section}" in str(r.reason)
    runbook = (ROOT / "runbooks" / "hipaa-detection.md").read_text()
    assert f"\n## {section}\n" in runbook
    writes = [a for a in log.actions if not a.startswith(("dynamodb:", "sts:"))]
    assert writes == []  # not even a read: nothing in AWS is touched
