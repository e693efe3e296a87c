"""Make the account's IAM password policy at least as strict as HIPAA's pack asks, never
weaker than it already is.

Each field takes the stricter of the current and the required value: length at least
`min_length` (14), symbols, numbers, upper- and lowercase required, passwords expire after
at most `max_age_days` (90), the last `reuse_prevention` (24) passwords cannot be reused.
`AllowUsersToChangePassword` and `HardExpiry` keep their current values (False when the
account had no policy). A `MaxPasswordAge` of 0 means "never expires" (moto reports 0,
AWS omits the field): it is treated as unset and never sent.

Example policy:

```yaml
- name: iam-password-policy
  trigger:
    - source: cloudtrail
      kinds: [DeleteAccountPasswordPolicy, UpdateAccountPasswordPolicy]
    - source: config
      kinds: [iam-password-policy]
  remediation: iam_password_policy
  mode: auto
  hipaa: ["164.308(a)(5)(ii)(D)"]
```

The resource is the account (`AWS::::Account/<account>/<region>`; the policy is global).
Before-state is the policy's fields (None for no policy); rollback puts them back with
`UpdateAccountPasswordPolicy` or deletes the policy if there was none. Users meet the new
rules at their next password change; passwords older than the new maximum age expire at
their next sign-in.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ResourceGone
from chalicelib.finding import ACCOUNT
from remediations.base import ApiCall, NoParams, Remediation, State, register

REQUIRED_FLAGS = ("RequireSymbols", "RequireNumbers", "RequireUppercaseCharacters",
                  "RequireLowercaseCharacters")
KEPT_FLAGS = ("AllowUsersToChangePassword", "HardExpiry")
COUNTS = ("MinimumPasswordLength", "MaxPasswordAge", "PasswordReusePrevention")


class Params(NoParams):
    min_length: int = Field(default=14, ge=6, le=128, description=(
        "minimum password length (never lowered)"))
    max_age_days: int = Field(default=90, ge=1, le=1095, description=(
        "passwords expire after at most this many days (never lengthened)"))
    reuse_prevention: int = Field(default=24, ge=1, le=24, description=(
        "how many previous passwords cannot be reused (never lowered)"))


@register("iam_password_policy")
class IamPasswordPolicy(Remediation[Params]):
    """Tighten the account password policy to the required minimums, field by field."""

    summary = "Make the IAM account password policy at least the required strength"
    resource_types = (ACCOUNT,)
    permissions = ("iam:GetAccountPasswordPolicy", "iam:UpdateAccountPasswordPolicy",
                   "iam:DeleteAccountPasswordPolicy")
    Params = Params

    @property
    def iam(self) -> Any:
        return self.target.clients("iam")

    def read(self) -> State:
        try:
            with translate(f"reading the password policy of {self.target.account}"):
                got = self.iam.get_account_password_policy()["PasswordPolicy"]
        except ResourceGone:
            return {"PasswordPolicy": None}
        policy: dict[str, Any] = {f: bool(got.get(f, False))
                                  for f in (*REQUIRED_FLAGS, *KEPT_FLAGS)}
        for field in COUNTS:
            if got.get(field):  # 0 or absent: unset (never expires / no reuse check)
                policy[field] = int(got[field])
        return {"PasswordPolicy": policy}

    def desired(self, before: State) -> State:
        now = before["PasswordPolicy"] or {}
        p = self.params
        policy: dict[str, Any] = {f: True for f in REQUIRED_FLAGS}
        policy.update({f: bool(now.get(f, False)) for f in KEPT_FLAGS})
        policy["MinimumPasswordLength"] = max(now.get("MinimumPasswordLength", 0),
                                              p.min_length)
        policy["MaxPasswordAge"] = min(now.get("MaxPasswordAge") or p.max_age_days,
                                       p.max_age_days)
        policy["PasswordReusePrevention"] = max(now.get("PasswordReusePrevention", 0),
                                                p.reuse_prevention)
        return {"PasswordPolicy": policy}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        if to["PasswordPolicy"] is None:
            return [ApiCall(service="iam", operation="DeleteAccountPasswordPolicy")]
        # Update replaces the whole policy: every field we keep is sent, unset ones are not
        return [ApiCall(service="iam", operation="UpdateAccountPasswordPolicy",
                        params=dict(sorted(to["PasswordPolicy"].items())))]

    def notes(self, before: State, after: State) -> list[str]:
        old = before["PasswordPolicy"] or {}
        changed = [f"{k}: {old.get(k, 'unset')} -> {v}"
                   for k, v in sorted(after["PasswordPolicy"].items()) if old.get(k) != v]
        return ["users meet the new rules at their next password change; passwords older "
                "than MaxPasswordAge expire at their next sign-in", *changed]
