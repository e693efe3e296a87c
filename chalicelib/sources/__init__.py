"""One module per event source; `finding.normalize` dispatches on the envelope.

| source (EventBridge)  | detail-type                     | module        |
|-----------------------|---------------------------------|---------------|
| aws.guardduty         | GuardDuty Finding               | `guardduty`   |
| aws.config            | Config Rules Compliance Change  | `config`      |
| any                   | AWS API Call via CloudTrail     | `cloudtrail`  |
| aws.cloudwatch        | CloudWatch Alarm State Change   | `cloudwatch`  |
| aws.securityhub       | Security Hub Findings - Imported| `securityhub` |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.finding import Envelope, Finding, Ignored

Parser = Callable[["Envelope", dict[str, Any]], "Finding | Ignored"]

# The one declaration of each source's EventBridge envelope: finding source -> (event
# `source`, or None for any service, `detail-type`). `parser_for` dispatches on it and
# `chalicelib.patterns` renders the rules from it.
ENVELOPES: dict[str, tuple[str | None, str]] = {
    "guardduty": ("aws.guardduty", "GuardDuty Finding"),
    "config": ("aws.config", "Config Rules Compliance Change"),
    "cloudtrail": (None, "AWS API Call via CloudTrail"),  # every service's calls
    "cloudwatch": ("aws.cloudwatch", "CloudWatch Alarm State Change"),
    "securityhub": ("aws.securityhub", "Security Hub Findings - Imported"),
}


def parser_for(source: str, detail_type: str) -> Parser | None:
    """The module's `normalize` for an envelope, or None when no pipeline takes it."""
    import importlib

    for name, (wanted, kind) in ENVELOPES.items():
        if detail_type == kind and wanted in (None, source):
            parser: Parser = importlib.import_module(f"chalicelib.sources.{name}").normalize
            return parser
    return None


def envelope(name: str) -> dict[str, list[str]]:
    """The EventBridge pattern's `source` / `detail-type` part for finding source `name`."""
    source, detail_type = ENVELOPES[name]
    return {**({"source": [source]} if source else {}), "detail-type": [detail_type]}
