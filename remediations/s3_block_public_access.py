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

from remediations._s3 import BLOCK_FLAGS as FLAGS
from remediations._s3 import BLOCK_KEY as KEY
from remediations._s3 import BucketRemediation, read_optional
from remediations.base import ApiCall, State, register


@register("s3_block_public_access")
class S3BlockPublicAccess(BucketRemediation):
    """Turn on all four S3 Block Public Access flags on one bucket."""

    summary = "Block all public access to the bucket (all four Block Public Access flags)"
    permissions = (
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketTagging",
    )

    def read(self) -> State:
        s3 = self.target.clients("s3")
        found = read_optional(
            f"reading the public access block of bucket {self.bucket}",
            "NoSuchPublicAccessBlockConfiguration",
            lambda: s3.get_public_access_block(**self.owner),
        )
        if found is None:
            return {KEY: None}
        config = found.get(KEY, {})
        return {KEY: {flag: bool(config.get(flag, False)) for flag in FLAGS}}

    def desired(self, before: State) -> State:
        return {KEY: dict.fromkeys(FLAGS, True)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        owner = self.owner
        if to[KEY] is None:
            return [ApiCall(service="s3", operation="DeletePublicAccessBlock", params=owner)]
        return [ApiCall(service="s3", operation="PutPublicAccessBlock",
                        params={**owner, KEY: dict(to[KEY])})]
