"""`remediate assess`: the breach risk assessment of a GuardDuty incident, on the timeline,
in the evidence report, and refused where it does not apply."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import evidence
from chalicelib.assess import assess
from chalicelib.context import Context
from chalicelib.errors import NotFound, Refused
from chalicelib.pipeline import handle
from chalicelib.render import breach_clock, timeline_json
from tests.helpers import load_event


def _guardduty_incident(ctx: Context) -> str:
    (r,) = handle(load_event("guardduty_ec2_ssh_bruteforce"), ctx)
    return str(r.incident_id)


def test_not_a_breach_stops_the_clock_and_is_recorded(ctx: Context) -> None:
    iid = _guardduty_incident(ctx)
    assert ctx.store.incident(iid).breach_status == "assessment_pending"
    out = assess(ctx, iid, breach=False, reason="brute force failed; no logins",
                 user="U_ONCALL")
    assert out["breach_status"] == "not_a_breach"
    incident = ctx.store.incident(iid)
    assert (incident.breach_status, incident.breach_assessed_by) == ("not_a_breach",
                                                                     "U_ONCALL")
    clock = breach_clock(incident)
    assert clock and "not a breach" in clock and "left to notify" not in clock
    entry = ctx.store.entries(iid)[-1]
    assert (entry.kind.value, entry.actor) == ("assessed", "U_ONCALL")
    assert entry.detail["reason"] == "brute force failed; no logins"
    data = timeline_json(incident, ctx.store.entries(iid))
    assert data["breach_status"] == "not_a_breach"
    report = evidence.build(ctx.store, since=incident.created_at)
    assert report["open_breach_clocks"] == []
    assert [r["incident_id"] for r in report["breach_assessments"]] == [iid]
    assert "Breach risk assessments" in evidence.to_html(report)


def test_breach_keeps_the_deadline_and_marks_notification_required(ctx: Context) -> None:
    iid = _guardduty_incident(ctx)
    deadline = ctx.store.incident(iid).breach_notification_deadline
    out = assess(ctx, iid, breach=True, reason="records were read", user="U_ONCALL")
    assert out["breach_status"] == "notification_required"
    incident = ctx.store.incident(iid)
    assert incident.breach_notification_deadline == deadline
    clock = breach_clock(incident)
    assert clock and clock.startswith("notification required by")


@pytest.mark.parametrize("case", ["unknown", "no clock", "not an approver", "no reason"])
def test_assessments_that_do_not_apply_are_refused(ctx: Context, s3: Any, case: str) -> None:
    s3.create_bucket(Bucket="phi-bucket")
    cloudtrail = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0].incident_id
    iid = _guardduty_incident(ctx)
    with pytest.raises(Refused) as caught:
        if case == "unknown":
            assess(ctx, "inc-nope", breach=False, reason="x", user="U_ONCALL")
        elif case == "no clock":
            assess(ctx, str(cloudtrail), breach=False, reason="x", user="U_ONCALL")
        elif case == "not an approver":
            assess(ctx, iid, breach=False, reason="x", user="U_MALLORY")
        else:
            assess(ctx, iid, breach=False, reason="  ", user="U_ONCALL")
    assert isinstance(caught.value, NotFound) == (case == "unknown")
    assert ctx.store.incident(iid).breach_status == "assessment_pending"
