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

from typing import Any

from chalicelib.finding import ACCOUNT
from remediations._s3 import BLOCK_FLAGS, BLOCK_KEY, read_optional
from remediations.base import ApiCall, Remediation, State, register


@register("s3_account_block_public_access")
class S3AccountBlockPublicAccess(Remediation):
    """Turn on all four S3 Block Public Access flags for the account."""

    summary = "Block public access to every bucket of the account (account-level flags)"
    resource_types = (ACCOUNT,)
    permissions = ("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock")

    @property
    def s3control(self) -> Any:
        return self.target.clients("s3control")

    def read(self) -> State:
        found = read_optional(
            f"reading the account public access block of {self.target.account}",
            "NoSuchPublicAccessBlockConfiguration",
            lambda: self.s3control.get_public_access_block(AccountId=self.target.account))
        if found is None:
            return {BLOCK_KEY: None}
        config = found.get(BLOCK_KEY, {})
        return {BLOCK_KEY: {flag: bool(config.get(flag, False)) for flag in BLOCK_FLAGS}}

    def desired(self, before: State) -> State:
        return {BLOCK_KEY: dict.fromkeys(BLOCK_FLAGS, True)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        account = {"AccountId": self.target.account}
        if to[BLOCK_KEY] is None:
            return [ApiCall(service="s3control", operation="DeletePublicAccessBlock",
                            params=account)]
        return [ApiCall(service="s3control", operation="PutPublicAccessBlock",
                        params={**account, BLOCK_KEY: dict(to[BLOCK_KEY])})]
