"""Stop IAM policies allowing KMS decryption on every key: remove the blocked actions
(`kms:Decrypt`, `kms:ReEncryptFrom`, and the patterns that grant them: `kms:*`,
`kms:ReEncrypt*`, …) from `Allow` statements on Resource `*` — after approval.

Config's `iam-customer-policy-blocked-kms-actions` (Security Hub KMS.1) names a
customer-managed policy (by id, `ANPA…`): it gets a new default version, prior versions
kept (at the five-version limit the oldest non-default one is deleted after its document
is saved in the incident). `iam-inline-policy-blocked-kms-actions` (KMS.2) names a user,
role or group: its inline policies are rewritten. Narrow, do not drop: every other action
of the statement stays, with its Sid and conditions; a statement left with no action goes.
With `allowed_key_arns`, the blocked actions are kept on those keys instead (a statement
`<Sid>KmsKeys` with the same conditions), so a workload that decrypts one key keeps it.

An `Action: "*"` or `NotAction` statement also grants decryption; it is
`iam_revoke_wildcard`'s to remove, and the approval notes say so.

Example policy:

```yaml
- name: iam-blocked-kms-actions
  trigger:
    - source: config
      kinds: [iam-customer-policy-blocked-kms-actions, iam-inline-policy-blocked-kms-actions]
  remediation: iam_revoke_blocked_kms_actions
  mode: approve
  hipaa: ["164.312(a)(2)(iv)"]
```

Rollback makes the prior version the default again (a managed policy) or puts the saved
inline documents back.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import Field

from remediations._policy_doc import EMPTY_STATEMENT, statements
from remediations.base import ApiCall, NoParams, State, register
from remediations.iam._iam import POLICY_VERSION_ACTIONS, PRINCIPALS, IamRemediation

BLOCKED = ("kms:decrypt", "kms:reencryptfrom")  # what Config's rule checks for


class Params(NoParams):
    allowed_key_arns: list[str] = Field(default_factory=list, description=(
        "KMS key ARNs the blocked actions stay allowed on (empty: remove them)"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants_blocked(action: Any) -> bool:
    """A KMS action pattern that allows kms:Decrypt or kms:ReEncryptFrom (not `*` alone:
    that is a wildcard grant, for iam_revoke_wildcard)."""
    if not isinstance(action, str) or not action.lower().startswith("kms:"):
        return False
    return any(fnmatchcase(blocked, action.lower()) for blocked in BLOCKED)


def _on_every_key(statement: dict[str, Any]) -> bool:
    return (statement.get("Effect") == "Allow"
            and "*" in _as_list(statement.get("Resource", [])))


def narrow(doc: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """`doc` with the blocked actions taken out of Allow-on-`*` statements (kept on `keys`
    when given); unchanged when nothing grants them."""
    out: list[dict[str, Any]] = []
    for statement in statements(doc):
        actions = _as_list(statement.get("Action", []))
        blocked = [a for a in actions if grants_blocked(a)]
        if not _on_every_key(statement) or "Action" not in statement or not blocked:
            out.append(statement)
            continue
        kept = [a for a in actions if a not in blocked]
        if kept:
            out.append({**statement, "Action": kept if len(kept) > 1 else kept[0]})
        if keys:
            sid = f"{statement.get('Sid', '')}KmsKeys"
            out.append({**{k: v for k, v in statement.items() if k != "Sid"}, "Sid": sid,
                        "Action": blocked if len(blocked) > 1 else blocked[0],
                        "Resource": sorted(keys)})
    if out == statements(doc):
        return doc
    return {**{k: v for k, v in doc.items() if k != "Statement"},
            "Statement": out or [EMPTY_STATEMENT]}


def left_to_wildcard(doc: dict[str, Any]) -> bool:
    """Does `doc` still grant decryption through `*` or NotAction on every key?"""
    return any(_on_every_key(s) and ("NotAction" in s or "*" in _as_list(s.get("Action", [])))
               for s in statements(doc))


@register("iam_revoke_blocked_kms_actions")
class IamRevokeBlockedKmsActions(IamRemediation[Params]):
    """Remove kms:Decrypt / kms:ReEncryptFrom grants on all keys from IAM policies."""

    summary = "Remove KMS decrypt grants on every key from IAM policies (other actions stay)"
    resource_types = ("AWS::IAM::Policy", *PRINCIPALS)
    permissions = (
        *POLICY_VERSION_ACTIONS,
        "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:ListRoleTags",
        "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:ListUserTags",
        "iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:PutGroupPolicy",
        "iam:ListUsers", "iam:ListRoles", "iam:ListGroups",
    )
    Params = Params

    def read(self) -> State:
        if self.kind is None:
            return self.read_policy()
        return {"InlinePolicies": self.read_inline()}

    def desired(self, before: State) -> State:
        keys = self.params.allowed_key_arns
        if self.kind is None:
            return {**before, "Document": narrow(before["Document"], keys)}
        return {"InlinePolicies": {name: narrow(doc, keys)
                                   for name, doc in before["InlinePolicies"].items()}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        self._saved = {}
        if self.kind is None:
            return self.policy_calls(to)
        return self.inline_calls(frm["InlinePolicies"], to["InlinePolicies"])

    def notes(self, before: State, after: State) -> list[str]:
        docs = ([after["Document"]] if self.kind is None
                else list(after["InlinePolicies"].values()))
        out = ["workloads that decrypt with these principals lose access to keys not "
               "granted elsewhere (a key policy or allowed_key_arns)"]
        if any(left_to_wildcard(d) for d in docs):
            out.append("a statement still allows '*' or NotAction on every resource: "
                       "iam_revoke_wildcard removes it")
        return out
