from __future__ import annotations

from typing import Any


def test_records_only_and_makes_no_aws_call(build: Any) -> None:
    rem = build("open_incident", "anything")
    plan = rem.plan()
    assert plan.record_only and plan.is_noop and plan.calls == []
    rem.apply(plan)
    assert rem.verify(plan) == {}
