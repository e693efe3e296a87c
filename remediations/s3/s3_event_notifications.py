"""Notify the operator's SNS topic (`REMEDIATION_S3_EVENTS_TOPIC_ARN`, or the policy's
`topic_arn`) whenever an object is removed from a bucket: one topic entry with Id
`autoremediate` and events `s3:ObjectRemoved:*` (HIPAA 164.312(b), 164.308(a)(1)(ii)(D)).

PutBucketNotificationConfiguration replaces the whole configuration, so every existing
Lambda, SQS, SNS and EventBridge entry is read and sent back with ours added. An entry
that overlaps ours (same event type and prefix) makes S3 refuse the call: `failed`,
nothing changes. S3 also checks that the topic's policy allows `s3.amazonaws.com` to
publish (moto does not). Unset, the outcome is `failed` naming the variable.

Example policy:

```yaml
- name: s3-event-notifications
  trigger:
    - source: config
      kinds: [s3-event-notifications-enabled]
  remediation: s3_event_notifications
  params: {topic_arn: "arn:aws:sns:us-east-1:111122223333:s3-deletions"}   # optional
  mode: auto
  hipaa: ["164.312(b)"]
```

Before-state is the bucket's whole notification configuration; rollback puts it back.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError
from remediations.base import ApiCall, NoParams, State, register
from remediations.s3._s3 import BucketRemediation

VARIABLE = "REMEDIATION_S3_EVENTS_TOPIC_ARN"
ENTRY_ID = "autoremediate"
KINDS = ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations",
         "EventBridgeConfiguration")
TOPIC_ARN = re.compile(r"^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")


class Params(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"topic_arn": "s3_events_topic_arn"}

    topic_arn: str | None = Field(default=None, description=(
        f"SNS topic ARN that receives the notifications; default {VARIABLE}"))
    events: list[str] = Field(default_factory=lambda: ["s3:ObjectRemoved:*"], description=(
        "the S3 event types notified"))


@register("s3_event_notifications")
class S3EventNotifications(BucketRemediation[Params]):
    """Add an object-removed notification to the operator's topic, keeping every entry."""

    summary = ("Notify the configured SNS topic of object deletions (every existing "
               "notification entry kept)")
    permissions = ("s3:GetBucketNotification", "s3:PutBucketNotification",
                   "s3:GetBucketTagging")
    Params = Params

    def topic_arn(self) -> str:
        value = self.params.topic_arn
        if not value:
            raise ConfigurationError(
                f"{VARIABLE} is not set: name the SNS topic ARN (its policy allowing "
                "s3.amazonaws.com to publish) for S3 event notifications")
        if not TOPIC_ARN.match(value):
            raise ConfigurationError(f"{VARIABLE} {value!r} is not an SNS topic ARN")
        return value

    def ours(self) -> dict[str, Any]:
        return {"Id": ENTRY_ID, "TopicArn": self.topic_arn(), "Events": list(self.params.events)}

    def read(self) -> State:
        with translate(f"reading the notification configuration of bucket {self.bucket}"):
            found = self.target.clients("s3").get_bucket_notification_configuration(
                **self.owner)
        return {"Notifications": {k: found[k] for k in KINDS if found.get(k) is not None
                                  and found[k] != []}}

    def desired(self, before: State) -> State:
        config = before["Notifications"]
        topics = config.get("TopicConfigurations", [])
        ours = self.ours()
        if ours in topics:
            return before
        kept = [t for t in topics if t.get("Id") != ENTRY_ID]  # a stale entry of ours
        return {"Notifications": {**config, "TopicConfigurations": [*kept, ours]}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="s3", operation="PutBucketNotificationConfiguration", params={
            **self.owner, "NotificationConfiguration": dict(to["Notifications"])})]
