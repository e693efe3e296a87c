"""Disable ACLs on a bucket: S3 Object Ownership `BucketOwnerEnforced`, so only policies
grant access and the bucket owner owns every object (HIPAA 164.312(a)(1) access control).

ACL grants stop granting anything (they are kept, and come back into force on rollback).
What breaks: writers that send non-owner ACLs (real S3 answers
AccessControlListNotSupported), CloudFront legacy standard logs, access-log delivery
granted by ACL, and cross-account uploaders, who lose ownership of their objects. So it
runs after approval, and the approval lists the current ACL grants.

A bucket with no ownership controls behaves as `ObjectWriter` (S3's behaviour before
controls existed) and reads so; rollback puts the saved setting back with
PutBucketOwnershipControls.

Example policy:

```yaml
- name: s3-acls-disabled
  trigger:
    - source: config
      kinds: [s3-bucket-acl-prohibited]
  remediation: s3_disable_acls
  mode: approve
  hipaa: ["164.312(a)(1)"]
```
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from remediations.base import ApiCall, State, register
from remediations.s3._s3 import BucketRemediation, read_optional

ENFORCED = "BucketOwnerEnforced"
NO_CONTROLS = "ObjectWriter"  # how a bucket without ownership controls behaves


def _grantee(grant: dict[str, Any]) -> str:
    who = grant.get("Grantee", {})
    name = who.get("URI") or who.get("ID") or who.get("EmailAddress") or "?"
    return f"{who.get('Type', '?')} {name}: {grant.get('Permission', '?')}"


@register("s3_disable_acls")
class S3DisableAcls(BucketRemediation):
    """Set Object Ownership to BucketOwnerEnforced (ACLs disabled)."""

    summary = "Disable ACLs: Object Ownership BucketOwnerEnforced (policies alone grant access)"
    permissions = ("s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
                   "s3:GetBucketAcl", "s3:GetBucketTagging")

    def read(self) -> State:
        found = read_optional(
            f"reading the ownership controls of bucket {self.bucket}",
            "OwnershipControlsNotFoundError",
            lambda: self.target.clients("s3").get_bucket_ownership_controls(**self.owner))
        rules = (found or {}).get("OwnershipControls", {}).get("Rules", [])
        return {"ObjectOwnership": rules[0].get("ObjectOwnership") if rules else NO_CONTROLS}

    def desired(self, before: State) -> State:
        return {"ObjectOwnership": ENFORCED}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="s3", operation="PutBucketOwnershipControls", params={
            **self.owner, "OwnershipControls": {"Rules": [
                {"ObjectOwnership": to["ObjectOwnership"]}]}})]

    def notes(self, before: State, after: State) -> list[str]:
        with translate(f"reading the ACL of bucket {self.bucket}"):
            acl = self.target.clients("s3").get_bucket_acl(**self.owner)
        owner = acl.get("Owner", {}).get("ID")
        grants = [_grantee(g) for g in acl.get("Grants", [])
                  if g.get("Grantee", {}).get("ID") != owner]
        return [
            f"ObjectOwnership {before['ObjectOwnership']} -> {ENFORCED}: every ACL stops "
            "granting access; writers sending non-owner ACLs, CloudFront legacy logs and "
            "ACL-granted access-log delivery break; cross-account uploaders lose ownership",
            "ACL grants that stop working: " + ("; ".join(grants) if grants
                                                 else "none besides the owner's"),
        ]
