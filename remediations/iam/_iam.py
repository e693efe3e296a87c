"""What the IAM remediations share: resolving the ids Config sends (`AIDA…` users, `AROA…`
roles, `AGPA…` groups, `ANPA…` policies) to names and ARNs, a customer-managed policy's
version handling (new default version, oldest non-default deleted at the five-version
limit after its document is saved), inline policies of users, roles and groups, and tags.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import RemediationError, ResourceGone
from chalicelib.finding import Resource
from remediations._policy_doc import canonical, parse
from remediations.base import ApiCall, P, Remediation, State

PRINCIPALS = {"AWS::IAM::Role": "Role", "AWS::IAM::User": "User", "AWS::IAM::Group": "Group"}
MAX_VERSIONS = 5
# what reading and rewriting a customer-managed policy's versions takes
POLICY_VERSION_ACTIONS = (
    "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicies",
    "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
    "iam:ListPolicyTags",
)
# unique-id prefixes IAM gives each kind (what Config names a principal by)
_ID_PREFIX = {"User": "AIDA", "Role": "AROA", "Group": "AGPA"}


class IamRemediation(Remediation[P]):
    """Base of the IAM remediations: a principal (user, role, group) or a managed policy."""

    _saved: dict[str, Any]

    @property
    def iam(self) -> Any:
        return self.target.clients("iam")

    @property
    def kind(self) -> str | None:
        """Role, User or Group for a principal; None for a managed policy."""
        return PRINCIPALS.get(self.target.resource.type)

    @property
    def principal(self) -> dict[str, str]:
        """The principal's name as IAM calls take it, e.g. {"UserName": "alice"}."""
        return {f"{self.kind}Name": self.target.resource.id}

    # -- identity -------------------------------------------------------------------------
    def resolve(self) -> Resource:
        """A managed policy named by id becomes its ARN; a principal named by unique id
        (or by ARN) becomes its name, with its ARN."""
        found = self.target.resource
        if self.kind is None:
            return self._resolve_policy(found)
        name = found.id
        if name.startswith("arn:"):
            name = name.rsplit("/", 1)[-1]
        elif name.startswith(_ID_PREFIX[self.kind]) and name.isupper():
            name = self._name_for_id(found.id)
        else:
            return found
        arn = f"arn:aws:iam::{self.target.account}:{self.kind.lower()}/{name}"
        if found.id.startswith("arn:"):
            arn = found.id  # keeps the path (/service-role/…)
        self.target.resource = Resource(type=found.type, id=name, arn=arn, tags=found.tags)
        return self.target.resource

    def _name_for_id(self, unique_id: str) -> str:
        kind = str(self.kind)
        plural = f"{kind}s"
        with translate(f"looking up IAM {kind.lower()} id {unique_id}"):
            for page in self.iam.get_paginator(f"list_{plural.lower()}").paginate():
                for item in page[plural]:
                    if item[f"{kind}Id"] == unique_id:
                        return str(item[f"{kind}Name"])
        raise ResourceGone(f"no IAM {kind.lower()} with id {unique_id}")

    def _resolve_policy(self, found: Resource) -> Resource:
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

    # -- managed policy versions ----------------------------------------------------------
    def version_doc(self, arn: str, version: str) -> dict[str, Any]:
        with translate(f"reading {arn} {version}"):
            got = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)
        return canonical(parse(got["PolicyVersion"]["Document"]))

    def versions(self, arn: str) -> list[dict[str, Any]]:
        with translate(f"listing versions of {arn}"):
            versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        return sorted(versions, key=lambda v: v["CreateDate"])

    def read_policy(self) -> State:
        """{"PolicyArn", "Document"}: the default version's document."""
        arn = self.policy_arn()
        with translate(f"reading IAM policy {arn}"):
            default = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return {"PolicyArn": arn, "Document": self.version_doc(arn, default)}

    def policy_calls(self, to: State) -> list[ApiCall]:
        """Make `to["Document"]` the default: an existing version if one has it (rollback),
        else a new version, deleting the oldest non-default one first at the limit (its
        document set aside in `_saved["deleted_versions"]`)."""
        arn = to["PolicyArn"]
        versions = self.versions(arn)
        others = [v for v in versions if not v["IsDefaultVersion"]]
        for version in others:
            if self.version_doc(arn, version["VersionId"]) == to["Document"]:
                return [ApiCall(service="iam", operation="SetDefaultPolicyVersion",
                                params={"PolicyArn": arn, "VersionId": version["VersionId"]})]
        calls = []
        if len(versions) >= MAX_VERSIONS and others:
            oldest = others[0]["VersionId"]
            self._saved.setdefault("deleted_versions", {})[oldest] = self.version_doc(
                arn, oldest)
            calls.append(ApiCall(service="iam", operation="DeletePolicyVersion",
                                 params={"PolicyArn": arn, "VersionId": oldest}))
        calls.append(ApiCall(service="iam", operation="CreatePolicyVersion", params={
            "PolicyArn": arn, "PolicyDocument": json.dumps(to["Document"]),
            "SetAsDefault": True}))
        return calls

    # -- principals: inline and attached policies -----------------------------------------
    def read_inline(self) -> dict[str, Any]:
        """The principal's inline policies, name -> document."""
        lower = str(self.kind).lower()
        with translate(f"reading inline policies of IAM {lower} {self.target.resource.id}"):
            names = []
            for page in self.iam.get_paginator(f"list_{lower}_policies").paginate(
                    **self.principal):
                names.extend(page["PolicyNames"])
            inline = {}
            for policy in sorted(names):
                got = getattr(self.iam, f"get_{lower}_policy")(**self.principal,
                                                               PolicyName=policy)
                try:
                    inline[policy] = canonical(parse(got["PolicyDocument"]))
                except ValueError as exc:  # moto's CloudFormation stores str(dict)
                    raise RemediationError(
                        f"inline policy {policy} of IAM {lower} {self.target.resource.id} "
                        f"is not a JSON policy document: {exc}") from exc
        return inline

    def read_attached(self) -> list[str]:
        """ARNs of the managed policies attached to the principal, sorted."""
        lower = str(self.kind).lower()
        attached: list[str] = []
        with translate(f"reading attached policies of IAM {lower} "
                       f"{self.target.resource.id}"):
            for page in self.iam.get_paginator(
                    f"list_attached_{lower}_policies").paginate(**self.principal):
                attached.extend(p["PolicyArn"] for p in page["AttachedPolicies"])
        return sorted(attached)

    def inline_calls(self, frm: dict[str, Any], to: dict[str, Any]) -> list[ApiCall]:
        """Put{Kind}Policy / Delete{Kind}Policy from one set of inline documents to another."""
        kind = self.kind
        calls = []
        for name, doc in frm.items():
            if name not in to:
                calls.append(ApiCall(service="iam", operation=f"Delete{kind}Policy",
                                     params={**self.principal, "PolicyName": name}))
            elif to[name] != doc:
                calls.append(ApiCall(service="iam", operation=f"Put{kind}Policy", params={
                    **self.principal, "PolicyName": name,
                    "PolicyDocument": json.dumps(to[name])}))
        for name, doc in to.items():
            if name not in frm:
                calls.append(ApiCall(service="iam", operation=f"Put{kind}Policy", params={
                    **self.principal, "PolicyName": name, "PolicyDocument": json.dumps(doc)}))
        return calls

    def attached_calls(self, frm: list[str], to: list[str]) -> list[ApiCall]:
        kind = self.kind
        calls = [ApiCall(service="iam", operation=f"Detach{kind}Policy",
                         params={**self.principal, "PolicyArn": arn})
                 for arn in sorted(set(frm) - set(to))]
        calls += [ApiCall(service="iam", operation=f"Attach{kind}Policy",
                          params={**self.principal, "PolicyArn": arn})
                  for arn in sorted(set(to) - set(frm))]
        return calls

    # -- the rest -------------------------------------------------------------------------
    def evidence(self) -> dict[str, Any]:
        return dict(getattr(self, "_saved", {}))

    def tags(self) -> dict[str, str]:
        if self.kind == "Group":
            return {}  # IAM groups cannot be tagged
        if self.kind:
            op, key = f"list_{self.kind.lower()}_tags", self.principal
        else:
            op, key = "list_policy_tags", {"PolicyArn": self.policy_arn()}
        with translate(f"reading tags of {self.target.resource.display}"):
            tags = getattr(self.iam, op)(**key).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}
