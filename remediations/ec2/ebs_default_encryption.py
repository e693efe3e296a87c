"""Turn on EBS encryption by default in the finding's account and region.

Every new EBS volume (and snapshot copy) in the region is then encrypted; existing volumes
are not touched (an unencrypted volume cannot be encrypted in place: see the
`ebs-unencrypted-volume` policy, which records an incident). The default key stays as the
account configured it (`alias/aws/ebs` unless changed).

Example policy:

```yaml
- name: ebs-default-encryption
  trigger:
    - source: cloudtrail
      kinds: [DisableEbsEncryptionByDefault]
  remediation: ebs_default_encryption
  mode: auto
  hipaa: ["164.312(a)(2)(iv)"]
```

The resource is the account and region (`AWS::::Account/<account>/<region>`): exempt an
account with the policy's `exempt_accounts`. Rollback disables it again.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.finding import ACCOUNT
from remediations.base import ApiCall, Remediation, State, register


@register("ebs_default_encryption")
class EbsDefaultEncryption(Remediation):
    """Turn on EBS encryption by default in one account and region."""

    summary = "Turn on EBS encryption by default in the region"
    resource_types = (ACCOUNT,)
    permissions = ("ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault",
                   "ec2:DisableEbsEncryptionByDefault")

    @property
    def ec2(self) -> Any:
        return self.target.clients("ec2")

    def read(self) -> State:
        with translate(f"reading EBS encryption by default in {self.target.region}"):
            got = self.ec2.get_ebs_encryption_by_default()
        return {"EbsEncryptionByDefault": bool(got["EbsEncryptionByDefault"])}

    def desired(self, before: State) -> State:
        return {"EbsEncryptionByDefault": True}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        op = ("EnableEbsEncryptionByDefault" if to["EbsEncryptionByDefault"]
              else "DisableEbsEncryptionByDefault")
        return [ApiCall(service="ec2", operation=op)]
