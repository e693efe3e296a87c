"""Slack interactivity: `POST /slack/actions` with a `block_actions` payload.

Order matters: the signature (HMAC over the exact raw body, with a timestamp no older than
5 minutes) is checked before anything else is read; then the decision is claimed with a
conditional write (so two clicks, two approvers or a replayed request make one decision);
then the route answers and the remediation runs asynchronously — in AWS an asynchronous
invocation of the worker Lambda (`REMEDIATION_WORKER`), under `chalice local` or tests a
thread in the same process.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from chalicelib.approval import carry_out, check_approver, claim, decide_held
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, ConfigurationError, Refused
from chalicelib.log import logger
from chalicelib.outcome import Outcome
from chalicelib.record import ApprovalState


def signature_ok(secret: str | None, body: bytes, headers: Mapping[str, str], *,
                 now: Callable[[], float] | None = None) -> bool:
    """Slack's v0 signature over the raw body, with a fresh timestamp (±5 minutes)."""
    if not secret:
        return False
    from slack_sdk.signature import Clock, SignatureVerifier

    clock = Clock()
    if now is not None:
        clock.now = now  # type: ignore[method-assign]
    try:
        return SignatureVerifier(secret, clock=clock).is_valid(
            body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature"))
    except ValueError:  # a timestamp that is not a number
        return False


ACTIONS = {"approve": (True, False), "deny": (False, False),
           "approve_held": (True, True), "deny_held": (False, True)}


def _payload(body: bytes) -> tuple[str, str, bool, bool]:
    """(approval or held-group id, user id, approve?, held group?) from a block_actions
    form post; ValueError if it is not one."""
    form = parse_qs(body.decode("utf-8"), strict_parsing=False)
    payload = json.loads(form["payload"][0])
    if payload.get("type") != "block_actions":
        raise ValueError(f"unsupported payload type {payload.get('type')!r}")
    action = payload["actions"][0]
    if action["action_id"] not in ACTIONS:
        raise ValueError(f"unknown action {action['action_id']!r}")
    user = payload["user"]["id"]
    value = action["value"]
    if not isinstance(user, str) or not isinstance(value, str) or not user or not value:
        raise ValueError("missing user id or approval id")
    approve, group = ACTIONS[action["action_id"]]
    return value, user, approve, group


class Job(BaseModel):
    """Work the route hands to the approval worker after it answered Slack: one decided
    approval to carry out, or every fix of a held group to decide as `user`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approval_id: str | None = None
    held_group: str | None = None
    user: str | None = None
    approve: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Job:
        if (self.approval_id is None) == (self.held_group is None):
            raise ValueError("a job names an approval_id or a held_group, not both")
        if self.held_group is not None and not self.user:
            raise ValueError("a held-group job names the deciding user")
        return self

    @property
    def ref(self) -> str:
        return str(self.approval_id or self.held_group)


def dispatch(ctx: Context, job: Job) -> None:
    """Run the decided work after the response: worker Lambda, else a thread."""
    worker = os.environ.get("REMEDIATION_WORKER")
    if worker:
        from chalicelib.aws import translate

        with translate(f"invoking {worker}"):
            ctx.aws.home_client("lambda").invoke(
                FunctionName=worker, InvocationType="Event",
                Payload=job.model_dump_json(exclude_defaults=True).encode())
        return
    threading.Thread(target=run_job, args=(ctx, job), daemon=False,
                     name=f"approval-{job.ref}").start()


def run_job(ctx: Context, job: Job | dict[str, Any]) -> dict[str, Any]:
    """The worker: finish one decided approval, or decide a held group (logs, never
    raises). `job` as `dispatch` sent it (the worker Lambda's event is its JSON)."""
    try:
        job = Job.model_validate(job)
    except ValidationError as exc:
        logger.error("approval worker job refused", extra={"reason": str(exc)})
        return {"outcome": Outcome.FAILED, "reason": f"not a worker job: {exc}"}
    ref = job.ref
    try:
        if job.held_group is not None:
            group = ctx.store.held_group(ref)
            results = decide_held(ctx, str(job.user), approve=job.approve,
                                  policy=str(group["policy"]), account=str(group["account"]),
                                  group_id=ref)
            return {"held_group": ref, "results": [r.to_json() for r in results]}
        return carry_out(ctx, ref).to_json()
    except AutoremediateError as exc:
        logger.error("approved remediation could not run",
                     extra={"approval_id": ref, "error": type(exc).__name__})
        return {"approval_id": ref, "outcome": Outcome.FAILED, "reason": str(exc)}


def handle_action(ctx: Context, body: bytes, headers: Mapping[str, str], *,
                  now: Callable[[], float] | None = None,
                  run: Callable[[Context, Job], None] = dispatch,
                  ) -> tuple[int, dict[str, Any]]:
    """The route's logic: (HTTP status, JSON body)."""
    try:
        secret = ctx.slack_signing_secret()
    except ConfigurationError as exc:  # not a forgery: we cannot check; nothing changes
        logger.error("slack signing secret unavailable", extra={"reason": str(exc)})
        return 503, {"error": "the signing secret cannot be read; nothing was changed"}
    if not signature_ok(secret, body, headers, now=now):
        logger.warning("slack request rejected: bad or stale signature")
        return 401, {"error": "invalid or stale Slack signature"}
    try:
        approval_id, user, approve, group = _payload(body)
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as exc:
        return 400, {"error": f"not a block_actions payload: {exc}"}
    if group:
        return _held_action(ctx, approval_id, user, approve=approve, run=run)
    try:
        _, state = claim(ctx, approval_id, user, approve=approve)
    except Refused as exc:
        return _ephemeral(str(exc))
    if state is ApprovalState.PENDING:
        text = f"Approved by <@{user}>; another approver is needed."
    elif state is ApprovalState.APPROVED:
        text = f"Approved by <@{user}>: applying now. The outcome follows in this thread."
    else:
        text = f"Denied by <@{user}>; nothing was changed."
    if state is not ApprovalState.PENDING:
        run(ctx, Job(approval_id=approval_id))  # Slack message (and change) after we answer
    return _ephemeral(text)


def _ephemeral(text: str) -> tuple[int, dict[str, Any]]:
    """A reply only the clicking user sees; it names ids and user ids, nothing from events."""
    return 200, {"response_type": "ephemeral", "replace_original": False, "text": text}


def _held_action(ctx: Context, group_id: str, user: str, *, approve: bool,
                 run: Callable[[Context, Job], None]) -> tuple[int, dict[str, Any]]:
    """"Approve all" / "Deny all": check the group and the approver now, answer, and let
    the worker decide each held fix through the single decision path (each once)."""
    try:
        group = ctx.store.held_group(group_id)
        check_approver(ctx, str(group["policy"]), user, what=f"held fixes {group_id}")
    except Refused as exc:
        return _ephemeral(str(exc))
    run(ctx, Job(held_group=group_id, user=user, approve=approve))
    verb = "Approving" if approve else "Denying"
    return _ephemeral(f"{verb} every held fix of {group['policy']} in {group['account']} as "
                      f"<@{user}>; each is re-checked first. The tally replaces this message.")
