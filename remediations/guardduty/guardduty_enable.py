"""Keep GuardDuty on: an enabled detector in the finding's account and region.

After `DeleteDetector` there is no detector: a new one is created, enabled. After
`UpdateDetector` with `enable: false`, that detector is enabled again. The state compared
is "an enabled detector exists in this region", so the id of a re-created detector does
not matter.

Example policy:

```yaml
- name: guardduty-on
  trigger:
    - source: cloudtrail
      kinds: [DeleteDetector]
  remediation: guardduty_enable
  mode: auto
  hipaa: ["164.308(a)(1)(ii)(D)"]
```

The account-level result of the Config rule `guardduty-enabled-centralized` (and Security
Hub GuardDuty.1) names the account, not a detector: the check is the same, "an enabled
detector exists in the finding's region".

Rollback disables the detector (`UpdateDetector enable=false`) rather than deleting it:
no remediation deletes data, and a disabled detector reads back as the same "off" state.
Exempt an account with the policy's `exempt_accounts`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.finding import ACCOUNT
from remediations.base import ApiCall, Remediation, State, register


@register("guardduty_enable")
class GuardDutyEnable(Remediation):
    """Make sure an enabled GuardDuty detector exists in the region."""

    summary = "Enable GuardDuty in the region (re-enable or create the detector)"
    # a detector event (CloudTrail) or the account-level Config result
    # (guardduty-enabled-centralized, Security Hub GuardDuty.1): the same regional check
    resource_types = ("AWS::GuardDuty::Detector", ACCOUNT)
    permissions = ("guardduty:ListDetectors", "guardduty:GetDetector",
                   "guardduty:CreateDetector", "guardduty:UpdateDetector")

    @property
    def guardduty(self) -> Any:
        return self.target.clients("guardduty")

    def _detectors(self) -> list[str]:
        with translate(f"listing GuardDuty detectors in {self.target.region}"):
            return list(self.guardduty.list_detectors()["DetectorIds"])

    def read(self) -> State:
        for detector in self._detectors():
            with translate(f"reading GuardDuty detector {detector}"):
                if self.guardduty.get_detector(DetectorId=detector)["Status"] == "ENABLED":
                    return {"Enabled": True}
        return {"Enabled": False}

    def desired(self, before: State) -> State:
        return {"Enabled": True}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        detectors = self._detectors()
        if to["Enabled"] and not detectors:
            return [ApiCall(service="guardduty", operation="CreateDetector",
                            params={"Enable": True})]
        return [ApiCall(service="guardduty", operation="UpdateDetector",
                        params={"DetectorId": d, "Enable": to["Enabled"]}) for d in detectors]
