"""Deliver a trail's events to CloudWatch Logs too (Config
`cloud-trail-cloud-watch-logs-enabled`, Security Hub CloudTrail.5), so metric filters and
alarms see API activity within minutes (164.312(b), 164.308(a)(1)(ii)(D)).

The log group and the role CloudTrail assumes to write to it are the operator's:
`REMEDIATION_TRAIL_LOG_GROUP_ARN` (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`, in the
trail's home region) and `REMEDIATION_TRAIL_LOGS_ROLE_ARN` (or the policy's
`log_group_arn` / `logs_role_arn`). Unset, the outcome is `failed` with a reason naming
them and nothing changes; no role or group is ever created here. A trail that already
delivers to some log group meets the control and is left alone (it is not moved to ours).

Example policy:

```yaml
- name: cloudtrail-cloudwatch-logs
  trigger:
    - source: config
      kinds: [cloud-trail-cloud-watch-logs-enabled]
  remediation: cloudtrail_cloudwatch_logs
  mode: auto
  hipaa: ["164.312(b)"]
```

Rollback: `UpdateTrail(CloudWatchLogsLogGroupArn=saved or "", CloudWatchLogsRoleArn=saved
or "")`; the events already delivered stay in the group.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from chalicelib.errors import ConfigurationError
from remediations.base import NoParams, register
from remediations.cloudtrail._trail import TrailSetting, home

GROUP_VAR, ROLE_VAR = "REMEDIATION_TRAIL_LOG_GROUP_ARN", "REMEDIATION_TRAIL_LOGS_ROLE_ARN"


class Params(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"log_group_arn": "trail_log_group_arn",
                                          "logs_role_arn": "trail_logs_role_arn"}

    log_group_arn: str | None = Field(default=None, description=(
        f"the CloudWatch Logs group ARN (…:log-group:NAME:*); default {GROUP_VAR}"))
    logs_role_arn: str | None = Field(default=None, description=(
        f"the IAM role CloudTrail assumes to write to it; default {ROLE_VAR}"))


@register("cloudtrail_cloudwatch_logs")
class CloudTrailCloudWatchLogs(TrailSetting[Params]):
    """Send a trail's events to the operator's CloudWatch Logs group as well."""

    summary = ("Deliver a trail's events to the configured CloudWatch Logs group "
               "(REMEDIATION_TRAIL_LOG_GROUP_ARN, REMEDIATION_TRAIL_LOGS_ROLE_ARN)")
    Params = Params
    FIELDS: ClassVar[dict[str, str]] = {
        "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
        "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn"}

    def meets(self, have: dict[str, str]) -> bool:
        return bool(have["CloudWatchLogsLogGroupArn"])

    def wanted(self, arn: str) -> dict[str, str]:
        group, role = self.params.log_group_arn, self.params.logs_role_arn
        missing = [var for var, value in ((GROUP_VAR, group), (ROLE_VAR, role)) if not value]
        if missing:
            raise ConfigurationError(
                f"{' and '.join(missing)} not set: name the CloudWatch Logs group ARN and "
                "the IAM role CloudTrail assumes to write to it (never created here)")
        assert group and role
        if ":log-group:" not in group or not group.startswith("arn:"):
            raise ConfigurationError(f"{GROUP_VAR} {group!r} is not a log group ARN "
                                     "(arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*)")
        if ":role/" not in role or not role.startswith("arn:"):
            raise ConfigurationError(f"{ROLE_VAR} {role!r} is not an IAM role ARN")
        if home(group) != home(arn):
            raise ConfigurationError(
                f"{GROUP_VAR} is in {home(group)}, but trail {arn} has its home in "
                f"{home(arn)}: CloudTrail delivers only to a group in the trail's home "
                "region (set the policy's log_group_arn for that region)")
        return {"CloudWatchLogsLogGroupArn": group, "CloudWatchLogsRoleArn": role}
