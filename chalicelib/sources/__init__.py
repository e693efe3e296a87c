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


def parser_for(source: str, detail_type: str) -> Parser | None:
    """The module's `normalize` for an envelope, or None when no pipeline takes it."""
    from chalicelib.sources import cloudtrail, cloudwatch, config, guardduty, securityhub

    if detail_type == "AWS API Call via CloudTrail":
        return cloudtrail.normalize
    by_pair: dict[tuple[str, str], Parser] = {
        ("aws.guardduty", "GuardDuty Finding"): guardduty.normalize,
        ("aws.config", "Config Rules Compliance Change"): config.normalize,
        ("aws.cloudwatch", "CloudWatch Alarm State Change"): cloudwatch.normalize,
        ("aws.securityhub", securityhub.DETAIL_TYPE): securityhub.normalize,
    }
    return by_pair.get((source, detail_type))
