"""Give a versioned bucket a lifecycle configuration: one rule `autoremediate-noncurrent`
that expires noncurrent versions after `noncurrent_days` (default 2192, six years: HIPAA's
documentation retention) and aborts incomplete multipart uploads after `abort_days` (7).

Only a bucket with **no** lifecycle configuration is changed: PutBucketLifecycleConfiguration
replaces the whole configuration, so an existing one is never touched. One whose rules are
all disabled opens an incident (its owner decides which to enable). An unversioned bucket
has no noncurrent versions and is compliant. The default keeps six years of noncurrent
versions, so nothing recent is deleted.

Example policy:

```yaml
- name: s3-version-lifecycle
  trigger:
    - source: cloudtrail
      kinds: [DeleteBucketLifecycle]
  remediation: s3_version_lifecycle
  params: {noncurrent_days: 2192}
  mode: auto
  hipaa: ["164.308(a)(7)(ii)(A)"]
```

Before-state is the bucket's versioning and its lifecycle rules (None for no
configuration); rollback deletes the configuration this created.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.errors import HandsOff
from remediations.base import ApiCall, NoParams, State, register
from remediations.s3._s3 import VERSIONING_ON, BucketRemediation, read_optional, versioning

RULE_ID = "autoremediate-noncurrent"


class Params(NoParams):
    noncurrent_days: int = Field(default=2192, ge=1, description=(
        "days a version stays after it becomes noncurrent (default six years)"))
    abort_days: int = Field(default=7, ge=1, description=(
        "days before an incomplete multipart upload is aborted"))


def _summary(rule: dict[str, Any]) -> dict[str, Any]:
    """What a rule does, in one form S3 and moto both report the same way."""
    return {"ID": rule.get("ID"), "Status": rule.get("Status"),
            "NoncurrentDays": rule.get("NoncurrentVersionExpiration", {}).get(
                "NoncurrentDays"),
            "AbortDays": rule.get("AbortIncompleteMultipartUpload", {}).get(
                "DaysAfterInitiation")}


@register("s3_version_lifecycle")
class S3VersionLifecycle(BucketRemediation[Params]):
    """Expire noncurrent versions of a versioned bucket that has no lifecycle rules."""

    summary = ("Add a lifecycle rule expiring noncurrent versions (only when the bucket "
               "has no lifecycle configuration)")
    permissions = ("s3:GetBucketVersioning", "s3:GetLifecycleConfiguration",
                   "s3:PutLifecycleConfiguration", "s3:GetBucketTagging")
    Params = Params

    def read(self) -> State:
        s3 = self.target.clients("s3")
        found = read_optional(
            f"reading the lifecycle configuration of bucket {self.bucket}",
            "NoSuchLifecycleConfiguration",
            lambda: s3.get_bucket_lifecycle_configuration(**self.owner))
        rules = None if found is None else [_summary(r) for r in found.get("Rules", [])]
        return {"Versioning": versioning(s3, self.owner)["Status"], "Rules": rules}

    def desired(self, before: State) -> State:
        rules = before["Rules"]
        if before["Versioning"] != VERSIONING_ON:
            return before  # no noncurrent versions to expire: the rule checks versioned buckets
        if rules is not None:
            if any(r["Status"] == "Enabled" for r in rules):
                return before
            raise HandsOff(
                f"bucket {self.bucket} has a lifecycle configuration whose rules are all "
                "disabled; replacing it would drop them, so its owner decides which to enable")
        ours = {"ID": RULE_ID, "Status": "Enabled",
                "NoncurrentDays": self.params.noncurrent_days,
                "AbortDays": self.params.abort_days}
        return {**before, "Rules": [ours]}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        if to["Rules"] is None:
            return [ApiCall(service="s3", operation="DeleteBucketLifecycle", params=self.owner)]
        (rule,) = to["Rules"]
        return [ApiCall(service="s3", operation="PutBucketLifecycleConfiguration", params={
            **self.owner, "LifecycleConfiguration": {"Rules": [{
                "ID": rule["ID"], "Status": rule["Status"], "Filter": {},
                "NoncurrentVersionExpiration": {"NoncurrentDays": rule["NoncurrentDays"]},
                "AbortIncompleteMultipartUpload": {
                    "DaysAfterInitiation": rule["AbortDays"]}}]}})]
