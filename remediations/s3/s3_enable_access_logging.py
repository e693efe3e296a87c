"""Turn on S3 server access logging for a bucket, into the operator's log bucket
(`REMEDIATION_S3_ACCESS_LOGS_BUCKET`, or the policy's `target_bucket`) under the prefix
`<bucket>/` (HIPAA 164.312(b) audit controls).

The log bucket must be in the same region and its policy must allow
`logging.s3.amazonaws.com` to `s3:PutObject`; S3 refuses the call otherwise (`failed`).
Unset, the outcome is `failed` with a reason naming the variable, and nothing changes. A
bucket that already logs anywhere is compliant. The log bucket itself is never logged
into itself (each delivery would log another): it opens an incident instead.

Example policy:

```yaml
- name: s3-access-logging
  trigger:
    - source: config
      kinds: [s3-bucket-logging-enabled]
  remediation: s3_enable_access_logging
  params: {target_bucket: org-s3-access-logs}   # optional
  mode: auto
  hipaa: ["164.312(b)"]
```

Before-state is the bucket's logging target (None when it logs nowhere); rollback turns
logging off again (the log files already delivered stay).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError, HandsOff
from remediations.base import ApiCall, NoParams, State, register
from remediations.s3._s3 import BucketRemediation

VARIABLE = "REMEDIATION_S3_ACCESS_LOGS_BUCKET"


class Params(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"target_bucket": "s3_access_logs_bucket"}

    target_bucket: str | None = Field(default=None, description=(
        f"bucket name that receives the access logs; default {VARIABLE}"))


@register("s3_enable_access_logging")
class S3EnableAccessLogging(BucketRemediation[Params]):
    """Log every request to the bucket into the operator's access-log bucket."""

    summary = "Enable server access logging into the configured log bucket (prefix <bucket>/)"
    permissions = ("s3:GetBucketLogging", "s3:PutBucketLogging", "s3:GetBucketTagging")
    Params = Params

    def target_bucket(self) -> str:
        value = self.params.target_bucket
        if not value:
            raise ConfigurationError(
                f"{VARIABLE} is not set: name the bucket (same region, its policy allowing "
                "logging.s3.amazonaws.com) that receives S3 server access logs")
        if value.startswith("arn:"):
            value = value.split(":::", 1)[-1]
        return value.strip("/")

    def read(self) -> State:
        with translate(f"reading the logging of bucket {self.bucket}"):
            found = self.target.clients("s3").get_bucket_logging(**self.owner)
        enabled: dict[str, Any] | None = found.get("LoggingEnabled")
        if not enabled:
            return {"LoggingEnabled": None}
        return {"LoggingEnabled": {"TargetBucket": enabled.get("TargetBucket"),
                                   "TargetPrefix": enabled.get("TargetPrefix", "")}}

    def desired(self, before: State) -> State:
        if before["LoggingEnabled"] is not None:
            return before  # logs somewhere already: what the control asks
        target = self.target_bucket()
        if target == self.bucket:
            raise HandsOff(
                f"bucket {self.bucket} is the access-log bucket ({VARIABLE}): logging it "
                "into itself would loop; log it into another bucket by hand")
        return {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": f"{self.bucket}/"}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        status = {"LoggingEnabled": dict(to["LoggingEnabled"])} if to["LoggingEnabled"] else {}
        return [ApiCall(service="s3", operation="PutBucketLogging",
                        params={**self.owner, "BucketLoggingStatus": status})]
