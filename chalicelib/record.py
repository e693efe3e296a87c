"""What the record stage writes: incidents and their timeline entries (the models).

The state table that keeps them is `chalicelib.store`: one item kind per module, and every
write that could race is conditional (an event is claimed once, one run at a time holds a
resource's lease, an incident pointer is created or replaced once, a timeline entry is
only ever added, an approval is decided once).
"""

from __future__ import annotations

import datetime as dt
import secrets
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.finding import Finding
from remediations.base import Plan

JOIN_WINDOW = dt.timedelta(hours=24)
BREACH_NOTICE = dt.timedelta(days=60)  # HIPAA Breach Notification Rule, 45 CFR 164.404(b)


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ROLLED_BACK = "rolled_back"


class EntryKind(StrEnum):
    DETECTED = "detected"
    PLANNED = "planned"
    DRY_RUN = "dry_run"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    DENIED = "denied"
    APPLIED = "applied"
    VERIFIED = "verified"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CLOSED = "closed"
    ASSESSED = "assessed"


class BreachStatus(StrEnum):
    """The breach risk assessment of an incident with a notification clock (164.402)."""

    PENDING = "assessment_pending"
    NOT_A_BREACH = "not_a_breach"
    NOTIFICATION_REQUIRED = "notification_required"


class TimelineEntry(BaseModel):
    at: dt.datetime
    kind: EntryKind
    actor: str = Field(description="who: autoremediate, a user id, or the event's principal")
    detail: dict[str, Any] = Field(default_factory=dict)
    seq: int = Field(default=0, description="its place in the incident's chain, from 1")
    prev: str = Field(default="", description="the previous entry's hash; '' for the first")
    hash: str = Field(default="", description=(
        "SHA-256 of the entry's canonical JSON without `hash` (`chain_hash`)"))


def canonical(fields: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (what `jq -cS` prints): the bytes that are hashed
    and signed."""
    import json

    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def chain_hash(incident_id: str, seq: int, at: str, kind: str, actor: str,
               detail: dict[str, Any], prev: str) -> str:
    """An entry's `hash`: its own fields (and its incident's id, so an entry cannot be
    moved to another incident), the stored `at` text, `prev`, never `hash` itself."""
    import hashlib

    return hashlib.sha256(canonical({
        "incident_id": incident_id, "seq": seq, "at": at, "kind": kind, "actor": actor,
        "detail": detail, "prev": prev})).hexdigest()


class Incident(BaseModel):
    incident_id: str
    status: Status
    resource: str = Field(description="ARN (or type/id) of the resource")
    resource_type: str
    resource_id: str
    account: str
    region: str
    policy: str
    remediation: str
    controls: list[str]
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None
    source: str = Field(default="", description="guardduty, config or cloudtrail")
    breach_assessment_started: dt.datetime | None = Field(default=None, description=(
        "when a possible breach was discovered (GuardDuty findings): the 60-day clock"))
    breach_notification_deadline: dt.datetime | None = Field(default=None, description=(
        "latest date to notify affected individuals if the assessment finds a breach"))
    breach_status: BreachStatus | None = Field(default=None, description=(
        "for incidents with a breach clock: assessment_pending until `remediate assess` "
        "records not_a_breach or notification_required"))
    breach_assessed_by: str | None = None
    breach_assessed_at: dt.datetime | None = None
    breach_assessment_reason: str | None = None
    drill: bool = Field(default=False, description=(
        "an incident-response drill: planned from shipped state, never a real incident"))
    fix: dict[str, Any] | None = Field(default=None, description=(
        "the last applied plan (before/after/calls): what rollback restores"))
    fixes: list[dict[str, Any]] = Field(default_factory=list, description=(
        "the latest verified fixes ({at, drifted_by}), newest last: how often it re-drifted"))
    fighting: bool = Field(default=False, description=(
        "re-drifted more often than the policy's fight_after within its window: something "
        "else (infrastructure-as-code) keeps reverting the fix, so fixes wait for approval"))
    fighting_principals: list[str] = Field(default_factory=list, description=(
        "who made the reverting changes, most frequent first"))
    approval_id: str | None = Field(default=None, description=(
        "the last approval requested for this incident; a later finding whose plan is the "
        "same joins it while it is pending instead of asking again"))

    @model_validator(mode="after")
    def _pending_with_a_clock(self) -> Incident:
        if self.breach_notification_deadline is not None and self.breach_status is None:
            self.breach_status = BreachStatus.PENDING
        return self

    def fixes_since(self, since: dt.datetime) -> list[dict[str, Any]]:
        return [f for f in self.fixes
                if dt.datetime.fromisoformat(str(f.get("at"))) >= since]

    @property
    def time_to_remediate(self) -> dt.timedelta | None:
        return self.resolved_at - self.created_at if self.resolved_at else None


class ApprovalState(StrEnum):
    """An approval moves from `pending` exactly once (a conditional write)."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class Approval(BaseModel):
    """A request for a human decision on one exact plan (`chalicelib.approval`)."""

    model_config = ConfigDict(extra="ignore")  # the store's own keys (pk, sk, kind)

    approval_id: str
    state: ApprovalState
    incident_id: str
    policy: str
    remediation: str
    resource: str = Field(description="ARN (or type/id) of the resource")
    account: str
    plan: Plan = Field(description="exactly what would be applied, and from which state")
    finding: Finding = Field(description="the finding that asked for it (re-planned from)")
    approvers: list[str] = Field(default_factory=list, description=(
        "who was asked (the allow-list is re-read when the decision is made)"))
    required: int = Field(default=1, description="approvals needed (two-person rule: 2)")
    created_at: dt.datetime
    expires_at: dt.datetime
    held: bool = Field(default=False, description=(
        "held by the blast-radius limit: one of its hour's group (`group_id`)"))
    group_id: str | None = None
    approved_by: list[str] = Field(default_factory=list, description=(
        "approvers so far, under a two-person rule"))
    decided_by: str | None = None
    decided_at: str | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None

    def expired(self, at: dt.datetime) -> bool:
        return at >= self.expires_at


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{now():%Y%m%d}-{secrets.token_hex(4)}"
