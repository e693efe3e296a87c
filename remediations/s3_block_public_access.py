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

from remediations._s3 import bucket_tags, read_optional
from remediations.base import ApiCall, Remediation, State, register

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
KEY = "PublicAccessBlockConfiguration"


@register("s3_block_public_access")
class S3BlockPublicAccess(Remediation):
    """Turn on all four S3 Block Public Access flags on one bucket."""

    summary = "Block all public access to the bucket (all four Block Public Access flags)"
    resource_types = ("AWS::S3::Bucket",)
    permissions = (
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketTagging",
    )

    @property
    def bucket(self) -> str:
        return self.target.resource.id

    def read(self) -> State:
        s3 = self.target.clients("s3")
        found = read_optional(
            f"reading the public access block of bucket {self.bucket}",
            "NoSuchPublicAccessBlockConfiguration",
            lambda: s3.get_public_access_block(Bucket=self.bucket,
                                               ExpectedBucketOwner=self.target.account),
        )
        if found is None:
            return {KEY: None}
        config = found.get(KEY, {})
        return {KEY: {flag: bool(config.get(flag, False)) for flag in FLAGS}}

    def desired(self, before: State) -> State:
        return {KEY: dict.fromkeys(FLAGS, True)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        owner = {"Bucket": self.bucket, "ExpectedBucketOwner": self.target.account}
        if to[KEY] is None:
            return [ApiCall(service="s3", operation="DeletePublicAccessBlock", params=owner)]
        return [ApiCall(service="s3", operation="PutPublicAccessBlock",
                        params={**owner, KEY: dict(to[KEY])})]

    def tags(self) -> dict[str, str]:
        return bucket_tags(self.target.clients("s3"), self.bucket, self.target.account)
