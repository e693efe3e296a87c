"""Refuse plain-HTTP requests to a bucket: a Deny of `s3:*` to everyone when
`aws:SecureTransport` is false (HIPAA 164.312(e)(1) transmission security), merged into
the bucket policy by its Sid `autoremediate-deny-insecure-transport`.

Every other statement is kept as it was; a bucket whose policy already has such a Deny
(under any Sid) is compliant and left alone. Only plain-HTTP clients break. Bucket
policies are limited to 20 KB: a policy that would grow past it is refused (`failed`).

Example policy:

```yaml
- name: s3-ssl-only
  trigger:
    - source: cloudtrail
      kinds: [DeleteBucketPolicy]
  remediation: s3_require_ssl
  mode: auto
  hipaa: ["164.312(e)(1)"]
```

Before-state is the bucket policy (None when it had none); rollback puts it back, or
deletes the policy when there was none.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import RemediationError
from remediations._policy_doc import denies_insecure_transport, statements, with_statement
from remediations.base import ApiCall, State, register
from remediations.s3._s3 import BucketRemediation, bucket_policy, bucket_policy_call

SID = "autoremediate-deny-insecure-transport"
MAX_POLICY_BYTES = 20 * 1024  # S3's limit on a bucket policy


@register("s3_require_ssl")
class S3RequireSsl(BucketRemediation):
    """Deny every non-TLS request to the bucket, merged into its policy by Sid."""

    summary = "Deny non-TLS requests (aws:SecureTransport false) in the bucket policy"
    permissions = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                   "s3:GetBucketTagging")

    @property
    def resources(self) -> list[str]:
        return [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"]

    def statement(self) -> dict[str, Any]:
        return {"Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": self.resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}

    def read(self) -> State:
        return {"Policy": bucket_policy(self.target.clients("s3"), self.owner)}

    def desired(self, before: State) -> State:
        policy = before["Policy"]
        wanted = set(self.resources)
        if policy and any(denies_insecure_transport(s, wanted) for s in statements(policy)):
            return before
        merged = with_statement(policy, self.statement())
        if len(json.dumps(merged).encode()) > MAX_POLICY_BYTES:
            raise RemediationError(
                f"bucket {self.bucket}: the policy with the TLS-only statement would exceed "
                "S3's 20 KB limit; shorten the policy and add the statement by hand")
        return {"Policy": merged}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [bucket_policy_call(self.owner, to["Policy"])]
