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

Before- and after-state are all the group's ingress rules by content (the timeline's diff
shows what went and what stayed); rollback re-authorizes exactly the revoked ones.

Revoking can cut a connection (`cuts_traffic`): the plan first counts the accepted flows of
the last `preflight_days` that the revoked rules carried (`chalicelib.preflight`); with
`preflight: hold_if_traffic` a port other than 22/3389 in use waits for approval.
"""

from __future__ import annotations

from pydantic import Field

from chalicelib.preflight import TrafficParams
from remediations.base import ApiCall, State, register
from remediations.ec2._sg import (
    PREFLIGHT_PERMISSIONS,
    SecurityGroupRemediation,
    is_world_open,
    open_on_disallowed_port,
)


class Params(TrafficParams):
    allowed_ports: list[int] = Field(default_factory=lambda: [443], description=(
        "ports that may stay open to the world (TCP/UDP)"))


@register("sg_revoke_open_ingress")
class SgRevokeOpenIngress(SecurityGroupRemediation[Params]):
    """Revoke world-open ingress rules on ports the policy does not allow."""

    summary = "Revoke world-open ingress rules on disallowed ports (other rules untouched)"
    permissions = ("ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
                   "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress",
                   *PREFLIGHT_PERMISSIONS)
    Params = Params
    cuts_traffic = True
    egress = False

    @property
    def direction(self) -> str:
        return "Egress" if self.egress else "Ingress"

    def read(self) -> State:
        # every rule of the direction, so the timeline's before/after shows what stayed
        return {self.direction: self.rules(egress=self.egress)}

    def desired(self, before: State) -> State:
        allowed = self.params.allowed_ports
        return {self.direction: [r for r in before[self.direction] if not (
            is_world_open(r) and open_on_disallowed_port(r, allowed))]}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return self.rule_calls(frm[self.direction], to[self.direction], egress=self.egress)
