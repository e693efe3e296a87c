"""Issue #10's promises through the `remediate` executable against moto_server: GuardDuty
S3 findings from management events, a dead state store, held fixes decided at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.emulator import free_port
from tests.e2e.conftest import Cli, event_file
from tests.helpers import ALL_ON, load_event, public_access_block


def _bucket(tmp_path: Path, suffix: str = "") -> str:
    return f"e2e-{tmp_path.name}{suffix}".lower().replace("_", "-")[:60]


def test_guardduty_management_event_finding_blocks_the_bucket_it_names(
        cli: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = _bucket(tmp_path)
    s3.create_bucket(Bucket=bucket)
    event = load_event("guardduty_s3_anonymous_access_granted", bucket=bucket)
    assert event["detail"]["resource"]["resourceType"] == "AccessKey"
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert code == 0, out
    assert (out["outcome"], out["resource"]) == ("remediated", f"arn:aws:s3:::{bucket}")
    assert public_access_block(s3, bucket) == ALL_ON
    code, timeline = cli.json("timeline", out["incident_id"])
    detected = timeline["entries"][0]
    assert detected["actor"] == "AROAEXAMPLEROLEID0001:alice"
    assert detected["detail"]["access_key_id"] == "ASIAEXAMPLEKEY000001"
    assert detected["detail"]["changed_by_role"] == "arn:aws:iam::123456789012:role/developer"


def test_a_dead_state_store_prints_the_reason_and_changes_nothing(
        cli: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = _bucket(tmp_path)
    s3.create_bucket(Bucket=bucket)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = cli("handle", event_file(tmp_path, load_event("cloudtrail_put_bucket_policy",
                                                     bucket=bucket)),
               env={"AWS_ENDPOINT_URL_DYNAMODB": dead})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    table = cli.env["REMEDIATION_TABLE"]
    assert f"state table {table}: DescribeTable failed: EndpointConnectionError" in lines[0]
    assert json.loads(proc.stdout)["outcome"] == "failed"
    assert public_access_block(s3, bucket) is None


def test_held_fixes_are_listed_and_approved_at_once(cli: Cli, s3: Any,
                                                    tmp_path: Path) -> None:
    env = {"REMEDIATION_AUTO_LIMIT": "1", "REMEDIATION_APPROVERS": "U_ONCALL"}
    buckets = [_bucket(tmp_path, f"-{n}") for n in range(3)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
        code, out = cli.json("handle", event_file(tmp_path, load_event(
            "cloudtrail_put_bucket_policy", bucket=bucket)), env=env)
        assert code == 0, out
    code, pending = cli.json("approvals", env=env)
    held = [a for a in pending if a["held"]]
    assert sorted(a["resource"] for a in held) == [f"arn:aws:s3:::{b}" for b in buckets[1:]]
    args = ("--held", "--policy", "s3-block-public-access", "--account", "123456789012")
    refused = cli("approve", *args, "--as", "U_MALLORY", env=env)
    assert refused.returncode == 3 and "not an approver" in refused.stderr
    proc = cli("approve", *args, "--as", "U_ONCALL", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["outcome"] for r in lines] == ["remediated", "remediated"]
    assert len({r["incident_id"] for r in lines}) == 2
    assert all(public_access_block(s3, b) == ALL_ON for b in buckets)
    again = cli("approve", *args, "--as", "U_ONCALL", env=env)
    assert again.returncode == 3 and "no held fixes" in again.stderr
    usage = cli("approve", "--held", "--as", "U_ONCALL", env=env)
    assert usage.returncode == 2 and "--policy" in usage.stderr


def test_assess_stops_a_breach_clock_and_refuses_what_does_not_apply(
        cli: Cli, tmp_path: Path) -> None:
    env = {"REMEDIATION_APPROVERS": "U_ONCALL"}
    code, opened = cli.json("handle", event_file(tmp_path,
                                                 load_event("guardduty_ec2_ssh_bruteforce")))
    assert (code, opened["outcome"]) == (0, "incident_opened")
    iid = opened["incident_id"]
    refused = cli("assess", iid, "--breach", "no", "--reason", "x", "--as", "U_X", env=env)
    assert refused.returncode == 3 and "not an approver" in refused.stderr
    code, out = cli.json("assess", iid, "--breach", "no", "--reason",
                         "blocked at the firewall, no login", "--as", "U_ONCALL", env=env)
    assert (code, out["breach_status"]) == (0, "not_a_breach")
    code, timeline = cli.json("timeline", iid)
    assert timeline["breach_status"] == "not_a_breach"
    assert timeline["entries"][-1]["kind"] == "assessed"
    unknown = cli("assess", "inc-none", "--breach", "yes", "--reason", "r", "--as", "U_ONCALL",
                  env=env)
    assert unknown.returncode == 3


def test_evidence_covers_every_watched_control_and_verifies_its_copy(
        cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "evidence.json"
    missing = cli("evidence", "--since", "2026-01-01")
    assert missing.returncode == 1 and "remediate bootstrap" in missing.stderr
    cli("bootstrap")
    proc = cli("evidence", "--since", "2026-01-01", "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    digest = proc.stderr.strip().splitlines()[-1].removeprefix("sha256 ")
    report = json.loads(out.read_text())
    by_control = {c["control"]: c for c in report["controls"]}
    watched = by_control["164.312(b)"]["coverage"]  # audit controls: watched, no incident
    assert {"cloudtrail-on", "logs-retention"} <= {w["policy"] for w in watched}
    assert all(w["mode"] and w["sources"] for w in watched)
    ok = cli("evidence", "--verify", str(out))
    assert ok.returncode == 0 and digest in ok.stdout
    out.write_text(out.read_text().replace("cloudtrail-on", "cloudtrail-off"))
    edited = cli("evidence", "--verify", str(out))
    assert edited.returncode == 1 and "not a report generated here" in edited.stderr
    assert cli("evidence").returncode == 2  # neither --since nor --verify


def test_evidence_snapshot_reads_the_watched_resources_now(cli: Cli, s3: Any,
                                                           tmp_path: Path) -> None:
    bucket = _bucket(tmp_path)
    s3.create_bucket(Bucket=bucket)
    cli("bootstrap")
    proc = cli("evidence", "--since", "2026-01-01", "--snapshot", "--format", "json",
               "--regions", "us-east-1")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["snapshot"]
    mine = [r for r in rows if r["resource"] == f"arn:aws:s3:::{bucket}"
            and r["policy"] == "s3-block-public-access"]
    assert len(mine) == 1 and mine[0]["compliant"] is False
    assert all(r["note"] is None or r["note"].startswith(("could not read", "not applicable"))
               for r in rows)
