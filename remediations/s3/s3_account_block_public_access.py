"""Turn on all four S3 Block Public Access flags for the whole account.

The account-level block overrides every bucket's own settings: with it on, no bucket in
the account can be made public by a policy or ACL, whatever its owner does. After
`PutAccountPublicAccessBlock` with a flag off, `DeleteAccountPublicAccessBlock`, or
Config's `s3-account-level-public-access-blocks(-periodic)`, all four go back on.

Example policy:

```yaml
- name: s3-account-public-access
  trigger:
    - source: cloudtrail
      kinds: [DeleteAccountPublicAccessBlock]
  remediation: s3_account_block_public_access
  mode: auto
  hipaa: ["164.312(a)(1)"]
```

The resource is the account (`AWS::::Account/<account>/<region>`; the setting itself is
global): exempt an account with the policy's `exempt_accounts`. Before-state is the
account's flags (None for no block); rollback puts them back or deletes the block.
"""

from __future__ import annotations

from chalicelib.finding import ACCOUNT
from remediations.base import register
from remediations.s3._s3 import PublicAccessBlock


@register("s3_account_block_public_access")
class S3AccountBlockPublicAccess(PublicAccessBlock):
    """Turn on all four S3 Block Public Access flags for the account."""

    summary = "Block public access to every bucket of the account (account-level flags)"
    resource_types = (ACCOUNT,)
    permissions = ("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock")
    block_service = "s3control"

    def block_params(self) -> dict[str, str]:
        return {"AccountId": self.target.account}

    def block_what(self) -> str:
        return f"account {self.target.account}"
