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

import json
from typing import Any

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import RemediationError, ResourceGone
from chalicelib.finding import Resource
from remediations._policy_doc import EMPTY_STATEMENT, canonical, is_wildcard, parse, without
from remediations.base import ApiCall, NoParams, Remediation, State, register

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
PRINCIPALS = {"AWS::IAM::Role": "Role", "AWS::IAM::User": "User", "AWS::IAM::Group": "Group"}
MAX_VERSIONS = 5


class Params(NoParams):
    managed_policies: list[str] = Field(default_factory=lambda: [ADMIN], description=(
        "AWS-managed policy ARNs to detach from principals"))


@register("iam_revoke_wildcard")
class IamRevokeWildcard(Remediation[Params]):
    """Remove wildcard Allow statements from IAM policies and detach full-access policies."""

    summary = "Remove wildcard IAM grants (keeping prior versions) and detach admin policies"
    resource_types = ("AWS::IAM::Policy", *PRINCIPALS)
    permissions = (
        "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicies",
        "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
        "iam:ListPolicyTags",
        "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy",
        "iam:DeleteRolePolicy", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
        "iam:AttachRolePolicy", "iam:ListRoleTags",
        "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy",
        "iam:DeleteUserPolicy", "iam:ListAttachedUserPolicies", "iam:DetachUserPolicy",
        "iam:AttachUserPolicy", "iam:ListUserTags",
        "iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:PutGroupPolicy",
        "iam:DeleteGroupPolicy", "iam:ListAttachedGroupPolicies", "iam:DetachGroupPolicy",
        "iam:AttachGroupPolicy",
    )
    Params = Params

    _saved: dict[str, Any]

    @property
    def iam(self) -> Any:
        return self.target.clients("iam")

    @property
    def kind(self) -> str | None:
        """Role, User or Group for a principal; None for a managed policy."""
        return PRINCIPALS.get(self.target.resource.type)

    # -- managed policies -----------------------------------------------------------------
    def resolve(self) -> Resource:
        """A managed policy named by id (as Config names it) becomes its ARN."""
        found = self.target.resource
        if found.type != "AWS::IAM::Policy" or found.id.startswith("arn:"):
            return found
        with translate(f"looking up IAM policy id {found.id}"):
            for page in self.iam.get_paginator("list_policies").paginate(Scope="Local"):
                for policy in page["Policies"]:
                    if found.id in (policy["PolicyId"], policy["PolicyName"]):
                        arn = str(policy["Arn"])
                        self.target.resource = Resource(type=found.type, id=arn, arn=arn,
                                                        tags=found.tags)
                        return self.target.resource
        raise ResourceGone(f"no customer-managed IAM policy with id {found.id}")

    def policy_arn(self) -> str:
        """The policy's ARN (resolved from an id first, if the event named one)."""
        arn = self.resolve().id
        if ":aws:policy/" in arn:
            raise RemediationError(f"{arn} is AWS-managed and cannot be edited; "
                                   "detach it from the principals instead")
        return arn

    def _version_doc(self, arn: str, version: str) -> dict[str, Any]:
        with translate(f"reading {arn} {version}"):
            got = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)
        return canonical(parse(got["PolicyVersion"]["Document"]))

    def _versions(self, arn: str) -> list[dict[str, Any]]:
        with translate(f"listing versions of {arn}"):
            versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        return sorted(versions, key=lambda v: v["CreateDate"])

    def _read_policy(self) -> State:
        arn = self.policy_arn()
        with translate(f"reading IAM policy {arn}"):
            default = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return {"PolicyArn": arn, "Document": self._version_doc(arn, default)}

    def _policy_calls(self, to: State) -> list[ApiCall]:
        arn = to["PolicyArn"]
        versions = self._versions(arn)
        others = [v for v in versions if not v["IsDefaultVersion"]]
        for version in others:  # the wanted document is an existing version: make it default
            if self._version_doc(arn, version["VersionId"]) == to["Document"]:
                return [ApiCall(service="iam", operation="SetDefaultPolicyVersion",
                                params={"PolicyArn": arn, "VersionId": version["VersionId"]})]
        calls = []
        if len(versions) >= MAX_VERSIONS and others:
            oldest = others[0]["VersionId"]
            self._saved.setdefault("deleted_versions", {})[oldest] = self._version_doc(
                arn, oldest)
            calls.append(ApiCall(service="iam", operation="DeletePolicyVersion",
                                 params={"PolicyArn": arn, "VersionId": oldest}))
        calls.append(ApiCall(service="iam", operation="CreatePolicyVersion", params={
            "PolicyArn": arn, "PolicyDocument": json.dumps(to["Document"]),
            "SetAsDefault": True}))
        return calls

    # -- principals (inline + attached) ---------------------------------------------------
    def _read_principal(self, kind: str) -> State:
        name = self.target.resource.id
        key = {f"{kind}Name": name}
        lower = kind.lower()
        with translate(f"reading IAM {lower} {name}"):
            names = []
            for page in self.iam.get_paginator(f"list_{lower}_policies").paginate(**key):
                names.extend(page["PolicyNames"])
            inline = {}
            for policy in sorted(names):
                got = getattr(self.iam, f"get_{lower}_policy")(**key, PolicyName=policy)
                inline[policy] = canonical(parse(got["PolicyDocument"]))
            attached: list[str] = []
            for page in self.iam.get_paginator(
                    f"list_attached_{lower}_policies").paginate(**key):
                attached.extend(p["PolicyArn"] for p in page["AttachedPolicies"])
        return {"InlinePolicies": inline, "AttachedPolicies": sorted(attached)}

    def _principal_calls(self, kind: str, frm: State, to: State) -> list[ApiCall]:
        key = {f"{kind}Name": self.target.resource.id}
        calls = []
        for name, doc in frm["InlinePolicies"].items():
            if name not in to["InlinePolicies"]:
                calls.append(ApiCall(service="iam", operation=f"Delete{kind}Policy",
                                     params={**key, "PolicyName": name}))
            elif to["InlinePolicies"][name] != doc:
                calls.append(ApiCall(service="iam", operation=f"Put{kind}Policy", params={
                    **key, "PolicyName": name,
                    "PolicyDocument": json.dumps(to["InlinePolicies"][name])}))
        for name, doc in to["InlinePolicies"].items():
            if name not in frm["InlinePolicies"]:
                calls.append(ApiCall(service="iam", operation=f"Put{kind}Policy", params={
                    **key, "PolicyName": name, "PolicyDocument": json.dumps(doc)}))
        for arn in sorted(set(frm["AttachedPolicies"]) - set(to["AttachedPolicies"])):
            calls.append(ApiCall(service="iam", operation=f"Detach{kind}Policy",
                                 params={**key, "PolicyArn": arn}))
        for arn in sorted(set(to["AttachedPolicies"]) - set(frm["AttachedPolicies"])):
            calls.append(ApiCall(service="iam", operation=f"Attach{kind}Policy",
                                 params={**key, "PolicyArn": arn}))
        return calls

    # -- the three steps ------------------------------------------------------------------
    def read(self) -> State:
        return self._read_principal(self.kind) if self.kind else self._read_policy()

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
        if self.kind:
            return self._principal_calls(self.kind, frm, to)
        return self._policy_calls(to)

    def evidence(self) -> dict[str, Any]:
        return dict(getattr(self, "_saved", {}))

    def tags(self) -> dict[str, str]:
        if self.kind == "Group":
            return {}  # IAM groups cannot be tagged
        if self.kind:
            op = f"list_{self.kind.lower()}_tags"
            key = {f"{self.kind}Name": self.target.resource.id}
        else:
            op, key = "list_policy_tags", {"PolicyArn": self.policy_arn()}
        with translate(f"reading tags of {self.target.resource.display}"):
            tags = getattr(self.iam, op)(**key).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}
