"""Tell people: Slack messages for approvals and outcomes, when Slack is configured.

Only identifiers go to Slack (ids, ARNs, account, region, HIPAA references, API operation
names) — never tag values, object keys, policy documents or other event text, which may
be PHI: Slack is a third party that may hold no Business Associate Agreement. A Slack
failure never loses anything: it is logged and recorded in the timeline, and the approval
stays decidable from the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.errors import ConfigurationError
from chalicelib.hipaa import describe
from chalicelib.log import logger
from chalicelib.record import Approval, EntryKind

if TYPE_CHECKING:
    from chalicelib.context import Context
    from chalicelib.outcome import Result
    from chalicelib.policy import Policy
    from remediations.base import Plan


def _configured(ctx: Context) -> bool:
    s = ctx.settings
    return bool(s.slack_channel and (s.slack_bot_token or s.slack_bot_token_from))


def _call(ctx: Context, incident_id: str | None, method: str,
          **message: Any) -> dict[str, Any] | None:
    """One Slack Web API call; None (and a recorded failure) when it did not work.
    slack_sdk is imported only when Slack is configured (it is not on a cold start's
    path otherwise)."""
    if not _configured(ctx):
        return None
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        client = WebClient(token=ctx.slack_bot_token(), base_url=ctx.settings.slack_api_url,
                           timeout=5)
        response = getattr(client, method)(**message)
        return dict(response.data) if isinstance(response.data, dict) else {}
    except (SlackApiError, SlackClientError, OSError, ConfigurationError) as exc:
        # ConfigurationError: the token's secret could not be read (its source is named)
        code = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        logger.warning("slack call failed", extra={"incident_id": incident_id,
                                                   "method": method, "slack_error": code,
                                                   "error": type(exc).__name__})
        if incident_id:
            ctx.store.append(incident_id, EntryKind.FAILED, "autoremediate", {
                "stage": "notify", "reason": f"Slack {method} failed: "
                f"{code or type(exc).__name__}",
                "note": "nothing else is affected; the remediate CLI can still decide"})
        return None


def plan_lines(plan: Plan) -> list[str]:
    """The plan as Slack-safe text: operation names and the resource ARN, no documents."""
    return [f"{c.service}:{c.operation} on {plan.resource.display}" for c in plan.calls]


def approval_blocks(*, approval_id: str, policy: Policy, plan: Plan, incident_id: str,
                    detected: str, expires_at: str,
                    reason: str = "") -> list[dict[str, Any]]:
    """The Block Kit message approvers see (also documented in docs/slack.md). `reason`
    is ours (policy names, counts, principal ARNs), never event text."""
    controls = "\n".join(describe(c) for c in policy.hipaa)
    steps = "\n".join(f"• `{line}`" for line in plan_lines(plan)) or "• (no calls)"
    required = policy.approvals_required
    return [
        {"type": "header", "text": {"type": "plain_text",
                                    "text": f"Approval needed: {policy.remediation}"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Resource*\n`{plan.resource.display}`"},
            {"type": "mrkdwn", "text": f"*Account / region*\n{plan.account} / {plan.region}"},
            {"type": "mrkdwn", "text": f"*Detected*\n{detected}"},
            {"type": "mrkdwn", "text": f"*Policy*\n{policy.name} ({policy.severity})"},
            {"type": "mrkdwn", "text": f"*HIPAA*\n{controls}"},
            {"type": "mrkdwn", "text": f"*Incident*\n{incident_id}"},
        ]},
        *([{"type": "section", "text": {"type": "mrkdwn", "text": f"*Why*\n{reason}"}}]
          if reason else []),
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Planned calls*\n{steps}"}},
        *([{"type": "section", "text": {"type": "mrkdwn", "text": "*Before you approve*\n"
            + "\n".join(f"• {note}" for note in plan.notes)}}] if plan.notes else []),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"Approval {approval_id} · expires {expires_at} · "
            f"{required} approver{'s' if required > 1 else ''} needed · the resource is "
            "re-checked before anything changes")}]},
        {"type": "actions", "block_id": f"approval:{approval_id}", "elements": [
            {"type": "button", "action_id": "approve", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}, "value": approval_id},
            {"type": "button", "action_id": "deny", "style": "danger",
             "text": {"type": "plain_text", "text": "Deny"}, "value": approval_id},
        ]},
    ]


def approval_requested(ctx: Context, *, approval_id: str, policy: Policy, plan: Plan,
                       incident_id: str, detected: str, expires_at: str,
                       reason: str = "") -> tuple[str, str] | None:
    """Post the approval request; returns (channel, ts) of the message when posted."""
    text = (f"Approval needed: {policy.remediation} on {plan.resource.display} "
            f"(account {plan.account}, {plan.region}, approval {approval_id})")
    posted = _call(ctx, incident_id, "chat_postMessage", channel=ctx.settings.slack_channel,
                   text=text, blocks=approval_blocks(
                       approval_id=approval_id, policy=policy, plan=plan,
                       incident_id=incident_id, detected=detected, expires_at=expires_at,
                       reason=reason))
    if posted and posted.get("ts"):
        return str(posted.get("channel") or ctx.settings.slack_channel), str(posted["ts"])
    return None


def held_blocks(*, group_id: str, policy: Policy, account: str,
                count: int) -> list[dict[str, Any]]:
    """One message for every fix the blast-radius limit holds for (account, policy, hour)."""
    hour = group_id.rsplit("#", 1)[-1]
    controls = "\n".join(describe(c) for c in policy.hipaa)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": (
            f"{count} fix{'es' if count != 1 else ''} held: {policy.remediation}")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "The automatic-change limit for this account was reached this hour "
            "(REMEDIATION_AUTO_LIMIT), so further fixes wait for a human.")}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Account*\n{account}"},
            {"type": "mrkdwn", "text": f"*Policy*\n{policy.name} ({policy.severity})"},
            {"type": "mrkdwn", "text": f"*Hour (UTC)*\n{hour}"},
            {"type": "mrkdwn", "text": f"*HIPAA*\n{controls}"},
        ]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            "Each fix is re-checked before it acts and recorded on its own incident · "
            f"list them: `remediate approvals` · CLI: `remediate approve --held --policy "
            f"{policy.name} --account {account} --as YOU`")}]},
        {"type": "actions", "block_id": f"held:{group_id}", "elements": [
            {"type": "button", "action_id": "approve_held", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve all"}, "value": group_id},
            {"type": "button", "action_id": "deny_held", "style": "danger",
             "text": {"type": "plain_text", "text": "Deny all"}, "value": group_id},
        ]},
    ]


def held_fixes(ctx: Context, group: dict[str, Any], *, policy: Policy,
               incident_id: str) -> None:
    """Post the group's message for its first held fix; refresh its count now and then
    (every fix up to 5, then every 10th: Slack rate-limits chat.update)."""
    count = int(group.get("held", 1))
    blocks = held_blocks(group_id=group["group_id"], policy=policy,
                         account=str(group["account"]), count=count)
    text = f"{count} fixes held for approval: {policy.remediation} in {group['account']}"
    if count == 1:
        posted = _call(ctx, incident_id, "chat_postMessage",
                       channel=ctx.settings.slack_channel, text=text, blocks=blocks)
        if posted and posted.get("ts"):
            ctx.store.set_group_fields(
                group["group_id"], slack_channel=str(posted.get("channel")
                                                     or ctx.settings.slack_channel),
                slack_ts=str(posted["ts"]))
    elif group.get("slack_ts") and (count <= 5 or count % 10 == 0):
        _call(ctx, incident_id, "chat_update", channel=group["slack_channel"],
              ts=group["slack_ts"], text=text, blocks=blocks)


def held_closed(ctx: Context, group_id: str, *, headline: str) -> None:
    """Replace the group's buttons with who decided and the tally of outcomes."""
    group = ctx.store.held_group(group_id)
    if group.get("slack_channel") and group.get("slack_ts"):
        _call(ctx, None, "chat_update", channel=group["slack_channel"], ts=group["slack_ts"],
              text=headline, blocks=[
                  {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
                  {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                      f"{group.get('policy')} in {group.get('account')} · each fix is on "
                      "its own incident timeline")}]}])


def approval_closed(ctx: Context, approval: Approval, *, headline: str,
                    thread_text: str | None = None) -> None:
    """Replace the buttons with who decided and what happened; details go to the thread."""
    channel, ts = approval.slack_channel, approval.slack_ts
    if not (channel and ts):
        return
    incident_id = approval.incident_id
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{approval.remediation} on `{approval.resource}` · "
            f"approval {approval.approval_id} · incident {incident_id}")}]},
    ]
    _call(ctx, incident_id, "chat_update", channel=channel, ts=ts, text=headline,
          blocks=blocks)
    if thread_text:
        _call(ctx, incident_id, "chat_postMessage", channel=channel, thread_ts=ts,
              text=thread_text)


def outcome(ctx: Context, result: Result, *, breach_clock: bool = False) -> None:
    """Post what happened, for outcomes a human should see. An incident with a breach
    clock (GuardDuty) also gets the hint to record its breach risk assessment."""
    shown = ("remediated", "failed", "incident_opened")
    if result.outcome.value not in shown and not (breach_clock and result.incident_id):
        return
    calls = ", ".join(f"{c['service']}:{c['operation']}" for c in result.changes) or "none"
    text = (f"{result.outcome.value}: {result.remediation} on {result.resource} "
            f"(policy {result.policy}, incident {result.incident_id}; calls: {calls})")
    if breach_clock and result.incident_id:
        text += (f"\nAssess: possible breach, 60-day clock running. `remediate assess "
                 f"{result.incident_id} --breach yes|no --reason TEXT --as YOU`")
    _call(ctx, result.incident_id, "chat_postMessage", channel=ctx.settings.slack_channel,
          text=text)
