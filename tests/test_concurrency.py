"""Different events about one resource, at the same moment: one fix reaches AWS, one
incident per (resource, control). And storms beyond the blast-radius limit lose nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chalicelib.approval import decide_held, held
from chalicelib.context import Context
from chalicelib.outcome import Outcome, Result
from chalicelib.pipeline import handle
from chalicelib.record import Status
from tests.conftest import CallLog, make_context
from tests.helpers import ALL_ON, load_event, public_access_block

ENCRYPT = "s3:PutEncryptionConfiguration"  # what PutBucketEncryption is authorised by


def _in_threads(jobs: list[Callable[[], list[Result]]], width: int) -> list[Result]:
    """Run `jobs` `width` at a time, all released at once; every result, none lost."""
    results: list[Result] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(jobs)
    barrier = threading.Barrier(width)

    def worker() -> None:
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            try:
                got = job()
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
                errors.append(exc)
                continue
            with lock:
                results.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(width)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def _encryption_events(bucket: str, n: int) -> list[dict[str, Any]]:
    """n distinct events (fresh ids) about one bucket, CloudTrail and Config alternating."""
    names = ("cloudtrail_delete_bucket_encryption", "config_s3_encryption_noncompliant")
    return [load_event(names[i % 2], bucket=bucket) for i in range(n)]


@pytest.mark.parametrize("threads, events", [(8, 8), (4, 16)])
def test_racing_distinct_events_apply_one_fix(ctx_log: tuple[Context, CallLog], s3: Any,
                                              threads: int, events: int) -> None:
    ctx, log = ctx_log
    s3.create_bucket(Bucket="phi-bucket")
    log.actions.clear()
    results = _in_threads([lambda e=e: handle(e, ctx)
                           for e in _encryption_events("phi-bucket", events)], threads)
    assert len(results) == events
    assert log.actions.count(ENCRYPT) == 1
    assert sorted(r.outcome.value for r in results) == ["compliant"] * (events - 1) + [
        "remediated"]
    assert len({r.incident_id for r in results}) == 1
    incident = ctx.store.incident(str(results[0].incident_id))
    assert incident.status is Status.RESOLVED
    kinds = [e.kind.value for e in ctx.store.entries(incident.incident_id)]
    assert kinds.count("detected") == events and kinds.count("applied") == 1


def test_storm_over_many_buckets_fixes_each_once(ctx_log: tuple[Context, CallLog],
                                                 s3: Any) -> None:
    ctx, log = ctx_log
    buckets = [f"phi-storm-{n}" for n in range(10)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    log.actions.clear()
    jobs = [lambda e=e: handle(e, ctx) for b in buckets for e in _encryption_events(b, 4)]
    results = _in_threads(jobs, 8)
    assert log.actions.count(ENCRYPT) == len(buckets)
    by_bucket: dict[str, set[str]] = {}
    for r in results:
        by_bucket.setdefault(str(r.resource), set()).add(str(r.incident_id))
    assert all(len(ids) == 1 for ids in by_bucket.values()) and len(by_bucket) == 10


def test_a_run_that_died_holding_the_lease_frees_it_when_it_expires(ctx: Context,
                                                                    s3: Any) -> None:
    import datetime as dt

    s3.create_bucket(Bucket="phi-bucket")
    key = ctx.store.pointer_key("123456789012", "arn:aws:s3:::phi-bucket",
                                "s3-block-public-access")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat()
    ctx.store._put({"pk": key, "sk": "LEASE", "token": "dead", "lease_until": past})
    r = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    assert r.outcome is Outcome.REMEDIATED


def test_a_held_lease_makes_the_run_fail_for_a_retry_and_changes_nothing(
        ctx: Context, s3: Any) -> None:
    from chalicelib.errors import StateConflict

    s3.create_bucket(Bucket="phi-bucket")
    key = ctx.store.pointer_key("123456789012", "arn:aws:s3:::phi-bucket",
                                "s3-block-public-access")
    assert ctx.store.acquire_lease(key)  # another run is working on it
    ctx.store.lease_wait = 0.3
    event = load_event("cloudtrail_put_bucket_policy")
    with pytest.raises(StateConflict, match="another run"):
        handle(event, ctx)
    assert public_access_block(s3, "phi-bucket") is None
    assert ctx.store.claim_event(event["id"])  # released: EventBridge's retry may take it


# -- the blast-radius limit under a storm ---------------------------------------------------
def _limited(tmp_path: Path, limit: int) -> Context:
    ctx, _ = make_context(auto_limit_per_hour=limit, approvers=("U_ONCALL",),
                          kms_key="alias/phi-data")
    return ctx


def test_storm_beyond_the_limit_applies_or_holds_every_fix(aws: None, kms_key: str, s3: Any,
                                                           tmp_path: Path) -> None:
    ctx = _limited(tmp_path, 3)
    buckets = [f"phi-held-{n}" for n in range(12)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    events = [load_event(name, bucket=b) for b in buckets
              for name in ("cloudtrail_put_bucket_policy",
                           "guardduty_s3_anonymous_access_granted")]
    results = _in_threads([lambda e=e: handle(e, ctx) for e in events], 6)
    fixed = {b for b in buckets if public_access_block(s3, b) == ALL_ON}
    waiting = held(ctx, policy="s3-block-public-access", account="123456789012")
    held_arns = {a.resource for a in waiting}
    assert len(fixed) == 3
    # none lost: every other bucket has exactly one pending held approval
    assert held_arns == {f"arn:aws:s3:::{b}" for b in set(buckets) - fixed}
    assert len(waiting) == len(held_arns)
    assert all("blast radius" in str(r.reason) for r in results
               if r.outcome is Outcome.APPROVAL_REQUESTED)
    assert len({a.group_id for a in waiting}) == 1  # one group per account, policy, hour

    decided = decide_held(ctx, "U_ONCALL", approve=True, policy="s3-block-public-access",
                          account="123456789012")
    assert [r.outcome for r in decided] == [Outcome.REMEDIATED] * len(waiting)
    assert all(public_access_block(s3, b) == ALL_ON for b in buckets)
    for r in decided:  # each fix recorded on its own incident
        assert ctx.store.incident(str(r.incident_id)).status is Status.RESOLVED
    assert held(ctx, policy="s3-block-public-access", account="123456789012") == []


def test_held_fixes_are_refused_to_non_approvers_and_deny_changes_nothing(
        aws: None, kms_key: str, s3: Any, tmp_path: Path) -> None:
    from chalicelib.errors import NotFound, Refused

    ctx = _limited(tmp_path, 1)
    for n in range(3):
        s3.create_bucket(Bucket=f"phi-deny-{n}")
        handle(load_event("cloudtrail_put_bucket_policy", bucket=f"phi-deny-{n}"), ctx)
    with pytest.raises(Refused, match="not an approver"):
        decide_held(ctx, "U_MALLORY", approve=True, policy="s3-block-public-access",
                    account="123456789012")
    denied = decide_held(ctx, "U_ONCALL", approve=False, policy="s3-block-public-access",
                         account="123456789012")
    assert [r.outcome for r in denied] == [Outcome.DENIED] * 2
    assert [public_access_block(s3, f"phi-deny-{n}") for n in (1, 2)] == [None, None]
    with pytest.raises(NotFound, match="no held fixes"):
        decide_held(ctx, "U_ONCALL", approve=True, policy="s3-block-public-access",
                    account="123456789012")


def test_a_second_finding_joins_the_pending_approval(aws: None, kms_key: str, s3: Any,
                                                     tmp_path: Path) -> None:
    ctx = _limited(tmp_path, 1)
    s3.create_bucket(Bucket="phi-first")
    s3.create_bucket(Bucket="phi-bucket")
    handle(load_event("cloudtrail_put_bucket_policy", bucket="phi-first"), ctx)
    first = handle(load_event("cloudtrail_put_bucket_policy"), ctx)[0]
    second = handle(load_event("guardduty_s3_anonymous_access_granted"), ctx)[0]
    assert second.policy == first.policy == "s3-block-public-access"
    assert first.outcome is second.outcome is Outcome.APPROVAL_REQUESTED
    assert second.approval_id == first.approval_id and "already pending" in str(second.reason)
    assert len(ctx.store.pending_approvals()) == 1


def test_events_handled_side_by_side_log_their_own_ids(ctx: Context, s3: Any) -> None:
    import io
    import json
    import logging

    from chalicelib.log import logger

    buckets = [f"phi-log-{n}" for n in range(8)]
    events, bodies = {}, []
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
        event = load_event("cloudtrail_put_bucket_policy", bucket=bucket)
        events[event["id"]] = bucket
        bodies.append(event)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    level = logger.log_level
    logger.setLevel("INFO")  # other tests may have quietened it
    try:
        results = _in_threads([lambda e=e: handle(e, ctx) for e in bodies], 8)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert {r.event_id for r in results} == set(events)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    with_resource = [line for line in lines if "resource" in line]
    assert with_resource
    for line in with_resource:  # each line names its own event's bucket, never another's
        assert line["resource"] == f"arn:aws:s3:::{events[line['correlation_id']]}", line
