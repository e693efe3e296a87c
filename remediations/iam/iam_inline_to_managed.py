"""Move a user's, role's or group's inline policies to customer-managed policies with the
same documents — after approval.

Config's `iam-no-inline-policy-check` names the principal (by unique id). Each inline
policy `NAME` of principal `P` becomes the managed policy `P-NAME` under the path
`/autoremediate/` (same document: permissions do not change), attached to `P`, and only
then is the inline policy deleted, so the principal never lacks a permission. Managed
policies are versioned, reusable and visible to Access Analyzer; inline ones are none of
these.

Left alone (the incident says why): service-linked roles (`/aws-service-role/`, owned by
their service) and `AWSReservedSSO_*` roles (IAM Identity Center rewrites them). A move
that would pass the attached-policy quota (`attached_quota`, 10 by default) fails before
any change.

Example policy:

```yaml
- name: iam-no-inline-policies
  trigger:
    - source: config
      kinds: [iam-no-inline-policy-check]
  remediation: iam_inline_to_managed
  mode: approve
  hipaa: ["164.308(a)(4)"]
```

Rollback puts each inline document back, then detaches and deletes the managed copies.
"""

from __future__ import annotations

import json

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import HandsOff, RemediationError
from remediations.base import ApiCall, NoParams, State, register
from remediations.iam._iam import PRINCIPALS, IamRemediation

PATH = "/autoremediate/"


class Params(NoParams):
    attached_quota: int = Field(default=10, ge=1, le=20, description=(
        "managed policies a principal may have attached (IAM's default quota is 10)"))


@register("iam_inline_to_managed")
class IamInlineToManaged(IamRemediation[Params]):
    """Replace inline policies with identical customer-managed policies, attached."""

    summary = "Move inline IAM policies to attached managed policies (same documents)"
    resource_types = tuple(PRINCIPALS)
    permissions = (
        "iam:GetRole", "iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy",
        "iam:DeleteRolePolicy", "iam:ListAttachedRolePolicies", "iam:AttachRolePolicy",
        "iam:DetachRolePolicy", "iam:ListRoleTags",
        "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy",
        "iam:DeleteUserPolicy", "iam:ListAttachedUserPolicies", "iam:AttachUserPolicy",
        "iam:DetachUserPolicy", "iam:ListUserTags",
        "iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:PutGroupPolicy",
        "iam:DeleteGroupPolicy", "iam:ListAttachedGroupPolicies", "iam:AttachGroupPolicy",
        "iam:DetachGroupPolicy",
        "iam:ListUsers", "iam:ListRoles", "iam:ListGroups",
    )
    Params = Params

    _attached: list[str]

    def _copy_arn(self, inline: str) -> str:
        name = f"{self.target.resource.id}-{inline}"[:128]
        return f"arn:aws:iam::{self.target.account}:policy{PATH}{name}"

    def _refuse_managed_roles(self) -> None:
        if self.kind != "Role":
            return
        name = self.target.resource.id
        with translate(f"reading IAM role {name}"):
            role = self.iam.get_role(RoleName=name)["Role"]
        if str(role.get("Path", "")).startswith("/aws-service-role/"):
            raise HandsOff(f"{name} is a service-linked role: its service owns its policies")
        if name.startswith("AWSReservedSSO_"):
            raise HandsOff(f"{name} is an IAM Identity Center role: Identity Center "
                           "rewrites its inline policy; move it in the permission set")

    def read(self) -> State:
        self.resolve()
        self._refuse_managed_roles()
        self._attached = self.read_attached()
        copies = {}
        for arn in self._attached:
            if f":policy{PATH}" in arn:
                with translate(f"reading IAM policy {arn}"):
                    version = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                copies[arn] = self.version_doc(arn, version)
        return {"InlinePolicies": self.read_inline(), "ManagedCopies": copies}

    def desired(self, before: State) -> State:
        copies = dict(before["ManagedCopies"])
        for name, doc in before["InlinePolicies"].items():
            copies[self._copy_arn(name)] = doc
        new = len(copies) - len(before["ManagedCopies"])
        if new and len(self._attached) + new > self.params.attached_quota:
            raise RemediationError(
                f"{self.target.resource.display} has {len(self._attached)} managed policies "
                f"attached; {new} more would pass the quota of {self.params.attached_quota}")
        return {"InlinePolicies": {}, "ManagedCopies": copies}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        kind, key = self.kind, self.principal
        # first grant (a new copy; on rollback the inline document back), then take away
        # (the inline policy; on rollback the copy): the principal never lacks a permission
        calls = []
        for arn, doc in to["ManagedCopies"].items():
            if arn not in frm["ManagedCopies"]:
                calls.append(ApiCall(service="iam", operation="CreatePolicy", params={
                    "PolicyName": arn.rsplit("/", 1)[-1], "Path": PATH,
                    "PolicyDocument": json.dumps(doc),
                    "Description": f"autoremediate: moved from an inline policy of "
                                   f"{str(kind).lower()} {self.target.resource.id}"[:1000]}))
                calls.append(ApiCall(service="iam", operation=f"Attach{kind}Policy",
                                     params={**key, "PolicyArn": arn}))
        calls += self.inline_calls(frm["InlinePolicies"], to["InlinePolicies"])
        for arn in frm["ManagedCopies"]:
            if arn not in to["ManagedCopies"]:
                calls.append(ApiCall(service="iam", operation=f"Detach{kind}Policy",
                                     params={**key, "PolicyArn": arn}))
                calls.append(ApiCall(service="iam", operation="DeletePolicy",
                                     params={"PolicyArn": arn}))
        return calls

    def notes(self, before: State, after: State) -> list[str]:
        moved = sorted(set(after["ManagedCopies"]) - set(before["ManagedCopies"]))
        return [*(f"inline -> {arn}" for arn in moved),
                "permissions do not change (same documents); IaC that owns the inline "
                "policies will put them back (fight detection then asks a human)"]
