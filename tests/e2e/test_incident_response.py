"""Incident response through the `remediate` executable against moto_server: a credential
finding contained after approval and rolled back; a drill that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Cli, aws_client, event_file
from tests.helpers import load_event


def test_a_stolen_key_is_deactivated_after_approval_and_rolled_back(
        cli: Cli, moto_url: str, tmp_path: Path) -> None:
    iam = aws_client(moto_url, "iam")
    user = f"bot-{tmp_path.name}"[:60].replace("_", "-")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    event = load_event("guardduty_credential_exfiltration")
    event["detail"]["resource"]["accessKeyDetails"].update(
        userName=user, userType="IAMUser", accessKeyId=key)
    env = {"REMEDIATION_APPROVERS": "U_ONCALL"}
    code, out = cli.json("handle", event_file(tmp_path, event), env=env)
    assert (code, out["outcome"], out["policy"]) == (0, "approval_requested",
                                                     "contain-user-key")
    code, done = cli.json("approve", out["approval_id"], "--as", "U_ONCALL", env=env)
    assert (code, done["outcome"]) == (0, "remediated")

    def status() -> str:
        return str(iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"])

    assert status() == "Inactive"
    code, _ = cli.json("rollback", out["incident_id"])
    assert code == 0 and status() == "Active"


def test_a_drill_exercises_every_scenario_and_changes_nothing(cli: Cli, moto_url: str) -> None:
    s3 = aws_client(moto_url, "s3")
    buckets_before = s3.list_buckets()["Buckets"]
    code, report = cli.json("drill")
    assert code == 0 and report["ok"] and len(report["scenarios"]) >= 5
    assert s3.list_buckets()["Buckets"] == buckets_before
    code, real = cli.json("incidents", "--format", "json")
    assert code == 0 and not {s["incident_id"] for s in report["scenarios"]} & {
        i["incident_id"] for i in real}
    code, drills = cli.json("incidents", "--drills", "--format", "json")
    assert {s["incident_id"] for s in report["scenarios"]} <= {i["incident_id"] for i in drills}
    md = cli("drill", "--scenario", "audit-trail-stopped", "--format", "md")
    assert md.returncode == 0 and "audit-trail-stopped" in md.stdout
    assert cli("drill", "--scenario", "nope").returncode == 3
    code, evidence = cli.json("evidence", "--since", "2020-01-01", "--format", "json")
    assert report["drill_id"] in json.dumps(evidence["drills"])
