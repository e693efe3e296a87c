"""Revoke exactly the security-group ingress rules open to the world (`0.0.0.0/0`, `::/0`)
on ports outside the policy's `allowed_ports` (default `[443]`).

A rule whose port range includes a disallowed port is open on it; a world-open
all-protocol rule is always revoked. Rules with narrower CIDRs, security-group
references, prefix lists, allowed ports, and every egress rule stay untouched.

Example policy (a public load balancer's group may also allow 80):

```yaml
- name: sg-open-ingress
  trigger:
    - source: cloudtrail
      kinds: [AuthorizeSecurityGroupIngress]
  remediation: sg_revoke_open_ingress
  params: {allowed_ports: [443, 80]}
  mode: auto
  hipaa: ["164.312(a)(1)", "164.312(e)(1)"]
```

Before-state is the offending rules by content; rollback re-authorizes exactly those.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediations._sg import SecurityGroupRemediation, is_world_open, open_on_disallowed_port
from remediations.base import ApiCall, State, register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_ports: list[int] = Field(default_factory=lambda: [443], description=(
        "ports that may stay open to the world (TCP/UDP)"))


@register("sg_revoke_open_ingress")
class SgRevokeOpenIngress(SecurityGroupRemediation):
    """Revoke world-open ingress rules on ports the policy does not allow."""

    summary = "Revoke world-open ingress rules on disallowed ports (other rules untouched)"
    permissions = ("ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
                   "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress")
    Params = Params
    egress = False

    def read(self) -> State:
        allowed = list(getattr(self.target.params, "allowed_ports", [443]))
        return {"OpenRules": [r for r in self.rules(egress=self.egress)
                              if is_world_open(r) and open_on_disallowed_port(r, allowed)]}

    def desired(self, before: State) -> State:
        return {"OpenRules": []}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return self.rule_calls(frm["OpenRules"], to["OpenRules"], egress=self.egress)
