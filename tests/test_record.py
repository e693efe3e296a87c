"""State-table behaviour that the pipeline tests do not reach directly."""

from __future__ import annotations

import datetime as dt

from chalicelib.context import Context
from chalicelib.record import Incident, Status


def _incident(incident_id: str) -> Incident:
    return Incident(incident_id=incident_id, status=Status.OPEN, resource="arn:aws:s3:::b",
                    resource_type="AWS::S3::Bucket", resource_id="b", account="123456789012",
                    region="us-east-1", policy="p", remediation="r", controls=["164.312(b)"],
                    created_at=dt.datetime.now(dt.UTC))


def test_pointer_left_by_a_crashed_run_is_replaced(ctx: Context) -> None:
    store = ctx.store
    pk = store.pointer_key("123456789012", "arn:aws:s3:::b", "p")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    store._put({"pk": pk, "sk": "POINTER", "incident_id": "inc-lost", "at": old})
    incident, joined = store.open_or_join(_incident("inc-new"))
    assert (incident.incident_id, joined) == ("inc-new", False)
    assert store.incident("inc-new").status is Status.OPEN
    again, joined = store.open_or_join(_incident("inc-other"))
    assert (again.incident_id, joined) == ("inc-new", True)


def test_event_claim_is_released_for_a_retry_and_leases_expire(ctx: Context) -> None:
    store = ctx.store
    assert store.claim_event("e1") and not store.claim_event("e1")
    store.release_event("e1")
    assert store.claim_event("e1")
    later = Context(settings=ctx.settings, aws=ctx.aws,
                    clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16))
    assert later.store.claim_event("e1")  # the first run's lease ran out: a retry may take it
    store.finish_event("e1", [])
    assert not later.store.claim_event("e1")


def test_timeline_entries_come_back_in_order(ctx: Context) -> None:
    from chalicelib.record import EntryKind

    ctx.store.open_or_join(_incident("inc-1"))
    kinds = [EntryKind.DETECTED, EntryKind.PLANNED, EntryKind.APPLIED, EntryKind.VERIFIED]
    for kind in kinds:
        ctx.store.append("inc-1", kind, "t")
    assert [e.kind for e in ctx.store.entries("inc-1")] == kinds
