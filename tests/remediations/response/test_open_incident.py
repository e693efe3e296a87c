from __future__ import annotations

from typing import Any


def test_records_only_and_makes_no_aws_call(build: Any) -> None:
    rem = build("open_incident", "anything")
    plan = rem.plan()
    assert plan.record_only and plan.is_noop and plan.calls == []
    rem.apply(plan)
    assert rem.verify(plan) == {}


def test_a_rule_that_cannot_be_fixed_in_place_says_why_and_where(ctx: Any) -> None:
    """The policy's `why` and `runbook` are the outcome's reason (and on the timeline)."""
    from chalicelib.outcome import Outcome
    from chalicelib.pipeline import handle
    from chalicelib.policy import Policy
    from tests.helpers import config_event

    policy = Policy.model_validate({
        "name": "root-mfa", "file": "test.yaml", "line": 1,
        "trigger": [{"source": "config", "kinds": ["root-account-mfa-enabled"]}],
        "remediation": "open_incident", "mode": "auto", "hipaa": ["164.312(d)"],
        "params": {"why": "only the root user can enrol MFA on the root account",
                   "runbook": "runbooks/open_incident.md"}})
    ctx.policies = [policy]
    (r,) = handle(config_event("root-account-mfa-enabled", "AWS::::Account",
                               "123456789012"), ctx)
    assert r.outcome is Outcome.INCIDENT_OPENED
    assert r.reason == ("only the root user can enrol MFA on the root account; runbook: "
                        "runbooks/open_incident.md; nothing was changed")
