"""Make a CloudWatch alarm tell someone (Config `cloudwatch-alarm-action-check`, Security
Hub CloudWatch.15): an alarm with no action for ALARM or for INSUFFICIENT_DATA gets the
operator's SNS topic (`REMEDIATION_ALARM_TOPIC_ARN`, or the policy's `topic_arn`) in
each of those lists that is empty. Lists that already have an action are left as they
are, and the OK actions are not touched (the rule does not require them by default).

`PutMetricAlarm` replaces the whole alarm, so the call carries the FULL definition as
`DescribeAlarms` reads it (statistic or extended statistic, dimensions, metric math
`Metrics` and `ThresholdMetricId`, unit, `TreatMissingData`, `DatapointsToAlarm`,
`EvaluateLowSampleCountPercentile`, …) with only the actions added; tags survive a re-put.
Unset topic: `failed` with a reason naming the variable, nothing changes.

Not changed here (recorded, `HandsOff`): alarms owned by a service (`TargetTracking-*`,
rewritten by Application Auto Scaling) and composite alarms (`PutCompositeAlarm`; see the
runbook for the manual call).

This is the alarm as a *resource*. Alarms as *events* (state changes of `hipaa-*` alarms)
are `chalicelib/sources/cloudwatch.py` and policies/95-cloudwatch-alarms.yaml.

Example policy:

```yaml
- name: cloudwatch-alarm-actions
  trigger:
    - source: config
      kinds: [cloudwatch-alarm-action-check]
  remediation: cloudwatch_alarm_actions
  mode: auto
  hipaa: ["164.308(a)(1)(ii)(D)"]
```

State is `{"Definition": {PutMetricAlarm parameters}}`; rollback puts the saved
definition back whole.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError, HandsOff, ResourceGone
from chalicelib.finding import ALARM
from remediations.base import ApiCall, NoParams, Remediation, State, register

TOPIC_VAR = "REMEDIATION_ALARM_TOPIC_ARN"
# what PutMetricAlarm takes, as DescribeAlarms reports it (state, ARN, timestamps are not
# part of the definition)
DEFINITION = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
              "InsufficientDataActions", "MetricName", "Namespace", "Statistic",
              "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
              "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
              "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")
# the action lists the Config rule requires by default (alarmActionRequired,
# insufficientDataActionRequired)
REQUIRED = ("AlarmActions", "InsufficientDataActions")
SERVICE_OWNED = ("TargetTracking-",)


class Params(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"topic_arn": "alarm_topic_arn"}

    topic_arn: str | None = Field(default=None, description=(
        f"the SNS topic ARN alarms notify, in the alarm's region; default {TOPIC_VAR}"))


def definition(alarm: dict[str, Any]) -> dict[str, Any]:
    """The PutMetricAlarm parameters that recreate `alarm` exactly (empty Dimensions and
    Metrics dropped: an alarm has one or the other, and PutMetricAlarm refuses both)."""
    return {k: alarm[k] for k in DEFINITION if k in alarm and alarm[k] is not None
            and not (k in ("Dimensions", "Metrics") and alarm[k] == [])}


@register("cloudwatch_alarm_actions")
class CloudWatchAlarmActions(Remediation[Params]):
    """Add the operator's SNS topic to an alarm's empty ALARM / INSUFFICIENT_DATA actions."""

    summary = ("Add the configured SNS topic (REMEDIATION_ALARM_TOPIC_ARN) to an alarm "
               "without ALARM or INSUFFICIENT_DATA actions, keeping its whole definition")
    resource_types = (ALARM,)
    permissions = ("cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm",
                   "cloudwatch:ListTagsForResource")
    Params = Params

    @property
    def cloudwatch(self) -> Any:
        return self.target.clients("cloudwatch")

    @property
    def alarm_name(self) -> str:
        found = self.target.resource
        ref = found.arn or found.id
        return ref.split(":alarm:", 1)[1] if ":alarm:" in ref else ref

    def topic(self) -> str:
        topic = self.params.topic_arn
        if not topic:
            raise ConfigurationError(f"{TOPIC_VAR} is not set: name the SNS topic ARN that "
                                     "CloudWatch alarms should notify")
        parts = topic.split(":")
        if len(parts) != 6 or parts[2] != "sns" or not topic.startswith("arn:"):
            raise ConfigurationError(f"{TOPIC_VAR} {topic!r} is not an SNS topic ARN")
        if parts[3] != self.target.region:
            raise ConfigurationError(f"{TOPIC_VAR} is in {parts[3]}; an alarm in "
                                     f"{self.target.region} can notify only a topic there")
        return topic

    def read(self) -> State:
        name = self.alarm_name
        with translate(f"reading alarm {name}"):
            got = self.cloudwatch.describe_alarms(
                AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        if got.get("CompositeAlarms"):
            raise HandsOff(f"alarm {name} is a composite alarm: its actions are set by hand "
                           "with PutCompositeAlarm (see the runbook)")
        alarms = got.get("MetricAlarms", [])
        if not alarms:
            raise ResourceGone(f"no alarm {name}")
        return {"Definition": definition(alarms[0])}

    def desired(self, before: State) -> State:
        have = before["Definition"]
        empty = [k for k in REQUIRED if not have.get(k)]
        if not empty:
            return before
        if have["AlarmName"].startswith(SERVICE_OWNED):
            raise HandsOff(f"alarm {have['AlarmName']} is owned by Application Auto Scaling "
                           "(target tracking) and rewritten by it: not changed here")
        topic = self.topic()
        return {"Definition": {**have, **{k: [topic] for k in empty}}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="cloudwatch", operation="PutMetricAlarm",
                        params=dict(to["Definition"]))]

    def tags(self) -> dict[str, str]:
        found = self.target.resource
        arn = found.arn or (f"arn:aws:cloudwatch:{self.target.region}:{self.target.account}"
                            f":alarm:{self.alarm_name}")
        with translate(f"reading tags of alarm {self.alarm_name}"):
            tags = self.cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]
        return {t["Key"]: t.get("Value", "") for t in tags}
