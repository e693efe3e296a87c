"""Encrypt a trail's log files with our customer-managed key (Config
`cloud-trail-encryption-enabled`, Security Hub CloudTrail.2): `UpdateTrail(KmsKeyId=CMK)`
in the trail's home region (164.312(a)(2)(iv), 164.312(b)).

The key is `REMEDIATION_KMS_KEY` (or the policy's `kms_key`), checked with `DescribeKey`:
enabled, symmetric, customer-managed, in the trail's home region. Unset: `failed` naming
the variable, nothing changes. A trail already encrypted with any KMS key meets the
control and is left alone.

Approve, never auto: every reader of the logs (SIEM, Athena, Security Lake, auditors)
needs `kms:Decrypt` on the key, or it stops reading new log files; and the key policy
must let `cloudtrail.amazonaws.com` encrypt (AWS refuses otherwise:
InsufficientEncryptionPolicyException, `failed`). The approval says so.

Example policy:

```yaml
- name: cloudtrail-kms-encryption
  trigger:
    - source: config
      kinds: [cloud-trail-encryption-enabled]
  remediation: cloudtrail_kms_encryption
  mode: approve
  hipaa: ["164.312(a)(2)(iv)"]
```

Rollback: `UpdateTrail(KmsKeyId=saved or "")` (`""` goes back to SSE-S3); files written
meanwhile stay encrypted with the key, so keep it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from remediations._kms import KeyParams, customer_key
from remediations.base import State, register
from remediations.cloudtrail._trail import TrailSetting, home


@register("cloudtrail_kms_encryption")
class CloudTrailKmsEncryption(TrailSetting[KeyParams]):
    """Encrypt a trail's log files with the operator's customer-managed KMS key."""

    summary = "Encrypt a trail's log files with the customer-managed key (REMEDIATION_KMS_KEY)"
    Params = KeyParams
    permissions = (*TrailSetting.permissions, "kms:DescribeKey")
    FIELDS: ClassVar[dict[str, str]] = {"KmsKeyId": "KmsKeyId"}

    def meets(self, have: dict[str, str]) -> bool:
        return bool(have["KmsKeyId"])

    def wanted(self, arn: str) -> dict[str, str]:
        region = home(arn)
        target = replace(self.target, region=region, clients=self.target.region_clients(region))
        return {"KmsKeyId": customer_key(target, self.params.kms_key,
                                         f"the log files of trail {arn}")}

    def notes(self, before: State, after: State) -> list[str]:
        changed = [arn for arn, have in after["Trails"].items()
                   if have != before["Trails"].get(arn)]
        keys = sorted({after["Trails"][arn]["KmsKeyId"] for arn in changed})
        return [f"trail(s) {', '.join(changed)} will write log files encrypted with "
                f"{', '.join(keys)}",
                "every reader of these logs (SIEM, Athena, Security Lake, auditors) needs "
                "kms:Decrypt on the key, or it stops reading new log files",
                "the key policy must allow cloudtrail.amazonaws.com kms:GenerateDataKey* "
                "(else AWS refuses: InsufficientEncryptionPolicyException)"]
