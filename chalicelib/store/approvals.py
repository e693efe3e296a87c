"""Pending approvals, decided exactly once, and the groups of fixes the blast-radius limit
holds (one Slack message per account, policy and hour).

| item        | pk                                  | sk    |
|-------------|-------------------------------------|-------|
| approval    | APPROVAL#<approval id>              | META  |
| held group  | HELD#<account>#<policy>#<hour>      | GROUP |
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from chalicelib.errors import NotFound
from chalicelib.record import Approval, ApprovalState
from chalicelib.store.table import Table, iso


def held_group_id(account: str, policy: str, at: dt.datetime) -> str:
    return f"HELD#{account}#{policy}#{at.astimezone(dt.UTC):%Y-%m-%dT%H}"


# held fixes carry `held` = "true" (and their group); others have no `held` attribute
_HELD = "true"


class Approvals(Table):
    def put_approval(self, approval: Approval) -> None:
        item = approval.model_dump(mode="json", exclude_none=True,
                                   exclude={"held", "approved_by"})
        self._put({"pk": f"APPROVAL#{approval.approval_id}", "sk": "META", "kind": "approval",
                   **{k: json.dumps(v, default=str) if isinstance(v, dict | list) else v
                      for k, v in item.items()},
                   "created_at": approval.created_at.isoformat(),
                   "expires_at": approval.expires_at.isoformat(),
                   **({"held": _HELD} if approval.held else {})},
                  condition="attribute_not_exists(pk)")

    def approval(self, approval_id: str) -> Approval:
        item = self._get(f"APPROVAL#{approval_id}", "META")
        if item is None:
            raise NotFound(f"no approval {approval_id!r}")
        return self._approval_from(item)

    def pending_approvals(self, *, held: bool = False, **equal: str) -> list[Approval]:
        """Approvals still waiting for a decision (only held ones when `held`; whose
        attributes equal `equal`), oldest first."""
        if held:
            equal["held"] = _HELD
        found = [self._approval_from(i) for i in self._scan(
            kind="approval", state=ApprovalState.PENDING.value, **equal)]
        return sorted(found, key=lambda a: a.created_at)

    @staticmethod
    def _approval_from(item: dict[str, Any]) -> Approval:
        if isinstance(item.get("approved_by"), set):
            item["approved_by"] = sorted(item["approved_by"])
        for key in ("plan", "finding", "approvers"):
            if isinstance(item.get(key), str):
                item[key] = json.loads(item[key])
        item["held"] = item.get("held") == _HELD
        return Approval.model_validate(item)

    def set_approval_fields(self, approval_id: str, **fields: Any) -> None:
        self._update(f"APPROVAL#{approval_id}", "META", fields,
                     condition="attribute_exists(pk)")

    def add_approver(self, approval_id: str, user: str) -> int:
        """Add `user` to a pending approval's approvers-so-far; returns how many there are.
        StateConflict if `user` already approved or it is no longer pending."""
        got = self.call(
            "UpdateItem",
            Key={"pk": {"S": f"APPROVAL#{approval_id}"}, "sk": {"S": "META"}},
            UpdateExpression="ADD approved_by :u",
            ConditionExpression="#s = :p AND NOT contains(approved_by, :user)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":u": {"SS": [user]}, ":user": {"S": user},
                                       ":p": {"S": ApprovalState.PENDING.value}},
            ReturnValues="ALL_NEW")
        return len(got["Attributes"]["approved_by"]["SS"])

    def decide_approval(self, approval_id: str, state: ApprovalState, user: str, *,
                        expected: ApprovalState = ApprovalState.PENDING) -> None:
        """Move an approval from `expected` to `state` exactly once (StateConflict if not)."""
        self.call(
            "UpdateItem",
            Key={"pk": {"S": f"APPROVAL#{approval_id}"}, "sk": {"S": "META"}},
            UpdateExpression="SET #s = :new, decided_by = :u, decided_at = :t",
            ConditionExpression="#s = :expected",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":new": {"S": state.value}, ":u": {"S": user},
                                       ":t": {"S": iso(self.clock())},
                                       ":expected": {"S": expected.value}})

    # -- held groups ------------------------------------------------------------------------
    def hold(self, group_id: str, approval_id: str, *, account: str,
             policy: str) -> dict[str, Any]:
        """Add a held fix to its group (created on first use); returns the group after."""
        from boto3.dynamodb.types import TypeDeserializer

        got = self.call(
            "UpdateItem", Key={"pk": {"S": group_id}, "sk": {"S": "GROUP"}},
            UpdateExpression="ADD approval_ids :a, held :one "
                             "SET kind = :k, account = :acct, policy = :p",
            ExpressionAttributeValues={":a": {"SS": [approval_id]}, ":one": {"N": "1"},
                                       ":k": {"S": "held_group"}, ":acct": {"S": account},
                                       ":p": {"S": policy}},
            ReturnValues="ALL_NEW")
        de = TypeDeserializer()
        return {"group_id": group_id,
                **{k: de.deserialize(v) for k, v in got["Attributes"].items()}}

    def held_group(self, group_id: str) -> dict[str, Any]:
        item = self._get(group_id, "GROUP")
        if item is None:
            raise NotFound(f"no group of held fixes {group_id!r}")
        return {"group_id": group_id, **item}

    def set_group_fields(self, group_id: str, **fields: Any) -> None:
        self._update(group_id, "GROUP", fields, condition="attribute_exists(pk)")
