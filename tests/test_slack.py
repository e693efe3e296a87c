"""Slack approvals end to end: the signed route (chalice.test.Client), a Slack stand-in,
moto; forged, stale and replayed clicks change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib.approval import sweep
from chalicelib.context import Context, current
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.record import ApprovalState
from chalicelib.slack import Job
from tests.helpers import load_event
from tests.slack_standin import SlackStandIn

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
READ = {"Sid": "ReadPhi", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::phi/*"}
WILD = {"Sid": "Oops", "Effect": "Allow", "Action": "*", "Resource": "*"}
MARKER = "PHI-MARKER-7731"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    server = SlackStandIn()
    yield server
    server.stop()


@pytest.fixture
def env(aws: None, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Iterator[Context]:
    for key, value in {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_CHANNEL": "C0SEC",
                       "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.url,
                       "REMEDIATION_APPROVERS": "U_ALICE,U_BOB",
                       "REMEDIATION_TABLE": "slack-test"}.items():
        monkeypatch.setenv(key, value)
    ctx = current()
    ctx.store.ensure_table()
    yield ctx


@pytest.fixture
def client(env: Context, tmp_path: Path) -> Iterator[Client]:
    """The app with a stage whose config names no worker: approved work runs in-process."""
    (tmp_path / ".chalice").mkdir()
    config = json.loads(Path(".chalice/config.json").read_text())
    config["stages"] = {"test": {"environment_variables": {}}}
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with Client(app, stage_name="test", project_dir=str(tmp_path)) as c:
        yield c


def _wildcard_policy(name: str = "ops-admin", tags: list[dict[str, str]] | None = None) -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    return str(iam.create_policy(PolicyName=name, Tags=tags or [], PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [READ, WILD]}))["Policy"]["Arn"])


def _default_statements(arn: str) -> list[dict[str, Any]]:
    iam = boto3.client("iam", region_name="us-east-1")
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return list(iam.get_policy_version(PolicyArn=arn, VersionId=version)[
        "PolicyVersion"]["Document"]["Statement"])


def _request(ctx: Context, arn: str) -> Any:
    event = load_event("cloudtrail_create_policy")
    event["detail"]["responseElements"]["policy"]["arn"] = arn
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.APPROVAL_REQUESTED
    return r


def _body(approval_id: str, user: str, action: str = "approve") -> bytes:
    payload = {"type": "block_actions", "user": {"id": user, "username": "someone"},
               "actions": [{"action_id": action, "value": approval_id,
                            "block_id": f"approval:{approval_id}"}],
               "container": {"type": "message"}}
    return urlencode({"payload": json.dumps(payload)}).encode()


def _headers(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def _click(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    return client.http.post("/slack/actions", headers=headers, body=body)


def _wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the background remediation")
        time.sleep(0.05)


def test_request_posts_block_kit_with_buttons(env: Context, slack: SlackStandIn) -> None:
    r = _request(env, _wildcard_policy())
    (method, body, _), = slack.calls
    assert method == "chat.postMessage" and body["channel"] == "C0SEC"
    actions = next(b for b in body["blocks"] if b["type"] == "actions")
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("approve", r.approval_id), ("deny", r.approval_id)]
    text = json.dumps(body)
    assert "iam:CreatePolicyVersion" in text and "164.312(a)(1)" in text
    assert env.store.approval(r.approval_id).slack_ts


def test_signed_approval_round_trip(client: Client, env: Context, slack: SlackStandIn) -> None:
    arn = _wildcard_policy()
    r = _request(env, arn)
    body = _body(r.approval_id, "U_ALICE")
    response = _click(client, body, _headers(body))
    assert response.status_code == 200
    _wait_for(lambda: _default_statements(arn) == [READ])
    _wait_for(lambda: "chat.update" in slack.methods())
    update = next(b for m, b, _ in slack.calls if m == "chat.update")
    assert "U_ALICE" in update["text"] and "applied and verified" in update["text"]

    def thread() -> list[dict[str, Any]]:  # posted right after the update, by the worker
        return [b for m, b, _ in slack.calls if m == "chat.postMessage" and b.get("thread_ts")]

    _wait_for(lambda: bool(thread()))
    assert "CreatePolicyVersion" in thread()[0]["text"]
    entries = env.store.entries(r.incident_id)
    approved = [e for e in entries if e.kind.value == "approved"]
    assert approved[0].actor == "U_ALICE"
    assert [e.kind.value for e in entries][-3:] == ["applied", "verified", "closed"]


@pytest.mark.parametrize("forge", ["unsigned", "wrong_secret", "stale", "future", "garbage_ts",
                                   "tampered"])
def test_forged_or_stale_requests_are_401_and_change_nothing(
        client: Client, env: Context, forge: str) -> None:
    arn = _wildcard_policy()
    r = _request(env, arn)
    body = _body(r.approval_id, "U_ALICE")
    headers = {
        "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
        "wrong_secret": _headers(body, secret="not-the-secret"),
        "stale": _headers(body, ts=int(time.time()) - 301),
        "future": _headers(body, ts=int(time.time()) + 301),
        "garbage_ts": {**_headers(body), "X-Slack-Request-Timestamp": "yesterday"},
        "tampered": _headers(_body(r.approval_id, "U_BOB")),
    }[forge]
    response = _click(client, body, headers)
    assert response.status_code == 401
    assert env.store.approval(r.approval_id).state is ApprovalState.PENDING
    assert _default_statements(arn) == [READ, WILD]


def test_replayed_click_decides_once(client: Client, env: Context) -> None:
    arn = _wildcard_policy()
    r = _request(env, arn)
    body = _body(r.approval_id, "U_ALICE", "deny")
    headers = _headers(body)
    assert _click(client, body, headers).status_code == 200
    replay = _click(client, body, headers)
    assert replay.status_code == 200 and "already decided" in replay.json_body["text"]
    kinds = [e.kind.value for e in env.store.entries(r.incident_id)]
    assert kinds.count("denied") == 1
    assert _default_statements(arn) == [READ, WILD]


def test_unlisted_user_cannot_approve(client: Client, env: Context) -> None:
    arn = _wildcard_policy()
    r = _request(env, arn)
    body = _body(r.approval_id, "U_MALLORY")
    response = _click(client, body, _headers(body))
    assert response.status_code == 200 and "not an approver" in response.json_body["text"]
    assert env.store.approval(r.approval_id).state is ApprovalState.PENDING
    assert _default_statements(arn) == [READ, WILD]


def test_malformed_payload_is_400(client: Client, env: Context) -> None:
    body = b"payload=%7Bnot-json"
    assert _click(client, body, _headers(body)).status_code == 400


def test_slack_down_keeps_the_approval_and_cli_decides(env: Context,
                                                       slack: SlackStandIn) -> None:
    from chalicelib.approval import decide

    slack.fail = "channel_not_found"
    arn = _wildcard_policy()
    r = _request(env, arn)
    assert env.store.approval(r.approval_id).state is ApprovalState.PENDING
    failed = [e for e in env.store.entries(r.incident_id) if e.kind.value == "failed"]
    assert failed and "channel_not_found" in failed[0].detail["reason"]
    done = decide(env, r.approval_id, "U_BOB", approve=True)
    assert done.outcome is Outcome.REMEDIATED and _default_statements(arn) == [READ]


def test_expired_approvals_are_swept_and_cannot_be_approved(
        client: Client, env: Context, slack: SlackStandIn) -> None:
    import datetime as dt

    arn = _wildcard_policy()
    r = _request(env, arn)
    later = Context(settings=env.settings, aws=env.aws,
                    clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=4, minutes=1))
    assert sweep(env) == []
    assert sweep(later) == [r.approval_id]
    assert env.store.approval(r.approval_id).state is ApprovalState.EXPIRED
    assert any(m == "chat.update" and "Expired" in b["text"] for m, b, _ in slack.calls)
    body = _body(r.approval_id, "U_ALICE")
    response = _click(client, body, _headers(body))
    assert "already decided: expired" in response.json_body["text"]
    assert _default_statements(arn) == [READ, WILD]


def test_two_person_rule_needs_two_distinct_approvers(aws: None, slack: SlackStandIn,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from chalicelib.approval import decide
    from chalicelib.errors import Refused

    text = Path("policies/30-iam-wildcard.yaml").read_text()
    (tmp_path / "p.yaml").write_text(text.replace("mode: approve",
                                                  "mode: approve\n    approvals_required: 2"))
    monkeypatch.setenv("REMEDIATION_POLICY_DIR", str(tmp_path))
    monkeypatch.setenv("REMEDIATION_APPROVERS", "U_ALICE,U_BOB")
    monkeypatch.setenv("REMEDIATION_TABLE", "two-person")
    ctx = current()
    ctx.store.ensure_table()
    arn = _wildcard_policy()
    r = _request(ctx, arn)
    first = decide(ctx, r.approval_id, "U_ALICE", approve=True)
    assert first.outcome is Outcome.APPROVAL_REQUESTED
    assert _default_statements(arn) == [READ, WILD]
    with pytest.raises(Refused, match="already approved"):
        decide(ctx, r.approval_id, "U_ALICE", approve=True)
    second = decide(ctx, r.approval_id, "U_BOB", approve=True)
    assert second.outcome is Outcome.REMEDIATED and _default_statements(arn) == [READ]
    actors = [e.actor for e in ctx.store.entries(r.incident_id) if e.kind.value == "approved"]
    assert actors == ["U_ALICE", "U_BOB"]


def test_no_phi_reaches_slack(client: Client, env: Context, slack: SlackStandIn) -> None:
    arn = _wildcard_policy(tags=[{"Key": "patient", "Value": MARKER}])
    event = load_event("cloudtrail_create_policy")
    event["detail"]["responseElements"]["policy"]["arn"] = arn
    event["detail"]["requestParameters"]["description"] = f"records of {MARKER}"
    event["detail"]["userAgent"] = MARKER
    (r,) = handle(event, env)
    body = _body(r.approval_id, "U_ALICE")
    _click(client, body, _headers(body))
    _wait_for(lambda: "chat.update" in slack.methods())
    assert slack.calls and all(MARKER not in raw for _, _, raw in slack.calls)


def test_deny_answers_first_and_updates_slack_after(client: Client, env: Context,
                                                    slack: SlackStandIn) -> None:
    arn = _wildcard_policy()
    r = _request(env, arn)
    calls_before = len(slack.calls)
    seen: list[Job] = []
    from chalicelib.slack import handle_action

    body = _body(r.approval_id, "U_BOB", "deny")
    status, answer = handle_action(env, body, {k.lower(): v for k, v in _headers(body).items()},
                                   run=lambda c, a: seen.append(a))
    assert status == 200 and "Denied" in answer["text"]
    assert seen == [Job(approval_id=r.approval_id)]
    assert len(slack.calls) == calls_before  # no Slack call yet
    from chalicelib.slack import run_job

    # the worker Lambda gets the job as JSON, as dispatch sends it
    assert run_job(env, json.loads(seen[0].model_dump_json()))["outcome"] == "denied"
    update = next(b for m, b, _ in slack.calls if m == "chat.update")
    assert "Denied by <@U_BOB>" in update["text"]
    assert _default_statements(arn) == [READ, WILD]


def _held_storm(env: Context, monkeypatch: pytest.MonkeyPatch, n: int) -> tuple[
        Context, list[str]]:
    monkeypatch.setenv("REMEDIATION_AUTO_LIMIT", "1")
    ctx = current()
    ctx.store.ensure_table()
    s3 = boto3.client("s3", region_name="us-east-1")
    buckets = [f"phi-held-{i}" for i in range(n)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
        handle(load_event("cloudtrail_put_bucket_policy", bucket=bucket), ctx)
    return ctx, buckets


def test_held_fixes_share_one_message_with_approve_all(env: Context, slack: SlackStandIn,
                                                       client: Client,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import ALL_ON, public_access_block

    ctx, buckets = _held_storm(env, monkeypatch, 4)
    held_posts = [b for m, b, _ in slack.calls if m == "chat.postMessage"
                  and any(blk["type"] == "actions" for blk in b.get("blocks", []))]
    assert len(held_posts) == 1  # one message for the group, not one per held fix
    actions = next(blk for blk in held_posts[0]["blocks"] if blk["type"] == "actions")
    (approve_all, deny_all) = actions["elements"]
    assert (approve_all["action_id"], deny_all["action_id"]) == ("approve_held", "deny_held")
    group = approve_all["value"]
    assert approve_all["text"]["text"] == "Approve all"
    updates = [b for m, b, _ in slack.calls if m == "chat.update"]
    assert updates and updates[-1]["blocks"][0]["text"]["text"].startswith("3 fixes held")

    forged = _body(group, "U_ALICE", "approve_held")
    assert _click(client, forged, _headers(forged, secret="wrong")).status_code == 401
    outsider = _body(group, "U_MALLORY", "approve_held")
    answer = _click(client, outsider, _headers(outsider))
    assert "not an approver" in answer.json_body["text"]
    assert [public_access_block(boto3.client("s3", region_name="us-east-1"), b)
            for b in buckets[1:]] == [None] * 3

    body = _body(group, "U_ALICE", "approve_held")
    assert _click(client, body, _headers(body)).status_code == 200
    s3 = boto3.client("s3", region_name="us-east-1")
    _wait_for(lambda: all(public_access_block(s3, b) == ALL_ON for b in buckets))
    _wait_for(lambda: any("Approved all by <@U_ALICE>: 3 remediated" in b.get("text", "")
                          for m, b, _ in slack.calls if m == "chat.update"))
    assert ctx.store.pending_approvals() == []
    assert MARKER not in json.dumps([b for _, b, _ in slack.calls])


def test_plan_notes_reach_the_approver_as_identifiers_only() -> None:
    from chalicelib.finding import Resource
    from chalicelib.notify import approval_blocks
    from chalicelib.policy import Policy
    from remediations.base import ApiCall, Plan

    note = "arn:aws:iam::123456789012:role/etl must be allowed kms:Decrypt on arn:aws:kms:k"
    plan = Plan(remediation="lambda_env_encryption", account="123456789012",
                region="us-east-1", before={}, after={}, notes=[note],
                resource=Resource(type="AWS::Lambda::Function", id="f"),
                calls=[ApiCall(service="lambda", operation="UpdateFunctionConfiguration")])
    policy = Policy(name="lambda-env-kms", trigger=[{"source": "cloudtrail", "kinds": ["X"]}],
                    remediation="lambda_env_encryption", hipaa=["164.312(a)(2)(iv)"])
    blocks = approval_blocks(approval_id="apr-1", policy=policy, plan=plan,
                             incident_id="inc-1", detected="d", expires_at="e")
    assert any("Before you approve" in json.dumps(b) and note in json.dumps(b)
               for b in blocks)


def test_a_guardduty_incident_message_says_how_to_assess_it(env: Context,
                                                           slack: SlackStandIn) -> None:
    (r,) = handle(load_event("guardduty_ec2_ssh_bruteforce"), env)
    texts = [b.get("text", "") for m, b, _ in slack.calls if m == "chat.postMessage"]
    assert any(f"remediate assess {r.incident_id} --breach yes|no" in t for t in texts)


@pytest.mark.parametrize("job", [{}, {"approval_id": "a", "held_group": "g", "user": "U"},
                                 {"held_group": "HELD#1#p#h"}, {"approval_id": 3},
                                 {"approval_id": "a", "extra": 1}])
def test_the_worker_refuses_a_malformed_job_without_raising(env: Context,
                                                            job: dict[str, Any]) -> None:
    from chalicelib.slack import run_job

    out = run_job(env, job)
    assert out["outcome"] == "failed" and "not a worker job" in out["reason"]
