"""Remove public grants from a bucket: policy statements that allow `Principal: "*"` (or
`{"AWS": "*"}`) without a restricting condition (`aws:SourceVpce`, `aws:SourceArn`,
`aws:SourceAccount`, `aws:PrincipalOrgID`, …), and ACL grants to AllUsers or
AuthenticatedUsers. The policy is deleted when nothing else remains; the original policy
and ACL are saved for rollback.

Example policy:

```yaml
- name: s3-public-policy
  trigger:
    - source: cloudtrail
      kinds: [PutBucketPolicy, PutBucketAcl]
  remediation: s3_revoke_public_policy
  mode: approve
  hipaa: ["164.312(a)(1)"]
```
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from remediations._policy_doc import is_public, without
from remediations.base import ApiCall, State, register
from remediations.s3._s3 import BucketRemediation, bucket_policy, bucket_policy_call

PUBLIC_GROUPS = frozenset({
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
})


def _public_grant(grant: dict[str, Any]) -> bool:
    return grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS


@register("s3_revoke_public_policy")
class S3RevokePublicPolicy(BucketRemediation):
    """Remove public statements from a bucket policy and public grants from its ACL."""

    summary = "Remove public bucket-policy statements and public ACL grants"
    permissions = (
        "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
        "s3:GetBucketAcl", "s3:PutBucketAcl", "s3:GetBucketTagging",
    )

    def read(self) -> State:
        s3 = self.target.clients("s3")
        policy = bucket_policy(s3, self.owner)
        with translate(f"reading the ACL of bucket {self.bucket}"):
            acl = s3.get_bucket_acl(**self.owner)
        return {"Policy": policy,
                "Acl": {"Owner": acl["Owner"], "Grants": acl.get("Grants", [])}}

    def desired(self, before: State) -> State:
        policy = before["Policy"]
        kept = without(policy, is_public) if policy else None
        grants = [g for g in before["Acl"]["Grants"] if not _public_grant(g)]
        return {"Policy": kept, "Acl": {**before["Acl"], "Grants": grants}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        calls = []
        if frm["Policy"] != to["Policy"]:
            calls.append(bucket_policy_call(self.owner, to["Policy"]))
        if frm["Acl"] != to["Acl"]:
            calls.append(ApiCall(service="s3", operation="PutBucketAcl", params={
                **self.owner, "AccessControlPolicy": to["Acl"]}))
        return calls
