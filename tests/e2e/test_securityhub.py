"""Security Hub (source and sink) and the IaC-fight brake through the `remediate`
executable against moto_server: one end-to-end test per feature. BatchUpdateFindings is
moto's plus tests/moto_ext.py (the server runs in this process)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli, aws_client, event_file
from tests.helpers import ALL_ON, cloudtrail_event, load_event, public_access_block


def _bucket(s3: Any, tmp_path: Path) -> str:
    name = f"phi-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _finding(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event["detail"]["findings"][0])


def _hub(moto_url: str) -> Any:
    hub = aws_client(moto_url, "securityhub")
    hub.enable_security_hub()
    return hub


def test_an_s3_8_finding_blocks_public_access_and_resolves_the_finding(
        cli: Cli, moto_url: str, s3: Any, tmp_path: Path) -> None:
    bucket = _bucket(s3, tmp_path)
    event = load_event("securityhub_s3_8_failed", bucket=bucket)
    asff = event["detail"]["findings"][0]
    asff["Id"] = asff["Id"].replace("3d1c0e8a", uuid.uuid4().hex[:8])
    hub = _hub(moto_url)
    hub.batch_import_findings(Findings=[asff])
    code, out = cli.json("handle", event_file(tmp_path, event))
    assert (code, out["outcome"], out["policy"]) == (0, "remediated",
                                                     "s3-block-public-access"), out
    assert public_access_block(s3, bucket) == ALL_ON
    stored = next(f for f in hub.get_findings()["Findings"] if f["Id"] == asff["Id"])
    assert stored["Workflow"]["Status"] == "RESOLVED"
    assert out["incident_id"] in stored["Note"]["Text"]


def test_the_native_and_the_imported_guardduty_finding_act_once(
        cli: Cli, moto_url: str, s3: Any, tmp_path: Path) -> None:
    bucket = _bucket(s3, tmp_path)
    finding_id = uuid.uuid4().hex
    native = load_event("guardduty_s3_block_public_access_disabled", bucket=bucket)
    imported = load_event("securityhub_guardduty_s3_block_public_access_disabled",
                          bucket=bucket)
    text = json.dumps([native, imported]).replace("c8c5ad1f0e3e4b7a9d2f6e1a3b5c7d9e",
                                                  finding_id)
    native, imported = json.loads(text)
    code, first = cli.json("handle", event_file(tmp_path, imported))
    assert (code, first["outcome"]) == (0, "remediated"), first
    s3.delete_public_access_block(Bucket=bucket)
    code, second = cli.json("handle", event_file(tmp_path, native))
    assert (code, second["outcome"], second["changes"]) == (0, "duplicate", []), second
    assert second["incident_id"] == first["incident_id"]
    code, timeline = cli.json("timeline", first["incident_id"])
    sources = [e["detail"]["source"] for e in timeline["entries"] if e["kind"] == "detected"]
    assert sources == ["securityhub", "guardduty"]
    assert timeline["breach_status"] == "assessment_pending"  # a GuardDuty finding


def test_a_bucket_reverted_four_times_by_one_role_is_held_the_fourth_time(
        cli: Cli, s3: Any, tmp_path: Path) -> None:
    bucket = _bucket(s3, tmp_path)
    outs = []
    for _ in range(4):
        s3.delete_public_access_block(Bucket=bucket)
        event = cloudtrail_event("DeleteBucketPublicAccessBlock", "s3", {"bucketName": bucket})
        outs.append(cli.json("handle", event_file(tmp_path, event))[1])
    assert [o["outcome"] for o in outs] == ["remediated"] * 3 + ["approval_requested"]
    assert outs[3]["reason"].startswith(
        "re-drifted 3 times in 24 h: a pipeline may own this resource")
    assert "arn:aws:iam::123456789012:role/developer" in outs[3]["reason"]
    code, timeline = cli.json("timeline", outs[3]["incident_id"])
    assert timeline["fighting"] is True
    assert timeline["fighting_principals"] == ["arn:aws:iam::123456789012:role/developer"]
    code, approved = cli.json("approve", outs[3]["approval_id"], "--as", "U_ONCALL",
                              env={"REMEDIATION_APPROVERS": "U_ONCALL"})
    assert (code, approved["outcome"]) == (0, "remediated"), approved
    assert public_access_block(s3, bucket) == ALL_ON
    code, report = cli.json("evidence", "--since", "2020-01-01", "--format", "json")
    assert bucket in {f["resource"].rsplit(":", 1)[-1] for f in report["fighting"]}
