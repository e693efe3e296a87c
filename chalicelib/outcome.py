"""The closed set of outcomes (the CLI contract's strings) and the result object."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Outcome(StrEnum):
    REMEDIATED = "remediated"
    DRY_RUN = "dry_run"
    APPROVAL_REQUESTED = "approval_requested"
    INCIDENT_OPENED = "incident_opened"
    COMPLIANT = "compliant"
    EXEMPT = "exempt"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    DENIED = "denied"  # `remediate approve|deny`
    ROLLED_BACK = "rolled_back"  # `remediate rollback`


class Result(BaseModel):
    """What happened to one event under one policy: printed by `remediate handle`."""

    event_id: str
    outcome: Outcome
    policy: str | None = None
    remediation: str | None = None
    resource: str | None = Field(default=None, description="ARN (or type/id)")
    incident_id: str | None = None
    approval_id: str | None = None
    changes: list[dict[str, Any]] = Field(default_factory=list, description=(
        "API calls made (or, for dry_run and approval_requested, that would be made)"))
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def report(event_id: str, results: list[Result]) -> dict[str, Any]:
    """One JSON object for one event: the first result, plus `results` when several."""
    if not results:
        raise ValueError("report needs at least one result")
    out = results[0].to_json()
    if len(results) > 1:
        out["results"] = [r.to_json() for r in results]
    return out
