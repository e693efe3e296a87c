from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.emulator import FAKE_ENV, free_port

ROOT = Path(__file__).resolve().parents[2]


def aws_client(moto_url: str, service: str, region: str = "us-east-1") -> Any:
    """A boto3 client on the emulator, for setting up and reading back AWS state."""
    return boto3.client(service, endpoint_url=moto_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def cli_env(moto_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for the CLI: the emulator, a fresh table per test, a KMS key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REMEDIATION_"))}
    env.update(FAKE_ENV)
    env["AWS_ENDPOINT_URL"] = moto_url
    env["REMEDIATION_TABLE"] = f"t-{tmp_path.name}"[:200]
    kms = aws_client(moto_url, "kms")
    alias = f"alias/e2e-{tmp_path.name}"[:250]
    kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    env["REMEDIATION_KMS_KEY"] = alias
    return env


@pytest.fixture
def s3(moto_url: str) -> Any:
    return aws_client(moto_url, "s3")


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, stdin: str | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).parent / "remediate"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "chalicelib.cli"]
        return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, cwd=ROOT, timeout=120)

    def json(self, *args: str, **kw: Any) -> tuple[int, Any]:
        proc = self(*args, **kw)
        try:
            return proc.returncode, json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON: {proc.stdout!r} {proc.stderr!r}") from None


def event_file(tmp_path: Path, event: dict[str, Any]) -> str:
    """Write `event` where `remediate handle` can read it; returns the path."""
    path = tmp_path / f"{event['id']}.json"
    path.write_text(json.dumps(event))
    return str(path)


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    return Cli(cli_env)
