"""Close a VPC's default security group: remove all its ingress and egress rules
(after approval).

CIS and AWS Config (`vpc-default-security-group-closed`) expect default groups to be
closed, so that nothing lands in them by accident with open access. Anything that does
use the default group loses its network access, so a human approves the exact plan.

Example policy:

```yaml
- name: sg-default-closed
  trigger:
    - source: config
      kinds: [vpc-default-security-group-closed]
  remediation: sg_close_default
  mode: approve
  hipaa: ["164.312(a)(1)"]
```

Before-state is every rule by content; rollback re-authorizes all of them.
"""

from __future__ import annotations

from chalicelib.aws import translate
from chalicelib.errors import NotApplicable
from chalicelib.preflight import TrafficParams
from remediations.base import ApiCall, State, register
from remediations.ec2._sg import PREFLIGHT_PERMISSIONS, SecurityGroupRemediation


@register("sg_close_default")
class SgCloseDefault(SecurityGroupRemediation[TrafficParams]):
    """Remove every rule of a default security group."""

    summary = "Remove all ingress and egress rules of the VPC's default security group"
    permissions = ("ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
                   "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress",
                   "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupEgress",
                   *PREFLIGHT_PERMISSIONS)
    Params = TrafficParams
    cuts_traffic = True

    def read(self) -> State:
        with translate(f"describing {self.group_id}"):
            groups = self.ec2.describe_security_groups(GroupIds=[self.group_id])
        if groups["SecurityGroups"][0]["GroupName"] != "default":
            raise NotApplicable(f"{self.group_id} is not a VPC's default security group")
        return {"Ingress": self.rules(egress=False), "Egress": self.rules(egress=True)}

    def desired(self, before: State) -> State:
        return {"Ingress": [], "Egress": []}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [*self.rule_calls(frm["Ingress"], to["Ingress"], egress=False),
                *self.rule_calls(frm["Egress"], to["Egress"], egress=True)]
