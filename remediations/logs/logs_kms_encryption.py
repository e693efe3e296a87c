"""Encrypt a CloudWatch Logs log group with the customer-managed key.

Log lines carry PHI (request bodies, identifiers). A group created without `kmsKeyId`, or
whose key was disassociated, is associated with `REMEDIATION_KMS_KEY` (or the policy's
`kms_key`); a group on another key is left alone. The key policy must allow the
`logs.<region>.amazonaws.com` service principal, or CloudWatch Logs refuses the
association (`failed`, with AWS's reason).

Example policy:

```yaml
- name: logs-kms
  trigger:
    - source: cloudtrail
      kinds: [CreateLogGroup, DisassociateKmsKey]
  remediation: logs_kms_encryption
  mode: auto
  hipaa: ["164.312(a)(2)(iv)"]
```

Before-state is the group's key (None for none); rollback re-associates it or
disassociates ours.
"""

from __future__ import annotations

from remediations._kms import KeyParams, customer_key
from remediations.base import ApiCall, State, register
from remediations.logs._logs import LogGroupRemediation


@register("logs_kms_encryption")
class LogsKmsEncryption(LogGroupRemediation[KeyParams]):
    """Associate a log group with the customer-managed KMS key."""

    summary = "Associate the log group with the customer-managed KMS key"
    permissions = ("logs:DescribeLogGroups", "logs:AssociateKmsKey",
                   "logs:DisassociateKmsKey", "logs:ListTagsForResource", "kms:DescribeKey")
    Params = KeyParams

    def read(self) -> State:
        return {"kmsKeyId": self.describe().get("kmsKeyId")}

    def desired(self, before: State) -> State:
        if before["kmsKeyId"]:
            return before
        return {"kmsKeyId": customer_key(self.target, self.params.kms_key, "the log group")}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        if to["kmsKeyId"] is None:
            return [ApiCall(service="logs", operation="DisassociateKmsKey",
                            params={"logGroupName": self.group})]
        return [ApiCall(service="logs", operation="AssociateKmsKey", params={
            "logGroupName": self.group, "kmsKeyId": to["kmsKeyId"]})]
