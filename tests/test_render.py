"""Timeline and evidence rendering: escaping of attacker-controlled text, the breach clock,
and a real browser reading the HTML page."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import evidence, render
from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.record import EntryKind, Incident, Status, TimelineEntry
from tests.helpers import load_event

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))
HTML_PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
MD_PAYLOAD = "[click](javascript:alert(1)) **bold** `code` | pipe"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _incident(**extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "incident_id": "inc-1", "status": Status.OPEN,
        "resource": f"arn:aws:iam::123456789012:policy/{MD_PAYLOAD}{HTML_PAYLOAD}",
        "resource_type": "AWS::IAM::Policy", "resource_id": "x", "account": "123456789012",
        "region": "us-east-1", "policy": "p", "remediation": "iam_revoke_wildcard",
        "controls": ["164.312(a)(1)"], "created_at": NOW - dt.timedelta(hours=1),
        "fix": {"before": {"Tag": HTML_PAYLOAD}, "after": {"Tag": MD_PAYLOAD}, "calls": []},
        **extra}
    return Incident(**fields)


def _entries() -> list[TimelineEntry]:
    return [TimelineEntry(at=NOW, kind=EntryKind.DETECTED, actor=HTML_PAYLOAD, detail={
        "source": "guardduty", "kind": MD_PAYLOAD, "event_id": "e1",
        "event": {"detail": {"resource": {"tags": [{"key": "n", "value": HTML_PAYLOAD}]}}}})]


def test_html_escapes_everything_from_events() -> None:
    page = render.timeline_html(_incident(), _entries(), now=NOW)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&lt;img" in page


def test_markdown_escapes_links_emphasis_code_and_html() -> None:
    text = render.timeline_md(_incident(), _entries(), now=NOW)
    fences = [i for i, line in enumerate(text.splitlines()) if line.startswith("```")]
    assert len(fences) == 2  # the diff block opens and closes; a payload cannot close it
    inside = text.splitlines()[fences[0] + 1:fences[1]]
    assert not any("`" in line for line in inside)
    outside = "\n".join(text.splitlines()[:fences[0]])
    assert "[click](javascript" not in outside and "**bold**" not in outside
    assert "<script>" not in outside and "<img" not in outside
    assert "\\[click\\]" in outside and "\\*\\*bold\\*\\*" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| 2026")]
    assert all(line.count(" | ") == 3 for line in table_rows)  # a payload pipe splits no cell


def test_evidence_report_escapes_too() -> None:
    row = {"incident_id": "inc-1", "resource": HTML_PAYLOAD, "status": "open",
           "opened": "t", "time_to_remediate_seconds": None, "approved_by": [MD_PAYLOAD],
           "breach_clock": HTML_PAYLOAD, "remediation": "r"}
    report = {"generated_at": "t", "since": "s", "incidents": 1, "still_open": [row],
              "open_breach_clocks": [row], "controls": [{
                  "control": "164.312(b)", "name": "", "incidents": [row], "total": 1,
                  "resolved": 0, "open": 1, "rolled_back": 0,
                  "median_time_to_remediate_seconds": None,
                  "p95_time_to_remediate_seconds": None, "approved": 0,
                  "failed_still_open": 0}]}
    assert "<script>" not in evidence.to_html(report)
    assert "<script>" not in evidence.to_md(report) and "[click](" not in evidence.to_md(report)


def test_breach_clock_counts_down_and_shows_overdue() -> None:
    inc = _incident(breach_assessment_started=NOW - dt.timedelta(days=10),
                    breach_notification_deadline=NOW + dt.timedelta(days=50))
    assert render.breach_clock(inc, NOW).startswith("50 d 0 h left")
    assert render.breach_clock(inc, NOW + dt.timedelta(days=51)).startswith("OVERDUE by 1 d")
    assert render.breach_clock(_incident(), NOW) is None


def test_guardduty_incident_starts_the_breach_clock(ctx: Context) -> None:
    event = load_event("guardduty_ec2_ssh_bruteforce")
    (r,) = handle(event, ctx)
    inc = ctx.store.incident(r.incident_id)
    assert inc.breach_assessment_started == dt.datetime(2026, 11, 20, 16, 0, tzinfo=dt.UTC)
    assert inc.breach_notification_deadline == dt.datetime(2027, 1, 19, 16, 0, tzinfo=dt.UTC)
    report = evidence.build(ctx.store, since=NOW - dt.timedelta(days=30),
                            now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert [c["incident_id"] for c in report["open_breach_clocks"]] == [r.incident_id]


@contextlib.contextmanager
def _page(sync_api: Any, chromium: str) -> Iterator[tuple[Any, list[str]]]:
    """A page in headless Chromium (flags for this closed network) and the dialogs it
    opened (a payload that ran would open one)."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            yield page, dialogs
        finally:
            browser.close()


def _browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run does)")
    return sync_api, chromium


def test_timeline_reads_right_in_a_real_browser(ctx: Context, s3: Any, tmp_path: Path) -> None:
    sync_api, chromium = _browser()
    s3.create_bucket(Bucket="phi-bucket")
    s3.put_bucket_tagging(Bucket="phi-bucket", Tagging={"TagSet": [
        {"Key": "owner", "Value": HTML_PAYLOAD}]})
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail"]["userIdentity"]["arn"] = (
        f"arn:aws:sts::123456789012:assumed-role/x/{MD_PAYLOAD}")
    event["detail"]["requestParameters"]["note"] = HTML_PAYLOAD
    r = handle(event, ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    page_path = tmp_path / "timeline.html"
    page_path.write_text(render.timeline_html(ctx.store.incident(r.incident_id),
                                              ctx.store.entries(r.incident_id)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _page(sync_api, chromium) as (page, dialogs):
        page.goto(page_path.resolve().as_uri())
        page.screenshot(path=str(ARTIFACTS / "timeline.png"), full_page=True)
        body = page.inner_text("body")
        assert f"Incident {r.incident_id}" in body
        assert "resolved" in page.inner_text(".badge")
        assert "arn:aws:s3:::phi-bucket" in body
        assert "164.312(a)(1) Access control" in body
        assert "time to remediate" in body
        for kind in ("detected", "planned", "applied", "verified", "closed"):
            assert page.get_by_text(kind, exact=True).first.is_visible()
        assert page.get_by_text("s3:PutPublicAccessBlock").first.is_visible()
        assert "+" in page.inner_text("pre.diff")  # the after-state lines
        assert MD_PAYLOAD in body  # shown as text, not interpreted
        assert page.evaluate("window.__pwned") is None and not dialogs


def test_demo_events_happen_now_so_the_breach_clock_never_reads_overdue() -> None:
    from chalicelib.demo import _event, stamped

    later = dt.datetime(2031, 5, 4, 3, 2, 1, tzinfo=dt.UTC)
    event = stamped(json.loads((Path("chalicelib/demo_events")
                                / "guardduty_ec2_ssh_bruteforce.json").read_text()), later)
    assert event["time"] == "2031-05-04T03:02:01Z"
    first_seen = dt.datetime.fromisoformat(event["detail"]["service"]["eventFirstSeen"])
    assert dt.timedelta(0) < later - first_seen < dt.timedelta(hours=1)  # gaps kept
    fresh = _event("cloudtrail_put_bucket_policy", "x")
    age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(fresh["time"])
    assert abs(age) < dt.timedelta(minutes=1)
    assert fresh["detail"]["requestParameters"]["bucketPolicy"]["Version"] == "2012-10-17"


def test_evidence_pack_reads_right_in_a_real_browser(ctx: Context, s3: Any,
                                                     tmp_path: Path) -> None:
    from chalicelib.assess import assess
    from chalicelib.drill import run
    from chalicelib.snapshot import take

    sync_api, chromium = _browser()
    s3.create_bucket(Bucket="phi-bucket")
    handle(load_event("cloudtrail_put_bucket_policy"), ctx)
    (gd,) = handle(load_event("guardduty_ec2_ssh_bruteforce"), ctx)
    assess(ctx, str(gd.incident_id), breach=False, reason=HTML_PAYLOAD, user="U_ONCALL")
    run(ctx, only="public-bucket")
    report = evidence.build(ctx.store, since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                            policies=ctx.policies, generated_by=MD_PAYLOAD,
                            snapshot=take(ctx, accounts=["123456789012"],
                                          regions=["us-east-1"]))
    page_path = tmp_path / "evidence.html"
    page_path.write_text(evidence.to_html(report))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _page(sync_api, chromium) as (page, dialogs):
        page.goto(page_path.resolve().as_uri())
        page.screenshot(path=str(ARTIFACTS / "evidence.png"), full_page=True)
        body = page.inner_text("body")
        toc = page.inner_text("nav.toc")
        for section in ("Incident-response drills (last 12 months)",
                        "Breach risk assessments", "164.312(b) Audit controls",
                        "164.312(a)(1) Access control"):
            assert section in toc and section in body
        page.click("nav.toc >> text=164.312(b) Audit controls")  # the links work
        assert "Watched by:" in body and "Configuration now:" in body
        assert "NOT compliant" in body or "compliant" in body
        assert MD_PAYLOAD in body and HTML_PAYLOAD in body  # shown as text
        assert page.locator("img").count() == 0 and page.locator("script").count() == 0
        assert page.evaluate("window.__pwned") is None and not dialogs
        page.emulate_media(media="print")
        pdf = page.pdf()  # "Print to PDF" works and gives a document
        assert pdf[:4] == b"%PDF" and len(pdf) > 5000
