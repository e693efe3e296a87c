"""Tell people: Slack messages for approvals and outcomes, when Slack is configured.

Only identifiers go to Slack (ids, ARNs, account, region, HIPAA references, API operation
names) — never tag values, object keys, policy documents or other event text, which may
be PHI. A Slack failure never loses anything: it is logged and recorded in the timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.hipaa import describe
from chalicelib.log import logger
from chalicelib.record import EntryKind

if TYPE_CHECKING:
    from chalicelib.context import Context
    from chalicelib.outcome import Result
    from chalicelib.policy import Policy
    from remediations.base import Plan



def _client(ctx: Context) -> Any | None:
    s = ctx.settings
    if not (s.slack_bot_token and s.slack_channel):
        return None
    from slack_sdk import WebClient

    return WebClient(token=s.slack_bot_token, base_url=s.slack_api_url, timeout=5)


def _post(ctx: Context, incident_id: str | None, **message: Any) -> dict[str, Any] | None:
    client = _client(ctx)
    if client is None:
        return None
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        response = client.chat_postMessage(channel=ctx.settings.slack_channel, **message)
        return dict(response.data) if isinstance(response.data, dict) else None
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("slack post failed", extra={"incident_id": incident_id,
                                                   "error": type(exc).__name__})
        if incident_id:
            ctx.store.append(incident_id, EntryKind.FAILED, "autoremediate", {
                "stage": "notify", "reason": f"Slack post failed: {type(exc).__name__}",
                "note": "nothing else is affected; decide with the remediate CLI"})
        return None


def plan_lines(plan: Plan) -> list[str]:
    """The plan as Slack-safe text: operation names and the resource ARN, no documents."""
    return [f"{c.service}:{c.operation} on {plan.resource.display}" for c in plan.calls]


def approval_requested(ctx: Context, *, approval_id: str, policy: Policy, plan: Plan,
                       incident_id: str) -> None:
    controls = ", ".join(describe(c) for c in policy.hipaa)
    text = (f"Approval needed: {policy.remediation} on {plan.resource.display} "
            f"(account {plan.account}, {plan.region})")
    steps = "\n".join(f"• `{line}`" for line in plan_lines(plan)) or "• (no calls)"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Policy*\n{policy.name}"},
            {"type": "mrkdwn", "text": f"*Incident*\n{incident_id}"},
            {"type": "mrkdwn", "text": f"*HIPAA*\n{controls}"},
            {"type": "mrkdwn", "text": f"*Approval*\n{approval_id}"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Planned calls*\n{steps}"}},
        {"type": "actions", "block_id": f"approval:{approval_id}", "elements": [
            {"type": "button", "action_id": "approve", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}, "value": approval_id},
            {"type": "button", "action_id": "deny", "style": "danger",
             "text": {"type": "plain_text", "text": "Deny"}, "value": approval_id},
        ]},
    ]
    _post(ctx, incident_id, text=text, blocks=blocks)


def outcome(ctx: Context, result: Result) -> None:
    """Post what happened, for outcomes a human should see."""
    if result.outcome.value not in ("remediated", "failed", "incident_opened"):
        return
    calls = ", ".join(f"{c['service']}:{c['operation']}" for c in result.changes) or "none"
    text = (f"{result.outcome.value}: {result.remediation} on {result.resource} "
            f"(policy {result.policy}, incident {result.incident_id}; calls: {calls})")
    _post(ctx, result.incident_id, text=text)
