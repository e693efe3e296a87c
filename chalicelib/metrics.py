"""Metrics the way AWS operators read them: CloudWatch embedded metric format (EMF) lines
written by Powertools Metrics, which CloudWatch Logs turns into metrics (no API call, no
extra permission). Emitted by the Lambda entry points only, never by the CLI (EMF goes
to stdout, which is the CLI's JSON).

Namespace `autoremediate`:

- `Results` (Count), dimensions `Outcome`, `Remediation`, `Account`: one per result, so
  counts per outcome, per remediation and per account are sums over the others;
- `TimeToFix` (Milliseconds), dimension `Remediation`: from the event's time to the
  verified fix, for `remediated` results;
- `ApprovalsPending` (Count): how many approvals wait for a decision, each sweep (every
  15 minutes).

Dimension values are names and account ids, never resource names, tag values or event
text (no PHI leaves in a metric).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

NAMESPACE = "autoremediate"
SERVICE = "autoremediate"


def _emit(name: str, unit: str, value: float, dimensions: dict[str, str]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    # Powertools adds `service` (POWERTOOLS_SERVICE_NAME) to every metric: name it always,
    # so the dimension sets the dashboard searches are the same everywhere
    with single_metric(name=name, unit=MetricUnit[unit], value=value, namespace=NAMESPACE,
                       default_dimensions={**dimensions, "service": SERVICE}):
        pass


def record_results(event: dict[str, Any], results: Iterable[Any], *,
                   now: dt.datetime | None = None) -> None:
    """`Results` for every result of one event, and `TimeToFix` for each fix."""
    account = str(event.get("account") or "unknown")
    started = _parse_time(event.get("time"))
    now = now or dt.datetime.now(dt.UTC)
    for result in results:
        remediation = result.remediation or "none"
        _emit("Results", "Count", 1, {"Outcome": result.outcome.value,
                                      "Remediation": remediation, "Account": account})
        if result.outcome.value == "remediated" and started is not None:
            elapsed = max((now - started).total_seconds() * 1000, 0.0)
            _emit("TimeToFix", "Milliseconds", elapsed, {"Remediation": remediation})


def record_pending_approvals(count: int) -> None:
    _emit("ApprovalsPending", "Count", count, {})


def _parse_time(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)  # 3.11 reads EventBridge's "…Z"
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def dashboard() -> str:
    """The CloudWatch dashboard body (for `Fn::Sub`: `${AWS::Region}` is substituted)."""
    def search(expr: str, label: str, stat: str = "Sum") -> dict[str, Any]:
        return {"expression": f"SEARCH('{{{NAMESPACE},{expr}}} MetricName=\"{label}\"', "
                              f"'{stat}', 300)", "id": label.lower() + str(len(expr)),
                "label": ""}

    def widget(title: str, metrics: list[Any], x: int, y: int, view: str = "timeSeries",
               stacked: bool = True) -> dict[str, Any]:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": "${AWS::Region}", "view": view,
                               "stacked": stacked, "period": 300, "metrics": metrics}}

    body = {"widgets": [
        widget("Results by outcome, remediation and account",
               [[search("Account,Outcome,Remediation,service", "Results")]], 0, 0),
        widget("Time from event to verified fix (p50, p90)", [
            [search("Remediation,service", "TimeToFix", "p50")],
            [search("Remediation,service", "TimeToFix", "p90")]], 12, 0, stacked=False),
        widget("Approvals pending", [[NAMESPACE, "ApprovalsPending", "service", SERVICE,
                                      {"stat": "Maximum"}]], 0, 6, stacked=False),
        widget("Dead-letter queue and function errors", [
            [{"expression": "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Errors\" "
                            "autoremediate', 'Sum', 300)", "id": "errors", "label": ""}]],
            12, 6)]}
    return json.dumps(body)
