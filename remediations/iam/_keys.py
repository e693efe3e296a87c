"""What the remediations acting on one IAM user's access keys share: listing them (our own
principals refused), their age and last use for the approval, and the UpdateAccessKey
calls between two sets of statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import HandsOff
from remediations.base import ApiCall, NoParams, State
from remediations.iam._iam import IamRemediation

NEVER_DELETED = ("keys are deactivated, never deleted: anything still using them breaks "
                 "until rollback or rotation")


class Params(NoParams):
    max_age_days: int = Field(default=90, ge=1, le=3650, description=(
        "days after which a key (by age, or by last use for unused credentials) or an "
        "unused console password is disabled"))


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

    def key_notes(self, before: State, after: State) -> list[str]:
        """One line per key that changes: its age and last use (the approver's question:
        what still uses it?)."""
        created = {k["AccessKeyId"]: k["CreateDate"] for k in getattr(self, "_keys", [])}
        out = []
        for key, status in sorted(after["Keys"].items()):
            if before["Keys"].get(key) != status:
                age = (f"{age_days(created[key], self.now())} days old, " if key in created
                       else "")
                out.append(f"{key}: {age}{self.describe_use(key)} -> {status}")
        return out

    def notes(self, before: State, after: State) -> list[str]:
        return [*self.key_notes(before, after), NEVER_DELETED]
