from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.errors import VerifyFailed
from chalicelib.finding import Resource
from remediations import load
from remediations.base import Plan, Remediation, Target
from tests.conftest import CallLog

# remediation name -> sabotaged applies its verify caught, in this worker's tests
_SABOTAGE_CAUGHT: dict[str, int] = {}


@pytest.fixture(autouse=True)
def sabotaged_apply_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every apply in these tests is first sabotaged: it stops before its last call, and
    `verify` (reading AWS back) must report the difference; then the last call is made and
    the test goes on as written. So each remediation's read-back is proven to see a change
    that did not (fully) happen, in every scenario its tests drive."""
    real = Remediation.apply

    def sabotaged(self: Remediation, plan: Plan) -> None:
        if not plan.calls:
            return real(self, plan)
        *first, last = plan.calls
        real(self, plan.model_copy(update={"calls": first}))
        with pytest.raises(VerifyFailed):
            self.verify(plan)
        _SABOTAGE_CAUGHT[self.name] = _SABOTAGE_CAUGHT.get(self.name, 0) + 1
        return real(self, plan.model_copy(update={"calls": [last]}))

    monkeypatch.setattr(Remediation, "apply", sabotaged)


@pytest.fixture(autouse=True, scope="module")
def every_remediation_is_sabotaged_once(request: pytest.FixtureRequest) -> Iterator[None]:
    """A remediation's test module applies it at least once, so the sabotage above ran."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    before = _SABOTAGE_CAUGHT.get(name, 0)
    yield
    cls = load().get(name)
    if cls is not None and not cls.record_only:
        assert _SABOTAGE_CAUGHT.get(name, 0) > before, (
            f"no test in {request.module.__name__} applied {name}: its read-back is unproven")


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
                        params=cls.Params.for_run(params, Settings(kms_key=env_key)),
                        clients_in=lambda other: lambda service: session.client(
                            service, region_name=other))
        return cls(target)

    yield _build
    for cls, log in made:
        undeclared = sorted(set(log.actions) - set(cls.permissions))
        assert not undeclared, f"{cls.name} called {undeclared} without declaring them"
