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

import datetime as dt
from typing import Any

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import HandsOff
from remediations.base import ApiCall, NoParams, State, register
from remediations.iam._iam import IamRemediation


class Params(NoParams):
    max_age_days: int = Field(default=90, ge=1, le=3650, description=(
        "an Active access key created longer ago than this is deactivated"))


def age_days(created: dt.datetime, now: dt.datetime) -> int:
    return (now - created).days


class UserKeys(IamRemediation[Params]):
    """Base for remediations that deactivate some of one user's access keys."""

    _keys: list[dict[str, Any]]

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def list_keys(self) -> list[dict[str, Any]]:
        user = self.resolve().id
        arn = f"arn:aws:iam::{self.target.account}:user/{user}"
        if self.target.is_ours(arn):
            raise HandsOff(f"{arn} is one of autoremediate's own principals: deactivating "
                           "its keys would stop remediation; rotate them by hand")
        with translate(f"listing the access keys of {user}"):
            keys = self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        self._keys = sorted(keys, key=lambda k: k["AccessKeyId"])
        return self._keys

    def last_used(self, key_id: str) -> dict[str, Any]:
        with translate(f"reading the last use of {key_id}"):
            got = self.iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
        return dict(got)

    def describe_use(self, key_id: str) -> str:
        used = self.last_used(key_id)
        when = used.get("LastUsedDate")
        if not when:
            return "never used"
        return (f"last used {when:%Y-%m-%d} by {used.get('ServiceName', '?')} in "
                f"{used.get('Region', '?')}")

    def read(self) -> State:
        return {"Keys": {k["AccessKeyId"]: k["Status"] for k in self.list_keys()}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="iam", operation="UpdateAccessKey", params={
            "UserName": self.target.resource.id, "AccessKeyId": key, "Status": status})
            for key, status in sorted(to["Keys"].items()) if frm["Keys"].get(key) != status]

    def notes(self, before: State, after: State) -> list[str]:
        created = {k["AccessKeyId"]: k["CreateDate"] for k in getattr(self, "_keys", [])}
        out = []
        for key, status in sorted(after["Keys"].items()):
            if before["Keys"].get(key) != status:
                age = (f"{age_days(created[key], self.now())} days old, " if key in created
                       else "")
                out.append(f"{key}: {age}{self.describe_use(key)} -> {status}")
        return [*out, "keys are deactivated, never deleted: anything still using them "
                      "breaks until rollback or rotation"]


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
