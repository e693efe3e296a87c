"""Remove wildcard grants (`Allow` of `*` or `service:*`, or any `NotAction`, on Resource
`*`) from IAM: customer-managed policies, inline policies of roles, users and groups, and
full-access AWS-managed policies attached to them.

- A customer-managed policy gets a new default version without the offending statements;
  every prior version is kept. At the five-version limit the oldest non-default version is
  deleted first, after its document is saved in the incident (`Plan.saved`).
- An inline policy is rewritten without them, or deleted when nothing else remains.
- An attached AWS-managed full-access policy (`AdministratorAccess` by default) is detached.

Surviving statements keep their Sid, conditions and order. Rollback makes the original
version the default again, restores inline documents and re-attaches what was detached.

Example policy:

```yaml
- name: iam-wildcard
  trigger:
    - source: cloudtrail
      kinds: [CreatePolicy, CreatePolicyVersion, PutRolePolicy]
  remediation: iam_revoke_wildcard
  mode: approve
  hipaa: ["164.312(a)(1)", "164.308(a)(4)"]
```
"""

from __future__ import annotations

from pydantic import Field

from remediations._policy_doc import EMPTY_STATEMENT, is_wildcard, without
from remediations.base import ApiCall, NoParams, State, register
from remediations.iam._iam import POLICY_VERSION_ACTIONS, PRINCIPALS, IamRemediation

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
# who a principal named by unique id (as Config names it) is found by
LOOKUPS = ("iam:ListUsers", "iam:ListRoles", "iam:ListGroups")


class Params(NoParams):
    managed_policies: list[str] = Field(default_factory=lambda: [ADMIN], description=(
        "AWS-managed policy ARNs to detach from principals"))


@register("iam_revoke_wildcard")
class IamRevokeWildcard(IamRemediation[Params]):
    """Remove wildcard Allow statements from IAM policies and detach full-access policies."""

    summary = "Remove wildcard IAM grants (keeping prior versions) and detach admin policies"
    resource_types = ("AWS::IAM::Policy", *PRINCIPALS)
    permissions = (
        *POLICY_VERSION_ACTIONS,
        "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy",
        "iam:DeleteRolePolicy", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
        "iam:AttachRolePolicy", "iam:ListRoleTags",
        "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy",
        "iam:DeleteUserPolicy", "iam:ListAttachedUserPolicies", "iam:DetachUserPolicy",
        "iam:AttachUserPolicy", "iam:ListUserTags",
        "iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:PutGroupPolicy",
        "iam:DeleteGroupPolicy", "iam:ListAttachedGroupPolicies", "iam:DetachGroupPolicy",
        "iam:AttachGroupPolicy", *LOOKUPS,
    )
    Params = Params

    def read(self) -> State:
        if self.kind is None:
            return self.read_policy()
        return {"InlinePolicies": self.read_inline(), "AttachedPolicies": self.read_attached()}

    def desired(self, before: State) -> State:
        if self.kind is None:
            doc = before["Document"]
            kept = without(doc, is_wildcard)
            if kept == doc:
                return before
            if kept is None:
                kept = {**{k: v for k, v in doc.items() if k != "Statement"},
                        "Statement": [EMPTY_STATEMENT]}
            return {**before, "Document": kept}
        inline = {}
        for name, doc in before["InlinePolicies"].items():
            kept = without(doc, is_wildcard)
            if kept is not None:
                inline[name] = kept
        banned = set(self.params.managed_policies)
        attached = [a for a in before["AttachedPolicies"] if a not in banned]
        return {"InlinePolicies": inline, "AttachedPolicies": attached}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        self._saved = {}
        if self.kind is None:
            return self.policy_calls(to)
        return (self.inline_calls(frm["InlinePolicies"], to["InlinePolicies"])
                + self.attached_calls(frm["AttachedPolicies"], to["AttachedPolicies"]))
