"""Deactivate an IAM user's access keys older than `max_age_days` (90) — after approval.

Config's `access-keys-rotated` (Security Hub IAM.3) names the user (by unique id, `AIDA…`).
Rotating a key means handing its owner a new secret, which a remediation cannot do; so every
`Active` key created more than `max_age_days` ago is made `Inactive`, never deleted, and
the owner rotates it (create a new key, move the workload, delete the old one). The
approval lists each key with its age and its last use (date, service, region), so the
approver sees what will break: anything still signing with the key.

Example policy:

```yaml
- name: iam-access-keys-rotated
  trigger:
    - source: config
      kinds: [access-keys-rotated]
  remediation: iam_deactivate_stale_keys
  mode: approve
  params: {max_age_days: 90}
  hipaa: ["164.308(a)(5)(ii)(D)"]
```

Before-state is each key's status; rollback makes the deactivated keys `Active` again. A
user of autoremediate's own is refused; a break-glass user is exempted by its tag.
"""

from __future__ import annotations

from remediations.base import State, register
from remediations.iam._keys import Params, UserKeys, age_days


@register("iam_deactivate_stale_keys")
class IamDeactivateStaleKeys(UserKeys):
    """Deactivate the user's Active access keys older than max_age_days (never delete)."""

    summary = "Deactivate access keys older than max_age_days (never deleted; owner rotates)"
    resource_types = ("AWS::IAM::User",)
    permissions = ("iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey",
                   "iam:ListUserTags", "iam:ListUsers")
    Params = Params

    def desired(self, before: State) -> State:
        limit = self.params.max_age_days
        stale = {k["AccessKeyId"] for k in self._keys if k["Status"] == "Active"
                 and age_days(k["CreateDate"], self.now()) > limit}
        return {"Keys": {key: "Inactive" if key in stale else status
                         for key, status in before["Keys"].items()}}
