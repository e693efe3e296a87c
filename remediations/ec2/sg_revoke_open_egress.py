"""Revoke world-open egress (`0.0.0.0/0`, `::/0`) outside `allowed_ports` (default
`[443]`) on security groups the policy selects by tag — including the allow-all rule every
group starts with. Unrestricted outbound traffic from PHI-processing subnets is how data
leaves; but every default group allows all egress, so acting on all of them would break
every workload: the policy's `resource_tags` (default `data-classification: phi`) picks
the groups, using the tags this remediation reads anyway.

Example policy:

```yaml
- name: sg-open-egress
  trigger:
    - source: cloudtrail
      kinds: [AuthorizeSecurityGroupEgress]
  resource_tags: {data-classification: phi}
  remediation: sg_revoke_open_egress
  mode: approve
  hipaa: ["164.312(e)(1)"]
```

Before- and after-state are all the group's egress rules by content; rollback
re-authorizes exactly the revoked ones.
"""

from __future__ import annotations

from remediations.base import register
from remediations.ec2._sg import PREFLIGHT_PERMISSIONS
from remediations.ec2.sg_revoke_open_ingress import SgRevokeOpenIngress


@register("sg_revoke_open_egress")
class SgRevokeOpenEgress(SgRevokeOpenIngress):
    """Revoke world-open egress rules on ports the policy does not allow."""

    summary = "Revoke world-open egress rules on disallowed ports of tag-selected groups"
    permissions = ("ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
                   "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupEgress",
                   *PREFLIGHT_PERMISSIONS)
    egress = True
    cuts_traffic = True
