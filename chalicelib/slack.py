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

from chalicelib.approval import carry_out, claim
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, Refused
from chalicelib.log import logger
from chalicelib.outcome import Outcome


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


def _payload(body: bytes) -> tuple[str, str, bool]:
    """(approval id, user id, approve?) from a block_actions form post; ValueError if not."""
    form = parse_qs(body.decode("utf-8"), strict_parsing=False)
    payload = json.loads(form["payload"][0])
    if payload.get("type") != "block_actions":
        raise ValueError(f"unsupported payload type {payload.get('type')!r}")
    action = payload["actions"][0]
    if action["action_id"] not in ("approve", "deny"):
        raise ValueError(f"unknown action {action['action_id']!r}")
    user = payload["user"]["id"]
    value = action["value"]
    if not isinstance(user, str) or not isinstance(value, str) or not user or not value:
        raise ValueError("missing user id or approval id")
    return value, user, action["action_id"] == "approve"


def dispatch(ctx: Context, approval_id: str) -> None:
    """Run the approved remediation after the response: worker Lambda, else a thread."""
    worker = os.environ.get("REMEDIATION_WORKER")
    if worker:
        from chalicelib.aws import translate

        with translate(f"invoking {worker}"):
            ctx.aws.home_client("lambda").invoke(
                FunctionName=worker, InvocationType="Event",
                Payload=json.dumps({"approval_id": approval_id}).encode())
        return
    threading.Thread(target=run_approved, args=(ctx, approval_id), daemon=False,
                     name=f"approval-{approval_id}").start()


def run_approved(ctx: Context, approval_id: str) -> dict[str, Any]:
    """The worker: finish one decided approval (logs instead of raising)."""
    try:
        return carry_out(ctx, approval_id).to_json()
    except AutoremediateError as exc:
        logger.error("approved remediation could not run",
                     extra={"approval_id": approval_id, "error": type(exc).__name__})
        return {"approval_id": approval_id, "outcome": "failed", "reason": str(exc)}


def handle_action(ctx: Context, body: bytes, headers: Mapping[str, str], *,
                  now: Callable[[], float] | None = None,
                  run: Callable[[Context, str], None] = dispatch) -> tuple[int, dict[str, Any]]:
    """The route's logic: (HTTP status, JSON body)."""
    if not signature_ok(ctx.settings.slack_signing_secret, body, headers, now=now):
        logger.warning("slack request rejected: bad or stale signature")
        return 401, {"error": "invalid or stale Slack signature"}
    try:
        approval_id, user, approve = _payload(body)
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as exc:
        return 400, {"error": f"not a block_actions payload: {exc}"}
    try:
        _, next_step = claim(ctx, approval_id, user, approve=approve)
    except Refused as exc:
        # only the clicking user sees this; it names ids and user ids, nothing from events
        return 200, {"response_type": "ephemeral", "replace_original": False,
                     "text": str(exc)}
    if next_step is Outcome.APPROVAL_REQUESTED:
        text = f"Approved by <@{user}>; another approver is needed."
    elif next_step is Outcome.REMEDIATED:
        text = f"Approved by <@{user}>: applying now. The outcome follows in this thread."
    else:
        text = f"Denied by <@{user}>; nothing was changed."
    if next_step is not Outcome.APPROVAL_REQUESTED:
        run(ctx, approval_id)  # Slack message (and the change) after we answer
    return 200, {"response_type": "ephemeral", "replace_original": False, "text": text}
