"""Decide what to do with a matched finding: ignore our own changes, honour exemptions, and
pick dry-run, approval or automatic action; turn `auto` into approval when the resource
keeps being reverted (`fight`) or the account's hourly budget is spent (`over_budget`).
Every mode decision is made here; the pipeline only carries it out.

Example:
    >>> decide(policy, tags={"autoremediate:exempt": "true"}, dry_run=False).decision
    <Decision.EXEMPT: 'exempt'>
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from chalicelib import preflight as traffic
from chalicelib.finding import Finding
from chalicelib.policy import Mode, Policy

if TYPE_CHECKING:
    from chalicelib.record import Incident
    from remediations.base import Plan


class Decision(StrEnum):
    NOT_SELECTED = "not_selected"
    EXEMPT = "exempt"
    DRY_RUN = "dry_run"
    APPROVAL = "approval"
    AUTO = "auto"


@dataclass(frozen=True)
class Gate:
    """A decision and why. `held`: an automatic fix held for approval by the blast-radius
    limit; `fighting`: who keeps reverting the resource (the IaC-fight brake fired)."""

    decision: Decision
    reason: str
    held: bool = False
    fighting: tuple[str, ...] | None = None


_ASSUMED = re.compile(r"^arn:aws[\w-]*:sts::(\d{12}):assumed-role/([^/]+)/")
# users and roles; some STS implementations (moto) report an IAM user's identity as sts
_IAM = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):(role|user)/(?:.*/)?([^/]+)$")


def principal(arn: str) -> str:
    """A canonical name for a principal: an assumed-role session is its role.

    >>> principal("arn:aws:sts::111122223333:assumed-role/ops/alice")
    '111122223333:role/ops'
    """
    if m := _ASSUMED.match(arn):
        return f"{m.group(1)}:role/{m.group(2)}"
    if m := _IAM.match(arn):
        return f"{m.group(1)}:{m.group(2)}/{m.group(3)}"
    return arn


def is_ours(arns: Iterable[str], *, ours: Iterable[str], role_name: str) -> bool:
    """True when any of `arns` is us: our caller identity, any of REMEDIATION_SELF_ARNS, or
    our member-account role (`role_name`) in any account."""
    mine = {principal(a) for a in ours}
    return any(principal(a) in mine or principal(a).endswith(f":role/{role_name}")
               for a in arns)


# GuardDuty findings that report a change someone made (so ours are loop-protected); the
# others (credential use, reconnaissance) are incidents even, and above all, when the
# principal is ours
_CHANGE_FINDINGS = ("Policy:", "Stealth:")


def is_own_change(finding: Finding, *, ours: Iterable[str], role_name: str) -> bool:
    """True when the change in `finding` was made by us (see `is_ours`)."""
    if finding.product == "GuardDuty" and not finding.kind.startswith(_CHANGE_FINDINGS):
        return False
    actors = [a for a in (finding.actor, finding.actor_role) if a]
    return bool(actors) and is_ours(actors, ours=ours, role_name=role_name)


def decide(policy: Policy, tags: Mapping[str, str], *, dry_run: bool,
           account: str | None = None) -> Gate:
    """Not selected when the policy's `resource_tags` are not all on the resource; exempt
    when tagged (or the account is in the policy's `exempt_accounts`: account-level
    settings have no tags); else dry-run (global, CLI flag or policy), approval or auto."""
    if account is not None and account in policy.exempt_accounts:
        return Gate(Decision.EXEMPT, f"account {account} is exempt from policy {policy.name}")
    missing = {k: v for k, v in policy.resource_tags.items() if tags.get(k) != v}
    if missing:
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(missing.items()))
        return Gate(Decision.NOT_SELECTED, f"policy {policy.name} acts only on resources "
                                           f"tagged {wanted}")
    value = tags.get(policy.exempt_tag)
    if value is not None and value.strip().lower() == "true":
        return Gate(Decision.EXEMPT, f"resource tagged {policy.exempt_tag}=true")
    if dry_run:
        return Gate(Decision.DRY_RUN, "dry-run is on (DRY_RUN or --dry-run)")
    if policy.mode is Mode.DRY_RUN:
        return Gate(Decision.DRY_RUN, f"policy {policy.name} is in dry-run mode")
    if policy.mode is Mode.APPROVE:
        return Gate(Decision.APPROVAL, f"policy {policy.name} requires approval")
    return Gate(Decision.AUTO, f"policy {policy.name} remediates automatically")


def fight(policy: Policy, incident: Incident, finding: Finding, *,
          now: dt.datetime) -> Gate | None:
    """Approval instead of a fix when the resource was already fixed `fight_after` times
    within the policy's window: something else (IaC) keeps reverting it, and fixing it
    again would only feed the loop. None when there is no fight."""
    hours = policy.fight_window_hours
    recent = incident.fixes_since(now - dt.timedelta(hours=hours))
    if len(recent) < policy.fight_after:
        return None
    who = Counter(str(f["drifted_by"]) for f in recent if f.get("drifted_by"))
    if current := finding.actor_role or finding.actor:
        who[current] += 1
    principals = tuple(p for p, _ in who.most_common())
    reason = f"re-drifted {len(recent)} times in {hours:g} h: a pipeline may own this resource"
    if principals:
        reason += f" (reverted by {', '.join(principals[:3])})"
    reason += (f"; the fix waits for approval and applies once; tag the resource "
               f"{policy.exempt_tag}=true to leave it to its owner")
    return Gate(Decision.APPROVAL, reason, fighting=principals)


def over_budget(policy: Policy, account: str, limit: int) -> Gate:
    """The blast-radius limit: `limit` automatic changes were already made in `account`
    this hour, so this fix is held for approval (with its group's one-step approval)."""
    return Gate(Decision.APPROVAL, (
        f"blast radius: {limit} automatic changes were already made in account {account} "
        f"this hour; the fix is held for approval (approve all held fixes at once: "
        f"remediate approve --held --policy {policy.name} --account {account})"), held=True)


def preflight(policy: Policy, plan: Plan) -> Gate | None:
    """Approval instead of an automatic fix when the plan's pre-flight check found accepted
    flows it would cut on a port other than 22/3389 (world-open admin ports are cut
    regardless; the figures are in the notes) and the policy says `hold_if_traffic`.
    None when there is nothing to hold."""
    found = plan.saved.get(traffic.KEY)
    if policy.preflight is not traffic.Mode.HOLD or not found:
        return None
    checked = traffic.Traffic.model_validate(found)
    if not traffic.held_ports(checked):
        return None
    return Gate(Decision.APPROVAL, (
        f"{checked.figure(checked.held)}; the fix waits for approval (policy {policy.name}: "
        "preflight: hold_if_traffic)"))
