"""autoremediate on AWS Lambda: Chalice triggers only; every handler calls the pipeline.

The EventBridge patterns are rendered from the policies (chalicelib/event_patterns.json,
checked fresh by the tests); the pipeline is imported on first use to keep cold start short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalice import Chalice
from chalice.app import CloudWatchEvent

app = Chalice(app_name="autoremediate")

_PATTERNS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "chalicelib" / "event_patterns.json").read_text())


def _pipeline(event: CloudWatchEvent) -> dict[str, Any]:
    from chalicelib.entry import handle_event

    return handle_event(event.to_dict())


@app.on_cw_event(_PATTERNS["guardduty"], name="guardduty_findings")
def guardduty_findings(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@app.on_cw_event(_PATTERNS["config"], name="config_compliance")
def config_compliance(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)


@app.on_cw_event(_PATTERNS["cloudtrail"], name="cloudtrail_calls")
def cloudtrail_calls(event: CloudWatchEvent) -> dict[str, Any]:
    return _pipeline(event)
