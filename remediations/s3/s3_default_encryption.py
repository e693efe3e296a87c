"""Default-encrypt a bucket with SSE-KMS under the customer-managed key, bucket key on.

The key is `REMEDIATION_KMS_KEY` (or the policy's `kms_key` parameter): a key id, key ARN,
alias name or alias ARN, resolved in the event's account and region. A missing, disabled,
asymmetric, AWS-managed or other-region key fails the remediation with the reason; there
is never a silent fallback to AES256.

A bucket already encrypted with SSE-KMS (or DSSE-KMS) under a named key is compliant and
left alone: the owner chose that key on purpose.

Example policy:

```yaml
- name: s3-default-encryption
  trigger:
    - source: cloudtrail
      kinds: [DeleteBucketEncryption, CreateBucket]
  remediation: s3_default_encryption
  params: {kms_key: alias/phi-data}   # optional; default REMEDIATION_KMS_KEY
  mode: auto
  hipaa: ["164.312(a)(2)(iv)"]
```
"""

from __future__ import annotations

from typing import Any

from remediations._kms import KeyParams, customer_key
from remediations.base import ApiCall, State, register
from remediations.s3._s3 import BucketRemediation, read_optional

KEY = "ServerSideEncryptionConfiguration"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    kept = {"SSEAlgorithm": default.get("SSEAlgorithm")}
    if default.get("KMSMasterKeyID"):
        kept["KMSMasterKeyID"] = default["KMSMasterKeyID"]
    return {"ApplyServerSideEncryptionByDefault": kept,
            "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False))}


@register("s3_default_encryption")
class S3DefaultEncryption(BucketRemediation[KeyParams]):
    """Default-encrypt a bucket with SSE-KMS under the customer-managed key, bucket key on."""

    summary = "Default-encrypt the bucket with SSE-KMS (customer-managed key, bucket key on)"
    permissions = (
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetBucketTagging",
        "kms:DescribeKey",
    )
    Params = KeyParams

    def read(self) -> State:
        s3 = self.target.clients("s3")
        found = read_optional(
            f"reading the default encryption of bucket {self.bucket}",
            "ServerSideEncryptionConfigurationNotFoundError",
            lambda: s3.get_bucket_encryption(**self.owner),
        )
        if found is None:
            return {KEY: None}
        rules = found.get(KEY, {}).get("Rules", [])
        return {KEY: {"Rules": [_rule(r) for r in rules]}}

    def desired(self, before: State) -> State:
        config = before[KEY]
        for rule in (config or {}).get("Rules", []):
            default = rule["ApplyServerSideEncryptionByDefault"]
            if default["SSEAlgorithm"] in KMS_ALGORITHMS and default.get("KMSMasterKeyID"):
                return before
        return {KEY: {"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": self.key_arn()},
            "BucketKeyEnabled": True,
        }]}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        owner = self.owner
        if to[KEY] is None:
            return [ApiCall(service="s3", operation="DeleteBucketEncryption", params=owner)]
        return [ApiCall(service="s3", operation="PutBucketEncryption",
                        params={**owner, KEY: to[KEY]})]

    def key_arn(self) -> str:
        """Resolve the configured key to its ARN and check it can encrypt this bucket."""
        return customer_key(self.target, self.params.kms_key, "the bucket")
