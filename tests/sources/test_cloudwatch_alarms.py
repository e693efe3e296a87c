"""CloudWatch alarms as the fourth source: ALARM opens an incident (clock per policy),
OK after ALARM is noted on it, everything else is ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.context import Context
from chalicelib.finding import Finding, Ignored, normalize
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from tests.conftest import make_context
from tests.helpers import load_event

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:hipaa-phi-bucket-mass-download"


def _state(value: str, previous: str) -> dict[str, Any]:
    event = load_event("cloudwatch_alarm")
    event["detail"]["state"]["value"], event["detail"]["previousState"]["value"] = (
        value, previous)
    return event


def test_alarm_normalizes_to_the_alarm_and_its_states() -> None:
    f = normalize(load_event("cloudwatch_alarm"))
    assert isinstance(f, Finding) and f.resource is not None
    assert (f.kind, f.resource.arn, f.cleared) == ("hipaa-phi-bucket-mass-download", ARN,
                                                   False)
    ok = normalize(_state("OK", "ALARM"))
    assert isinstance(ok, Finding) and ok.cleared
    assert isinstance(normalize(_state("INSUFFICIENT_DATA", "OK")), Ignored)
    assert isinstance(normalize(_state("OK", "OK")), Ignored)


def test_alarm_opens_an_incident_and_ok_is_noted_on_it(ctx: Context) -> None:
    (opened,) = handle(load_event("cloudwatch_alarm"), ctx)
    assert (opened.policy, opened.outcome, opened.resource) == (
        "hipaa-alarms", Outcome.INCIDENT_OPENED, ARN)
    incident = ctx.store.incident(str(opened.incident_id))
    assert incident.breach_notification_deadline is None  # the policy says no clock
    (back,) = handle(_state("OK", "ALARM"), ctx)
    assert (back.outcome, back.incident_id) == (Outcome.COMPLIANT, opened.incident_id)
    kinds = [e.kind.value for e in ctx.store.entries(str(opened.incident_id))]
    assert kinds[-2:] == ["detected", "verified"]
    assert ctx.store.incident(str(opened.incident_id)).status.value == "open"


def test_ok_without_an_open_incident_is_ignored(ctx: Context) -> None:
    (r,) = handle(_state("OK", "ALARM"), ctx)
    assert r.outcome is Outcome.IGNORED and r.incident_id is None
    assert "no open incident" in str(r.reason)


def test_other_alarm_names_match_no_policy(ctx: Context) -> None:
    event = load_event("cloudwatch_alarm")
    event["detail"]["alarmName"] = "cpu-high"
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_a_policy_may_start_the_breach_clock(aws: None, tmp_path: Path) -> None:
    text = (Path("policies") / "95-cloudwatch-alarms.yaml").read_text().replace(
        "breach_clock: false", "breach_clock: true")
    (tmp_path / "p.yaml").write_text(text)
    ctx, _ = make_context(policy_dir=tmp_path)
    (r,) = handle(load_event("cloudwatch_alarm"), ctx)
    incident = ctx.store.incident(str(r.incident_id))
    assert incident.breach_status == "assessment_pending"
    assert incident.breach_notification_deadline is not None
