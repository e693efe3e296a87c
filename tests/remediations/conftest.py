from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.finding import Resource
from remediations import load
from remediations.base import Remediation, Target
from tests.conftest import CallLog


@pytest.fixture
def build(aws: None) -> Iterator[Any]:
    """build(name, bucket | resource=…, **params) -> a remediation whose every AWS call is checked
    against the permissions that remediation declares (and nothing else)."""
    made: list[tuple[type[Remediation], CallLog]] = []

    def _build(name: str, bucket: str = "", *, resource: Resource | None = None,
               env_key: str | None = None, region: str = "us-east-1",
               **params: Any) -> Remediation:
        cls = load()[name]
        session = boto3.session.Session(region_name=region)
        log = CallLog()
        session.events.register("before-call", log)
        made.append((cls, log))
        target = Target(resource=resource or Resource(type="AWS::S3::Bucket", id=bucket,
                                                      arn=f"arn:aws:s3:::{bucket}"),
                        account="123456789012", region=region,
                        clients=lambda service: session.client(service),
                        params=cls.Params.model_validate(params), kms_key=env_key,
                        clients_in=lambda other: lambda service: session.client(
                            service, region_name=other))
        return cls(target)

    yield _build
    for cls, log in made:
        undeclared = sorted(set(log.actions) - set(cls.permissions))
        assert not undeclared, f"{cls.name} called {undeclared} without declaring them"
