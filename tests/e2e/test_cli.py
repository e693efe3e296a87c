"""The operator contract, driven through the `remediate` executable against moto_server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli, aws_client, event_file
from tests.helpers import ALL_ON, default_encryption, load_event, public_access_block


def test_handle_fixes_a_public_bucket_and_timeline_and_rollback_work(
        cli: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = f"e2e-{tmp_path.name}".lower().replace("_", "-")[:60]
    s3.create_bucket(Bucket=bucket)
    event = load_event("cloudtrail_put_bucket_policy", bucket=bucket)
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert code == 0, out
    assert out["outcome"] == "remediated" and out["event_id"] == event["id"]
    assert out["resource"] == f"arn:aws:s3:::{bucket}"
    assert out["changes"][0]["operation"] == "PutPublicAccessBlock"
    assert public_access_block(s3, bucket) == ALL_ON

    code, again = cli.json("handle", "-", stdin=json.dumps(event))
    assert (code, again["outcome"]) == (0, "duplicate")

    code, timeline = cli.json("timeline", out["incident_id"])
    assert code == 0 and timeline["status"] == "resolved"
    assert timeline["controls"] == ["164.312(a)(1)", "164.308(a)(4)"]
    assert [e["kind"] for e in timeline["entries"]] == [
        "detected", "planned", "applied", "verified", "closed"]
    assert all({"at", "kind", "actor", "detail"} <= set(e) for e in timeline["entries"])
    md = cli("timeline", out["incident_id"], "--format", "md")
    assert md.returncode == 0 and "## Timeline" in md.stdout

    code, rolled = cli.json("rollback", out["incident_id"])
    assert code == 0 and rolled["outcome"] == "rolled_back"
    s3.head_bucket(Bucket=bucket)  # rollback restores configuration, never deletes
    assert public_access_block(s3, bucket) is None
    code, timeline = cli.json("timeline", out["incident_id"])
    assert timeline["status"] == "rolled_back"
    assert cli("rollback", out["incident_id"]).returncode == 3


def test_dry_run_flag_and_env_change_nothing(cli: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = f"dry-{tmp_path.name}".lower().replace("_", "-")[:60]
    s3.create_bucket(Bucket=bucket)
    code, out = cli.json("handle", "--dry-run", event_file(
        tmp_path, load_event("cloudtrail_delete_bucket_encryption", bucket=bucket)))
    assert (code, out["outcome"]) == (0, "dry_run")
    assert out["changes"][0]["operation"] == "PutBucketEncryption"
    code, out = cli.json("handle", event_file(
        tmp_path, load_event("cloudtrail_put_bucket_policy", bucket=bucket)),
        env={"DRY_RUN": "true"})
    assert (code, out["outcome"]) == (0, "dry_run")
    assert default_encryption(s3, bucket) is None
    assert public_access_block(s3, bucket) is None


def test_failed_outcome_exits_1(cli: Cli, s3: Any, tmp_path: Path) -> None:
    """A real failure: the key the fix must use does not exist in the account."""
    bucket = f"fail-{tmp_path.name}".lower().replace("_", "-")[:60]
    s3.create_bucket(Bucket=bucket)
    event = load_event("cloudtrail_delete_bucket_encryption", bucket=bucket)
    code, out = cli.json("handle", event_file(tmp_path, event),
                         env={"REMEDIATION_KMS_KEY": "alias/no-such-key-e2e"})
    assert (code, out["outcome"]) == (1, "failed"), out
    assert "alias/no-such-key-e2e" in out["reason"] and out["incident_id"]
    assert default_encryption(s3, bucket) is None


def test_a_resource_that_is_gone_is_ignored_and_exits_0(cli: Cli, tmp_path: Path) -> None:
    event = load_event("cloudtrail_put_bucket_policy", bucket="no-such-bucket-e2e")
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert (code, out["outcome"]) == (0, "ignored"), out
    assert out["reason"].startswith("resource no longer exists: ")
    assert "NoSuchBucket" in out["reason"] and out.get("incident_id") is None


def test_bad_input_exits_2_with_one_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text in ("{not json", "[]", json.dumps({"id": "x"})):
        bad.write_text(text)
        proc = cli("handle", str(bad))
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
        assert "Traceback" not in proc.stderr
    assert cli("handle", str(tmp_path / "missing.json")).returncode == 2


def test_bootstrap_is_idempotent(cli: Cli) -> None:
    code, first = cli.json("bootstrap")
    code2, second = cli.json("bootstrap")
    assert (code, code2) == (0, 0) and first["created"] and not second["created"]


def test_policies_validate(cli: Cli, tmp_path: Path) -> None:
    ok = cli("policies", "validate")
    from chalicelib.config import default_policy_dir
    from chalicelib.policy import load_policies

    shipped = len(load_policies(default_policy_dir()))
    assert ok.returncode == 0 and f"{shipped} policies valid" in ok.stdout
    (tmp_path / "bad.yaml").write_text("policies:\n  - name: x\n    remediation: nope\n")
    bad = cli("policies", "validate", str(tmp_path))
    assert bad.returncode == 2 and "bad.yaml:2" in bad.stderr


def test_unknown_incident_and_approval_exit_3(cli: Cli) -> None:
    cli("bootstrap")
    assert cli("timeline", "inc-nope").returncode == 3
    assert cli("approve", "apr-nope", "--as", "U1").returncode == 3


def test_wildcard_policy_waits_for_approval_then_fixes_and_rolls_back(
        cli: Cli, moto_url: str, tmp_path: Path) -> None:
    iam = aws_client(moto_url, "iam")
    read = {"Sid": "ReadPhi", "Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::phi/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    wild = {"Sid": "Oops", "Effect": "Allow", "Action": "*", "Resource": "*"}
    original = {"Version": "2012-10-17", "Statement": [read, wild]}
    name = f"ops-{tmp_path.name}"[:100].replace("_", "-")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(original))[
        "Policy"]["Arn"]
    event = load_event("cloudtrail_create_policy")
    event["detail"]["responseElements"]["policy"]["arn"] = arn

    def default_doc() -> dict[str, Any]:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return iam.get_policy_version(PolicyArn=arn, VersionId=version)[
            "PolicyVersion"]["Document"]

    env = {"REMEDIATION_APPROVERS": "U_ONCALL"}
    code, out = cli.json("handle", event_file(tmp_path, event), env=env)
    assert (code, out["outcome"]) == (0, "approval_requested"), out
    assert out["approval_id"] and out["changes"][0]["operation"] == "CreatePolicyVersion"
    assert default_doc() == original

    code, pending = cli.json("approvals", env=env)
    assert out["approval_id"] in [p["approval_id"] for p in pending]
    refused = cli("approve", out["approval_id"], "--as", "U_INTRUDER", env=env)
    assert refused.returncode == 3 and "not an approver" in refused.stderr
    assert default_doc() == original

    code, done = cli.json("approve", out["approval_id"], "--as", "U_ONCALL", env=env)
    assert (code, done["outcome"]) == (0, "remediated"), done
    assert default_doc()["Statement"] == [read]
    assert cli("approve", out["approval_id"], "--as", "U_ONCALL", env=env).returncode == 3

    code, timeline = cli.json("timeline", done["incident_id"])
    approved = [e for e in timeline["entries"] if e["kind"] == "approved"]
    assert approved and approved[0]["actor"] == "U_ONCALL"

    code, _ = cli.json("rollback", done["incident_id"])
    assert code == 0 and default_doc() == original


def test_incidents_evidence_and_html_timeline(cli: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = f"ev-{tmp_path.name}".lower().replace("_", "-")[:60]
    s3.create_bucket(Bucket=bucket)
    code, fixed = cli.json("handle", event_file(
        tmp_path, load_event("cloudtrail_put_bucket_policy", bucket=bucket)))
    code, opened = cli.json("handle", event_file(tmp_path,
                                                 load_event("guardduty_ec2_ssh_bruteforce")))
    assert opened["outcome"] == "incident_opened"

    code, listed = cli.json("incidents", "--format", "json")
    ids = [i["incident_id"] for i in listed]
    assert code == 0 and ids[0] == opened["incident_id"] and fixed["incident_id"] in ids
    code, open_only = cli.json("incidents", "--format", "json", "--status", "open")
    assert [i["incident_id"] for i in open_only] == [opened["incident_id"]]
    table = cli("incidents")
    assert table.returncode == 0 and opened["incident_id"][:12] in table.stdout
    assert cli("incidents", "--since", "last tuesday").returncode == 2

    code, report = cli.json("evidence", "--since", "2020-01-01", "--format", "json")
    controls = {c["control"]: c for c in report["controls"]}
    # the public-access fix, and the public-policy check that found nothing to revoke
    assert controls["164.312(a)(1)"]["resolved"] == 2
    assert controls["164.308(a)(6)(ii)"]["open"] == 1
    assert [c["incident_id"] for c in report["open_breach_clocks"]] == [opened["incident_id"]]
    html_file = tmp_path / "evidence.html"
    assert cli("evidence", "--since", "2020-01-01", "--format", "html",
               "-o", str(html_file)).returncode == 0
    assert "HIPAA evidence report" in html_file.read_text()

    page = tmp_path / "timeline.html"
    assert cli("timeline", opened["incident_id"], "--format", "html", "-o",
               str(page)).returncode == 0
    text = page.read_text()
    assert "Breach notification clock" in text and "left to notify" in text


def test_demo_tells_the_story_and_writes_outputs(cli: Cli, tmp_path: Path) -> None:
    import time

    out = tmp_path / "demo-output"
    started = time.perf_counter()
    proc = cli("demo", "--output", str(out))
    print(f"remediate demo took {time.perf_counter() - started:.1f} s")  # figure, not a gate
    assert proc.returncode == 0, proc.stderr
    for outcome in ("remediated", "approval_requested", "compliant", "duplicate", "dry_run",
                    "exempt", "incident_opened", "rolled back"):
        assert outcome in proc.stdout, outcome
    # Security Hub's S3.8 finding was fixed and written back RESOLVED (act 9)
    assert "the Security Hub finding is now RESOLVED" in proc.stdout
    # act 8: world-open Postgres with clients in the flow logs waits, with the figures
    # (the console wraps long lines: compare without line breaks)
    flat = " ".join(proc.stdout.split())
    assert "on phi-db: approval_requested" in flat
    assert "phi-db ingress still: 5432 from 0.0.0.0/0" in flat
    assert "live traffic: 14 accepted flows from 3 sources to port 5432 in 14 days" in flat
    assert (out / "index.html").is_file() and (out / "evidence.html").is_file()
    timelines = list(out.glob("inc-*.json"))
    statuses = {json.loads(p.read_text())["status"] for p in timelines}
    assert statuses == {"open", "resolved", "rolled_back"}


def test_redrive_handles_the_dead_letter_queue_and_keeps_what_it_cannot(
        cli: Cli, moto_url: str, s3: Any, tmp_path: Path) -> None:
    from tests.test_redrive import on_failure_record

    bucket = f"e2e-{tmp_path.name}".lower().replace("_", "-")[:60]
    s3.create_bucket(Bucket=bucket)
    sqs = aws_client(moto_url, "sqs")
    url = sqs.create_queue(QueueName=f"dlq-{tmp_path.name}"[:80])["QueueUrl"]
    event = load_event("cloudtrail_put_bucket_policy", bucket=bucket)
    sqs.send_message(QueueUrl=url, MessageBody=on_failure_record(event))
    sqs.send_message(QueueUrl=url, MessageBody='{"truncated": ')

    proc = cli("redrive", url)

    assert proc.returncode == 1, proc.stderr  # one message could not be handled
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_outcome = {line["outcome"]: line for line in lines}
    assert set(by_outcome) == {"remediated", "failed"}
    assert by_outcome["remediated"]["event_id"] == event["id"]
    assert by_outcome["remediated"]["deleted"] and not by_outcome["failed"]["deleted"]
    assert "1 deleted, 1 left in the queue" in proc.stderr
    assert public_access_block(s3, bucket) == ALL_ON
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in left] == ['{"truncated": ']

    assert cli("redrive", "not-a-url").returncode == 2
