"""Record the finding as an incident and change nothing (GuardDuty findings we can't fix).

Example policy:

```yaml
- name: guardduty-other
  fallback: true        # only when no other policy matched
  trigger:
    - source: guardduty
      kinds: ["*"]
      min_severity: 4
  remediation: open_incident
  mode: auto
  hipaa: ["164.308(a)(6)(ii)"]
```
"""

from __future__ import annotations

from remediations.base import ApiCall, Remediation, State, register


@register("open_incident")
class OpenIncident(Remediation):
    """Record the finding as an incident for responders; make no AWS change."""

    summary = "Open an incident record for responders; change nothing in AWS"
    resource_types = ("*",)
    permissions = ()
    record_only = True

    def read(self) -> State:
        return {}

    def desired(self, before: State) -> State:
        return before

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return []
