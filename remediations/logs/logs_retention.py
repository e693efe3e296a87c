"""Keep CloudWatch Logs long enough: retention at least `min_days` (default 2192 days, six
years: HIPAA's documentation retention, 164.316(b)(2)(i)).

No retention policy means the logs never expire, which is compliant; a longer retention is
never shortened. A shorter one is raised to the smallest retention CloudWatch offers that
is at least `min_days`, read live at plan time.

Example policy:

```yaml
- name: logs-retention
  trigger:
    - source: cloudtrail
      kinds: [PutRetentionPolicy, CreateLogGroup]
  remediation: logs_retention
  params: {min_days: 2192}
  mode: auto
  hipaa: ["164.312(b)"]
```

Before-state is the group's retention (None for never expire); rollback puts it back.
"""

from __future__ import annotations

from pydantic import Field

from remediations.base import ApiCall, NoParams, State, register
from remediations.logs._logs import LogGroupRemediation

# the retention values CloudWatch Logs accepts (PutRetentionPolicy)
ALLOWED = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
           2557, 2922, 3288, 3653)


class Params(NoParams):
    min_days: int = Field(default=2192, ge=1, le=ALLOWED[-1], description=(
        "the shortest retention allowed, in days (default six years)"))


@register("logs_retention")
class LogsRetention(LogGroupRemediation[Params]):
    """Raise a log group's retention to at least `min_days`; never shorten it."""

    summary = "Raise the log group's retention to at least min_days (never shortens)"
    permissions = ("logs:DescribeLogGroups", "logs:PutRetentionPolicy",
                   "logs:DeleteRetentionPolicy", "logs:ListTagsForResource")
    Params = Params

    def read(self) -> State:
        return {"retentionInDays": self.describe().get("retentionInDays")}

    def desired(self, before: State) -> State:
        days = before["retentionInDays"]
        minimum = self.params.min_days
        if days is None or days >= minimum:
            return before  # never expires, or long enough
        return {"retentionInDays": next(d for d in ALLOWED if d >= minimum)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        if to["retentionInDays"] is None:
            return [ApiCall(service="logs", operation="DeleteRetentionPolicy",
                            params={"logGroupName": self.group})]
        return [ApiCall(service="logs", operation="PutRetentionPolicy", params={
            "logGroupName": self.group, "retentionInDays": to["retentionInDays"]})]
