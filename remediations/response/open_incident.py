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

A rule that cannot be fixed in place (root MFA, an unencrypted EFS file system) says why
and where the runbook's manual steps are; both become the outcome's reason:

```yaml
  remediation: open_incident
  params:
    why: "only the root user can enrol MFA on the root account"
    runbook: "runbooks/hipaa-iam.md#root-account-mfa-enabled"
```
"""

from __future__ import annotations

from pydantic import Field

from remediations.base import ApiCall, NoParams, Remediation, State, register


class Params(NoParams):
    why: str | None = Field(default=None, description=(
        "why this cannot be fixed in place (ids and settings only: it reaches Slack)"))
    runbook: str | None = Field(default=None, description=(
        "where the manual fix is described, e.g. runbooks/hipaa-iam.md#root-account-mfa"))


@register("open_incident")
class OpenIncident(Remediation[Params]):
    """Record the finding as an incident for responders; make no AWS change."""

    summary = "Open an incident record for responders; change nothing in AWS"
    resource_types = ("*",)
    permissions = ()
    record_only = True
    Params = Params

    def read(self) -> State:
        return {}

    def desired(self, before: State) -> State:
        return before

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return []

    def notes(self, before: State, after: State) -> list[str]:
        said = [self.params.why] if self.params.why else []
        return said + ([f"runbook: {self.params.runbook}"] if self.params.runbook else [])
