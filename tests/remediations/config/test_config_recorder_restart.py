"""config_recorder_restart against moto: the recorder's status read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.outcome import Outcome
from chalicelib.pipeline import handle
from chalicelib.rollback import rollback
from tests.conftest import make_context
from tests.helpers import ACCOUNT, cloudtrail_event


@pytest.fixture
def config(aws: None) -> Any:
    client = boto3.client("config", region_name="us-east-1")
    client.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config"})
    client.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "cfg"})
    return client


def _recording(config: Any) -> bool:
    return bool(config.describe_configuration_recorder_status(
        ConfigurationRecorderNames=["default"])["ConfigurationRecordersStatus"][0]["recording"])


def _stopped() -> dict[str, Any]:
    return cloudtrail_event("StopConfigurationRecorder", "config",
                            {"configurationRecorderName": "default"})


def test_a_stopped_recorder_is_started_and_rolled_back(ctx: Context, config: Any) -> None:
    r = handle(_stopped(), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED
    assert r.resource == f"arn:aws:config:us-east-1:{ACCOUNT}:configuration-recorder/default"
    assert _recording(config) is True
    rollback(ctx, str(r.incident_id), actor="test")
    assert _recording(config) is False


def test_an_exempt_account_is_left_alone(aws: None, config: Any, tmp_path: Path) -> None:
    text = (Path("policies") / "52-monitoring.yaml").read_text().replace(
        "    mode: auto\n", f"    mode: auto\n    exempt_accounts: ['{ACCOUNT}']\n", 1)
    (tmp_path / "p.yaml").write_text(text)
    ctx, _ = make_context(policy_dir=tmp_path)
    (r,) = handle(_stopped(), ctx)
    assert r.outcome is Outcome.EXEMPT and f"account {ACCOUNT} is exempt" in str(r.reason)
    assert _recording(config) is False


def test_a_missing_recorder_fails_with_the_reason(ctx: Context) -> None:
    r = handle(_stopped(), ctx)[0]
    assert r.outcome is Outcome.FAILED and "default" in str(r.reason)
