"""Contain a compromised IAM user access key: make that key `Inactive` (after approval).

GuardDuty credential findings (`UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*`,
`…/MaliciousIPCaller(.Custom)`, `…/TorIPCaller`, `CredentialAccess:IAMUser/AnomalousBehavior`)
whose `accessKeyDetails.userType` is `IAMUser` name a long-term key (`AKIA…`). The key is
deactivated, never deleted; the user's other keys are untouched. A key of one of our own
principals is refused with the reason (containing it would stop remediation itself).

Example policy:

```yaml
- name: contain-user-key
  trigger:
    - source: guardduty
      kinds: ["UnauthorizedAccess:IAMUser/*"]
  remediation: iam_deactivate_access_key
  mode: approve
  hipaa: ["164.308(a)(6)(ii)", "164.312(d)"]
```

Before-state is the key's status; rollback re-activates it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import HandsOff, ResourceGone
from chalicelib.finding import ACCESS_KEY
from remediations.base import ApiCall, Remediation, State, register


@register("iam_deactivate_access_key")
class IamDeactivateAccessKey(Remediation):
    """Deactivate one IAM user's compromised access key."""

    summary = "Deactivate the compromised access key (never delete; other keys untouched)"
    resource_types = (ACCESS_KEY,)
    permissions = ("iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:ListUserTags")

    @property
    def iam(self) -> Any:
        return self.target.clients("iam")

    @property
    def user(self) -> str:
        return self.target.resource.id.split("/", 1)[0]

    @property
    def key(self) -> str:
        return self.target.resource.id.split("/", 1)[-1]

    def read(self) -> State:
        user_arn = f"arn:aws:iam::{self.target.account}:user/{self.user}"
        if self.target.is_ours(user_arn):
            raise HandsOff(f"{user_arn} is one of autoremediate's own principals: "
                           "containing it would stop remediation; investigate by hand")
        with translate(f"listing the access keys of {self.user}"):
            keys = self.iam.list_access_keys(UserName=self.user)["AccessKeyMetadata"]
        for key in keys:
            if key["AccessKeyId"] == self.key:
                return {"Status": key["Status"]}
        raise ResourceGone(f"user {self.user} has no access key {self.key}")

    def desired(self, before: State) -> State:
        return {"Status": "Inactive"}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="iam", operation="UpdateAccessKey", params={
            "UserName": self.user, "AccessKeyId": self.key, "Status": to["Status"]})]

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of user {self.user}"):
            tags = self.iam.list_user_tags(UserName=self.user).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}
