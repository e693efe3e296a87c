"""State-table behaviour that the pipeline tests do not reach directly."""

from __future__ import annotations

import datetime as dt
import json

import pytest

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


# -- a state table that refuses every call -------------------------------------------------
def _refuse_dynamodb(ctx: Context, code: str = "AccessDeniedException") -> None:
    """Make DynamoDB answer every request with `code`, as a real refusal looks on the wire."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: object) -> list[bytes]:
            return [body]

    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                       "message": "User is not authorized to perform this action"}).encode()

    def answer(**_: object) -> AWSResponse:
        return AWSResponse("https://dynamodb", 400, {"x-amzn-requestid": "r1"}, Raw())

    ctx.store.db.meta.events.register("before-send.dynamodb", answer)


def test_a_refusing_state_table_names_table_operation_and_code(ctx: Context,
                                                               s3: object) -> None:
    from chalicelib.errors import StateStoreError
    from chalicelib.pipeline import handle
    from tests.helpers import load_event, public_access_block

    s3.create_bucket(Bucket="phi-bucket")  # type: ignore[attr-defined]
    _refuse_dynamodb(ctx)
    with pytest.raises(StateStoreError) as caught:
        handle(load_event("cloudtrail_put_bucket_policy"), ctx)
    message = str(caught.value)
    assert message.startswith(f"state table {ctx.settings.table}: PutItem failed: "
                              "AccessDeniedException")
    assert public_access_block(s3, "phi-bucket") is None  # nothing changed in AWS


def test_the_lambda_entry_raises_so_eventbridge_retries(aws: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.entry import handle_event
    from chalicelib.errors import StateStoreError
    from tests.helpers import load_event

    monkeypatch.setenv("REMEDIATION_TABLE", "no-such-table")  # never bootstrapped
    with pytest.raises(StateStoreError, match="no-such-table: PutItem failed: "
                                              "ResourceNotFoundException"):
        handle_event(load_event("cloudtrail_put_bucket_policy"))


def test_lost_races_are_conflicts_not_store_failures(ctx: Context) -> None:
    from chalicelib.errors import StateConflict

    ctx.store.open_or_join(_incident("inc-1"))
    with pytest.raises(StateConflict):
        ctx.store._put({"pk": "INCIDENT#inc-1", "sk": "META"},
                       condition="attribute_not_exists(pk)")
