"""The IAM hygiene rules only a person can fix end `incident_opened` (never `ignored`),
with a reason that says why and names an existing runbook section; nothing in AWS changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.config import default_policy_dir
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.policy import load_policies
from tests.helpers import ACCOUNT, config_event

RUNBOOK = Path("runbooks") / "hipaa-iam.md"
USER_ID = "AIDAEXAMPLEUSERID0001"
RULES = [  # rule, resource type, resource id as Config sends it, policy, severity
    ("iam-root-access-key-check", "AWS::::Account", ACCOUNT, "iam-root-access-key",
     "critical"),
    ("root-account-mfa-enabled", "AWS::::Account", ACCOUNT, "root-account-mfa", "critical"),
    ("root-account-hardware-mfa-enabled", "AWS::::Account", ACCOUNT,
     "root-account-hardware-mfa", "critical"),
    ("iam-user-mfa-enabled", "AWS::IAM::User", USER_ID, "iam-user-mfa", "high"),
    ("mfa-enabled-for-iam-console-access", "AWS::IAM::User", USER_ID, "iam-console-mfa",
     "high"),
    ("iam-user-no-policies-check", "AWS::IAM::User", USER_ID, "iam-user-policies",
     "medium"),
]


def _sections() -> set[str]:
    return set(re.findall(r"^## (\S+)$", RUNBOOK.read_text(), flags=re.M))


@pytest.mark.parametrize("rule, rtype, rid, policy, severity", RULES)
def test_each_rule_opens_an_incident_that_says_why_and_where(
        ctx: Context, rule: str, rtype: str, rid: str, policy: str, severity: str) -> None:
    (r,) = handle(config_event(f"{rule}-conformance-pack-x1y2z3", rtype, rid), ctx)
    assert (r.policy, r.outcome) == (policy, Outcome.INCIDENT_OPENED)
    assert f"runbooks/hipaa-iam.md#{rule}" in str(r.reason)
    assert rule in _sections()
    shipped = {p.name: p for p in load_policies(default_policy_dir())}
    assert shipped[policy].severity == severity
    assert ctx.store.incident(str(r.incident_id)).remediation == "open_incident"
