from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from chalicelib.iam import (
    BOOTSTRAP_ACTIONS,
    INVENTORY_ACTIONS,
    PLATFORM_ACTIONS,
    WRITEBACK_ACTIONS,
    remediation_actions,
)
from remediations.base import iam_action
from tests import moto_ext

moto_ext.install()
moto_ext.serialize_dynamodb()

# One botocore data loader per test process. Every mock_aws() resets boto3's default
# session, and every session builds a loader that parses the service models' JSON again
# (~0.1 s per client); the models are read-only data, so one cache serves every session.
# Speed only: what a test sees from AWS is unchanged.
botocore.session.create_loader = functools.cache(  # type: ignore[assignment]
    botocore.session.create_loader)

for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DRY_RUN", "REMEDIATION_KMS_KEY",
            "REMEDIATION_APPROVERS", "REMEDIATION_SELF_ARNS", "SLACK_BOT_TOKEN"):
    os.environ.pop(var, None)
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})


class CallLog:
    """Every AWS call made through a session, as IAM actions."""

    def __init__(self) -> None:
        self.actions: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.actions.append(iam_action(model.service_model.service_name, model.name))


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def kms_key(aws: None) -> str:
    import boto3

    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key(Description="phi")["KeyMetadata"]
    kms.create_alias(AliasName="alias/phi-data", TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def make_context(**settings: Any) -> tuple[Context, CallLog]:
    config = Settings(**settings)
    ctx = Context(settings=config, aws=Aws(role_name=config.role_name,
                                           account_id=config.account_id))  # as current()
    log = CallLog()
    ctx.aws.session().events.register("before-call", log)
    ctx.store.ensure_table()
    log.actions.clear()
    return ctx, log


@pytest.fixture
def ctx_log(aws: None, kms_key: str) -> Iterator[tuple[Context, CallLog]]:
    ctx, log = make_context(kms_key="alias/phi-data", approvers=("U_ONCALL",))
    yield ctx, log
    declared = set(PLATFORM_ACTIONS) | set(BOOTSTRAP_ACTIONS) | set(INVENTORY_ACTIONS)
    declared |= set(WRITEBACK_ACTIONS)
    for actions in remediation_actions().values():
        declared |= set(actions)
    undeclared = sorted(set(log.actions) - declared)
    assert not undeclared, f"AWS calls made but declared nowhere: {undeclared}"


@pytest.fixture
def ctx(ctx_log: tuple[Context, CallLog]) -> Context:
    return ctx_log[0]


@pytest.fixture
def s3(aws: None) -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture(scope="session")
def prod_artifact(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """`remediate package` for prod, built once per test run and shared by every module
    (and every xdist worker: a lock in their common temp directory) that reads it: each
    `chalice package` takes ~20 s of CPU. Returns the zip's path (sam.json beside it).
    Tests must not change what is there."""
    import fcntl

    from chalicelib.packaging import build

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # pytest-xdist: the workers' temp dirs share a parent
        root = root.parent
    out, done = root / "shared-dist" / "prod", root / "shared-dist.done"
    with open(root / "shared-dist.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            artifact = build(stage="prod", out=out)
            done.write_text(str(artifact))
    return Path(done.read_text())
