"""Turn on all four S3 Block Public Access flags on one bucket.

Example policy:

```yaml
- name: s3-public-access
  trigger:
    - source: cloudtrail
      kinds: [PutBucketPolicy, PutBucketAcl, DeleteBucketPublicAccessBlock]
  remediation: s3_block_public_access
  mode: auto
  hipaa: ["164.312(a)(1)"]
```

Before-state is the bucket's public access block (None when it has none); rollback puts
back exactly those flags, or deletes the block when there was none.
"""

from __future__ import annotations

from remediations.base import register
from remediations.s3._s3 import BucketRemediation, PublicAccessBlock


@register("s3_block_public_access")
class S3BlockPublicAccess(BucketRemediation, PublicAccessBlock):
    """Turn on all four S3 Block Public Access flags on one bucket."""

    summary = "Block all public access to the bucket (all four Block Public Access flags)"
    permissions = (
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketTagging",
    )

    def block_params(self) -> dict[str, str]:
        return self.owner

    def block_what(self) -> str:
        return f"bucket {self.bucket}"
