"""Keep AWS Security Hub on in the account and region (Config `securityhub-enabled`, a
`DisableSecurityHub` call): `EnableSecurityHub(EnableDefaultStandards=false)`.

Security Hub is both a detective control (164.308(a)(1)(ii)(D)) and one of our own finding
sources. The fix only subscribes the account: no standard is enabled here (each one costs
per check and is the operator's choice; `EnableDefaultStandards=false`), so standards the
account had before it was disabled are the operator's to re-enable.

An account whose Security Hub is configured centrally (an organization's delegated
administrator with central configuration) is the administrator's: when
`DescribeOrganizationConfiguration` answers `ConfigurationType: CENTRAL` the finding is
recorded (`HandsOff`), not fought over. A member account cannot call it (AccessDenied):
then the enable is attempted, and AWS's refusal, if any, ends `failed` with its reason.
Exempt such accounts with the policy's `exempt_accounts`.

Example policy:

```yaml
- name: securityhub-on
  trigger:
    - source: config
      kinds: [securityhub-enabled]
    - source: cloudtrail
      kinds: [DisableSecurityHub]
  remediation: securityhub_enable
  mode: auto
  hipaa: ["164.308(a)(1)(ii)(D)"]
```

State is `{"Enabled": bool}`; rollback calls `DisableSecurityHub` (Security Hub deletes
the findings of a disabled hub after 90 days).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.aws import translate
from chalicelib.errors import HandsOff
from chalicelib.finding import ACCOUNT
from remediations.base import ApiCall, Remediation, State, register

# DescribeHub's answer for an account (and region) that is not subscribed
NOT_SUBSCRIBED = {"InvalidAccessException", "ResourceNotFoundException"}
# a member account may not read the organization's configuration
NOT_ADMIN = {"AccessDeniedException", "InvalidAccessException", "AccessDenied"}


@register("securityhub_enable")
class SecurityHubEnable(Remediation):
    """Subscribe the account to Security Hub in the region (no standards enabled)."""

    summary = "Enable Security Hub in the region (EnableDefaultStandards=false)"
    resource_types = (ACCOUNT,)
    permissions = ("securityhub:DescribeHub", "securityhub:EnableSecurityHub",
                   "securityhub:DisableSecurityHub",
                   "securityhub:DescribeOrganizationConfiguration")

    @property
    def hub(self) -> Any:
        return self.target.clients("securityhub")

    def _enabled(self) -> bool:
        try:
            self.hub.describe_hub()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_SUBSCRIBED:
                return False
            with translate(f"reading Security Hub in {self.target.region}"):
                raise
        return True

    def _central(self) -> bool:
        """True when the organization configures Security Hub centrally from here."""
        try:
            got = self.hub.describe_organization_configuration()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_ADMIN:
                return False
            with translate("reading the Security Hub organization configuration"):
                raise
        return bool(got.get("OrganizationConfiguration", {}).get(
            "ConfigurationType") == "CENTRAL")

    def read(self) -> State:
        return {"Enabled": self._enabled()}

    def desired(self, before: State) -> State:
        if not before["Enabled"] and self._central():
            raise HandsOff(f"Security Hub in {self.target.region} is configured centrally "
                           "by the organization's delegated administrator: its "
                           "configuration policy decides, not this account; see the runbook")
        return {"Enabled": True}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        if to["Enabled"]:
            return [ApiCall(service="securityhub", operation="EnableSecurityHub",
                            params={"EnableDefaultStandards": False})]
        return [ApiCall(service="securityhub", operation="DisableSecurityHub")]
