"""Security Hub as a sink: what we did goes back onto the Security Hub finding that told
us, so the Security Hub console stays the single pane (`BatchUpdateFindings`).

| outcome                                | Workflow.Status | Note                        |
|----------------------------------------|-----------------|-----------------------------|
| remediated, compliant                  | RESOLVED        | fixed / already compliant   |
| approval_requested, incident_opened    | NOTIFIED        | waiting for a human         |
| failed                                 | (unchanged)     | why it failed               |
| duplicate (its other copy acted)       | as that outcome | the same, naming its event  |

Nothing for dry runs (a dry run changes nothing, Security Hub included), drills, `exempt`
and `ignored`. The note names the incident, never event text or tag values. A write-back
that fails is logged and noted on the incident's timeline (`failed`, stage
`securityhub`); it never turns the remediation's own outcome into a failure. Its IAM
action is declared in `chalicelib.iam.WRITEBACK_ACTIONS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.errors import AutoremediateError
from chalicelib.finding import Source
from chalicelib.log import logger
from chalicelib.outcome import Outcome
from chalicelib.record import EntryKind
from chalicelib.sources.securityhub import WRITEBACK_BY

if TYPE_CHECKING:
    from chalicelib.context import Context
    from chalicelib.finding import Finding
    from chalicelib.outcome import Result

NOTE_LIMIT = 512  # BatchUpdateFindings' Note.Text maximum

_STATUS = {
    Outcome.REMEDIATED: ("RESOLVED", "fixed and verified by reading it back"),
    Outcome.COMPLIANT: ("RESOLVED", "already compliant when checked"),
    Outcome.APPROVAL_REQUESTED: ("NOTIFIED", "the fix is waiting for approval"),
    Outcome.INCIDENT_OPENED: ("NOTIFIED", "recorded for a human; nothing was changed"),
    Outcome.FAILED: (None, "the fix failed"),
}


def outcome(ctx: Context, finding: Finding, result: Result, *,
            acted: Outcome | None = None) -> None:
    """Write `result` back onto `finding` when the finding came from Security Hub; for a
    duplicate, `acted` is what its other copy's run did."""
    if finding.source is not Source.SECURITYHUB or not finding.source_ids:
        return
    shown = acted if result.outcome is Outcome.DUPLICATE else result.outcome
    if shown not in _STATUS:
        return
    status, said = _STATUS[shown]
    note = f"autoremediate: {said}"
    if result.incident_id:
        note += f"; incident {result.incident_id}"
    if result.remediation:
        note += f" ({result.remediation})"
    if result.approval_id:
        note += f"; approval {result.approval_id}"
    update(ctx, finding, status=status, note=note, incident_id=result.incident_id)


def update(ctx: Context, finding: Finding, *, status: str | None, note: str,
           incident_id: str | None) -> bool:
    """One BatchUpdateFindings call for `finding`; False (logged, and noted on the
    incident) when Security Hub did not take it."""
    from chalicelib.aws import translate

    asff = _asff(finding)
    ident = {"Id": finding.source_ids[0],
             "ProductArn": str(asff.get("ProductArn") or
                               f"arn:aws:securityhub:{finding.region}::product/aws/securityhub")}
    kwargs: dict[str, Any] = {"FindingIdentifiers": [ident],
                              "Note": {"Text": note[:NOTE_LIMIT], "UpdatedBy": WRITEBACK_BY}}
    if status:
        kwargs["Workflow"] = {"Status": status}
    try:
        client = ctx.aws.client("securityhub", account=finding.account, region=finding.region)
        with translate("BatchUpdateFindings"):
            got = client.batch_update_findings(**kwargs)
        unprocessed = got.get("UnprocessedFindings") or []
        error = (f"{unprocessed[0].get('ErrorCode')}: {unprocessed[0].get('ErrorMessage')}"
                 if unprocessed else None)
    except AutoremediateError as exc:  # AWS refused, or the member role could not be assumed
        error = exc.code or str(exc)
    if error is None:
        logger.info("security hub updated", extra={"workflow": status})
        return True
    logger.warning("security hub write-back failed", extra={"error": error})
    if incident_id:
        ctx.store.append(incident_id, EntryKind.FAILED, "autoremediate", {
            "stage": "securityhub", "reason": f"BatchUpdateFindings failed: {error}",
            "workflow": status, "note": "the remediation's outcome stands; only the "
                                        "Security Hub finding was not updated"})
    return False


def _asff(finding: Finding) -> dict[str, Any]:
    found = finding.raw.get("detail", {}).get("findings") or [{}]
    return found[0] if isinstance(found[0], dict) else {}

