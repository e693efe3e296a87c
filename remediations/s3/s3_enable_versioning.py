"""Turn on S3 Versioning for a bucket, so an overwrite or delete keeps the prior version
(HIPAA 164.312(c)(1) integrity, 164.308(a)(7) recoverability).

S3 cannot return a bucket to "never versioned": the before-state reads `Off` for both a
never-versioned and a Suspended bucket, and rollback suspends versioning (the versions
kept meanwhile stay). A bucket with MFA delete on is left alone (`incident_opened`): only
the root user with its MFA device can change its versioning. Noncurrent versions pile up:
pair with `s3_version_lifecycle`.

Example policy:

```yaml
- name: s3-versioning
  trigger:
    - source: cloudtrail
      kinds: [PutBucketVersioning]
  remediation: s3_enable_versioning
  mode: auto
  hipaa: ["164.312(c)(1)"]
```
"""

from __future__ import annotations

from chalicelib.errors import HandsOff
from remediations.base import ApiCall, State, register
from remediations.s3._s3 import (
    VERSIONING_ON,
    BucketRemediation,
    versioning,
    versioning_call,
)


@register("s3_enable_versioning")
class S3EnableVersioning(BucketRemediation):
    """Enable versioning on a bucket; rollback suspends it."""

    summary = "Enable S3 Versioning on the bucket (rollback suspends it)"
    permissions = ("s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetBucketTagging")

    def read(self) -> State:
        return versioning(self.target.clients("s3"), self.owner)

    def desired(self, before: State) -> State:
        if before["Status"] == VERSIONING_ON:
            return before
        if before["MFADelete"]:
            raise HandsOff(f"bucket {self.bucket} has MFA delete on: only the root user "
                           "with its MFA device can change its versioning")
        return {**before, "Status": VERSIONING_ON}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [versioning_call(self.owner, to["Status"])]
