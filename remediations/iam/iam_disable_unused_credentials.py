"""Disable an IAM user's credentials unused for `max_age_days` (90) — after approval.

Config's `iam-user-unused-credentials-check` (Security Hub IAM.8) names the user (by unique
id, `AIDA…`). An Active access key last used (or, never used, created) more than
`max_age_days` ago is made `Inactive`, never deleted. A console password last used (or,
never used, set) that long ago is removed (`DeleteLoginProfile`): IAM has no way to
disable a password and keep it.

Example policy:

```yaml
- name: iam-unused-credentials
  trigger:
    - source: config
      kinds: [iam-user-unused-credentials-check]
  remediation: iam_disable_unused_credentials
  mode: approve
  params: {max_age_days: 90}
  hipaa: ["164.308(a)(3)"]
```

Rollback re-activates the keys. **A deleted password cannot be restored:** rollback gives
the user a console password again (`CreateLoginProfile` with a random password generated at
the moment of the call, never recorded, and `PasswordResetRequired`), which an
administrator then resets and hands to the user out of band (runbook). Exempt break-glass
users with the exemption tag.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import ResourceGone
from remediations.base import ApiCall, State, register
from remediations.iam._keys import NEVER_DELETED, Params, UserKeys, age_days


def temporary_password() -> str:
    """A random password that meets any IAM password policy (length ≤ 128, all classes)."""
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*()_+-=[]{}|"
    return "".join(secrets.choice(alphabet) for _ in range(40)) + "aZ7!"


@register("iam_disable_unused_credentials")
class IamDisableUnusedCredentials(UserKeys):
    """Deactivate unused access keys and remove an unused console password of one user."""

    summary = "Deactivate keys and remove console passwords unused for max_age_days"
    resource_types = ("AWS::IAM::User",)
    permissions = ("iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey",
                   "iam:GetUser", "iam:GetLoginProfile", "iam:DeleteLoginProfile",
                   "iam:CreateLoginProfile", "iam:ListUserTags", "iam:ListUsers")
    Params = Params

    _password_last: dt.datetime | None

    def read(self) -> State:
        state = super().read()
        user = self.target.resource.id
        with translate(f"reading IAM user {user}"):
            last = self.iam.get_user(UserName=user)["User"].get("PasswordLastUsed")
        try:
            with translate(f"reading the console password of {user}"):
                profile = self.iam.get_login_profile(UserName=user)["LoginProfile"]
        except ResourceGone:  # no console password (the user exists: read above)
            profile = None
        self._password_last = last or (profile or {}).get("CreateDate")
        return {**state, "ConsolePassword": profile is not None}

    def _unused(self, when: dt.datetime | None) -> bool:
        return when is not None and age_days(when, self.now()) > self.params.max_age_days

    def desired(self, before: State) -> State:
        stale = {k["AccessKeyId"] for k in self._keys if k["Status"] == "Active"
                 and self._unused(self._key_activity(k))}
        keys = {key: "Inactive" if key in stale else status
                for key, status in before["Keys"].items()}
        password = before["ConsolePassword"] and not self._unused(self._password_last)
        return {"Keys": keys, "ConsolePassword": password}

    def _key_activity(self, key: dict[str, Any]) -> dt.datetime:
        used = self.last_used(key["AccessKeyId"]).get("LastUsedDate")
        return used or key["CreateDate"]  # type: ignore[no-any-return]

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        calls = super().transition(frm, to)
        user = self.target.resource.id
        if frm["ConsolePassword"] and not to["ConsolePassword"]:
            calls.append(ApiCall(service="iam", operation="DeleteLoginProfile",
                                 params={"UserName": user}))
        elif to["ConsolePassword"] and not frm["ConsolePassword"]:
            # the password itself is generated in `call`, so no record ever holds it
            calls.append(ApiCall(service="iam", operation="CreateLoginProfile",
                                 params={"UserName": user, "PasswordResetRequired": True}))
        return calls

    def call(self, call: ApiCall) -> Any:
        if call.operation == "CreateLoginProfile":
            call = call.model_copy(update={"params": {**call.params,
                                                      "Password": temporary_password()}})
        return super().call(call)

    def notes(self, before: State, after: State) -> list[str]:
        out = self.key_notes(before, after)
        if before["ConsolePassword"] and not after["ConsolePassword"]:
            last = self._password_last
            out.append(f"console password last used {last:%Y-%m-%d}: it is deleted; rollback "
                       "gives a new one that an administrator must reset and hand over"
                       if last else "console password: deleted")
        return [*out, NEVER_DELETED]
