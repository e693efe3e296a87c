"""s3_account_block_public_access against moto (s3control): all four account flags on,
read back; rollback restores the flags or deletes the block."""

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
from tests.helpers import ACCOUNT, ALL_ON, cloudtrail_event, config_event


@pytest.fixture
def s3control(aws: None) -> Any:
    return boto3.client("s3control", region_name="us-east-1")


def _flags(s3control: Any) -> dict[str, bool] | None:
    try:
        return dict(s3control.get_public_access_block(AccountId=ACCOUNT)[
            "PublicAccessBlockConfiguration"])
    except s3control.exceptions.NoSuchPublicAccessBlockConfiguration:
        return None


WEAK = {**ALL_ON, "RestrictPublicBuckets": False}


def test_a_weakened_account_block_is_restored_and_rolled_back(ctx: Context,
                                                              s3control: Any) -> None:
    s3control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=WEAK)
    event = cloudtrail_event("PutAccountPublicAccessBlock", "s3", {
        "PublicAccessBlockConfiguration": WEAK})
    r = handle(event, ctx)[0]
    assert (r.outcome, r.resource) == (Outcome.REMEDIATED,
                                       f"AWS::::Account/{ACCOUNT}/us-east-1")
    assert _flags(s3control) == ALL_ON
    rollback(ctx, str(r.incident_id), actor="test")
    assert _flags(s3control) == WEAK


def test_a_deleted_block_comes_back_and_config_joins(ctx: Context, s3control: Any) -> None:
    first = handle(cloudtrail_event("DeleteAccountPublicAccessBlock", "s3", {}), ctx)[0]
    assert first.outcome is Outcome.REMEDIATED and _flags(s3control) == ALL_ON
    second = handle(config_event("s3-account-level-public-access-blocks-periodic",
                                 "AWS::::Account", ACCOUNT), ctx)[0]
    assert second.outcome is Outcome.COMPLIANT and second.incident_id == first.incident_id
    rollback(ctx, str(first.incident_id), actor="test")
    assert _flags(s3control) is None


def test_an_all_on_put_triggers_nothing(ctx: Context) -> None:
    event = cloudtrail_event("PutAccountPublicAccessBlock", "s3",
                             {"PublicAccessBlockConfiguration": ALL_ON})
    assert handle(event, ctx)[0].outcome is Outcome.IGNORED


def test_an_exempt_account_is_left_alone(aws: None, s3control: Any, tmp_path: Path) -> None:
    text = (Path("policies") / "12-s3-account-public-access.yaml").read_text().replace(
        "    mode: auto\n", f"    mode: auto\n    exempt_accounts: ['{ACCOUNT}']\n")
    (tmp_path / "p.yaml").write_text(text)
    ctx, _ = make_context(policy_dir=tmp_path)
    (r,) = handle(cloudtrail_event("DeleteAccountPublicAccessBlock", "s3", {}), ctx)
    assert r.outcome is Outcome.EXEMPT and _flags(s3control) is None
