"""autoremediate on AWS Lambda: Chalice triggers and routes only; each calls the pipeline.

The EventBridge patterns are rendered from the policies (chalicelib/event_patterns.json,
checked fresh by the tests); the pipeline is imported on first use to keep cold start short.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalice import Chalice, IAMAuthorizer, Rate, Response
from chalice.app import CloudWatchEvent

app = Chalice(app_name="autoremediate")

_Handler = Callable[[CloudWatchEvent], dict[str, Any]]
_PATTERNS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "chalicelib" / "event_patterns.json").read_text())


def _pipeline(event: CloudWatchEvent) -> dict[str, Any]:
    from chalicelib.entry import handle_event

    return handle_event(event.to_dict())


def _on(source: str, name: str) -> Callable[[_Handler], _Handler]:
    """The EventBridge trigger of a source's handler; a source no policy names has no
    pattern, so its handler gets no rule (and the app still imports)."""
    pattern = _PATTERNS.get(source)
    if pattern is None:
        return lambda handler: handler
    return app.on_cw_event(pattern, name=name)


@_on("guardduty", "guardduty_findings")
def guardduty_findings(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@_on("config", "config_compliance")
def config_compliance(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@_on("cloudtrail", "cloudtrail_calls")
def cloudtrail_calls(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@_on("cloudwatch", "cloudwatch_alarms")
def cloudwatch_alarms(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@_on("securityhub", "securityhub_findings")
def securityhub_findings(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@app.route("/slack/actions", methods=["POST"],
           content_types=["application/x-www-form-urlencoded"])
def slack_actions() -> Response:
    from chalicelib.context import current
    from chalicelib.slack import handle_action

    request = app.current_request
    status, body = handle_action(current(), request.raw_body, request.headers)
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "application/json"})


@app.route("/incidents/{incident_id}/timeline", methods=["GET"],
           authorizer=IAMAuthorizer())
def incident_timeline(incident_id: str) -> Response:
    from chalicelib.context import current
    from chalicelib.timeline import http_timeline

    query = app.current_request.query_params or {}
    status, content_type, body = http_timeline(current(), incident_id,
                                               query.get("format", "html"))
    return Response(body=body, status_code=status, headers={"Content-Type": content_type})


@app.lambda_function(name="approval_worker")
def approval_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.context import current
    from chalicelib.slack import run_job

    return run_job(current(), event)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="approval_sweeper")
def approval_sweeper(event: Any) -> dict[str, Any]:
    from chalicelib.entry import sweep_approvals

    return sweep_approvals()


@app.schedule(Rate(30, unit=Rate.DAYS), name="monthly_drill")
def monthly_drill(event: Any) -> dict[str, Any]:
    from chalicelib.entry import scheduled_drill

    return scheduled_drill()


@app.schedule(Rate(1, unit=Rate.HOURS), name="evidence_digest")
def evidence_digest(event: Any) -> dict[str, Any]:
    """Sign the heads of every timeline that moved this hour into the evidence bucket."""
    from chalicelib.context import current
    from chalicelib.integrity import scheduled

    return scheduled(current())
