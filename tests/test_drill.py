"""`remediate drill`: every shipped scenario through the real pipeline, dry-run, planned
from shipped state; no AWS call but the state table; drill incidents apart from real ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chalicelib import evidence
from chalicelib.context import Context
from chalicelib.drill import run, scenarios
from chalicelib.errors import Refused
from chalicelib.render import drill_html, drill_md
from tests.conftest import CallLog


def test_every_scenario_reaches_its_outcome_without_touching_aws(
        ctx_log: tuple[Context, CallLog]) -> None:
    ctx, log = ctx_log
    log.actions.clear()
    report = run(ctx)
    assert report["ok"], report
    assert [s["name"] for s in report["scenarios"]] == [s["name"] for s in scenarios()]
    assert len(report["scenarios"]) >= 5
    touched = {a.split(":", 1)[0] for a in log.actions}
    assert touched <= {"dynamodb", "sts"}, log.actions  # the state table and who we are
    for s in report["scenarios"]:
        incident = ctx.store.incident(s["incident_id"])
        assert incident.drill and incident.breach_notification_deadline is None
        assert [e.kind.value for e in ctx.store.entries(s["incident_id"])] == [
            "detected", "dry_run"]
        assert s["detected_to_planned_seconds"] is not None
        assert 0 <= s["planned_to_notified_seconds"] <= s["seconds"]


def test_drills_never_join_each_other_and_stay_out_of_real_incidents(ctx: Context) -> None:
    first = run(ctx, only="public-bucket")
    second = run(ctx, only="public-bucket")
    assert first["scenarios"][0]["incident_id"] != second["scenarios"][0]["incident_id"]
    report = evidence.build(ctx.store, since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert report["incidents"] == 0
    assert [d["drill_id"] for d in report["drills"]] == [second["drill_id"],
                                                         first["drill_id"]]
    assert "Incident-response drills (last 12 months)" in evidence.to_md(report)


def test_no_drill_in_a_year_is_flagged(ctx: Context) -> None:
    report = evidence.build(ctx.store, since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert report["drills"] == []
    assert "NO DRILL IN THE LAST 12 MONTHS" in evidence.to_md(report)
    assert "class=clock><b>No drill in the last 12 months" in evidence.to_html(report)


def test_an_unknown_scenario_is_refused_with_the_names(ctx: Context) -> None:
    with pytest.raises(Refused, match="public-bucket"):
        run(ctx, only="nope")


def test_reports_render_in_markdown_and_html(ctx: Context) -> None:
    report: dict[str, Any] = run(ctx, only="ssh-open-to-the-world")
    assert "ssh-open-to-the-world" in drill_md(report)
    assert "<table>" in drill_html(report) and "Nothing in AWS" in drill_html(report)
