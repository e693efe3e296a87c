"""Contain a compromised assumed-role session: revoke the role's older sessions (after
approval).

The same GuardDuty credential findings, when `accessKeyDetails.userType` is `AssumedRole`
(a temporary `ASIA…` key), are about the role. Temporary credentials cannot be
deactivated one by one; what the IAM console's "Revoke active sessions" does is attach an
inline policy `AWSRevokeOlderSessions` that denies everything to tokens issued before now.
This writes that same policy; the cutoff is the moment it is applied (an approval later
re-plans with a fresh cutoff: that is still the plan that was approved). Workloads that
assume the role again get fresh tokens and keep working. Our own roles and
`REMEDIATION_SELF_ARNS` are refused with the reason.

Example policy:

```yaml
- name: contain-role-session
  trigger:
    - source: guardduty
      kinds: ["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"]
  remediation: iam_revoke_role_sessions
  mode: approve
  hipaa: ["164.308(a)(6)(ii)", "164.312(d)"]
```

Before-state is the role's inline policy of that name (None when it had none); rollback
restores it, or removes ours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import HandsOff
from remediations._policy_doc import canonical, parse
from remediations.base import ApiCall, Plan, Remediation, State, register
from remediations.s3._s3 import read_optional

NAME = "AWSRevokeOlderSessions"


def revoke_older_than(cutoff: dt.datetime) -> dict[str, Any]:
    """The console's document: deny everything to tokens issued before `cutoff`."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff.astimezone(
            dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}}]}


def _without_cutoff(value: Any) -> Any:
    """A plan's calls or document with the token-issue-time cutoff blanked."""
    if isinstance(value, dict):
        return {k: "<cutoff>" if k == "aws:TokenIssueTime" else _without_cutoff(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_cutoff(v) for v in value]
    if isinstance(value, str) and "aws:TokenIssueTime" in value:
        return _without_cutoff(canonical(parse(value)))
    return value


@register("iam_revoke_role_sessions")
class IamRevokeRoleSessions(Remediation):
    """Deny everything to a role's sessions issued before now (AWSRevokeOlderSessions)."""

    summary = "Revoke the role's active sessions (inline AWSRevokeOlderSessions deny)"
    resource_types = ("AWS::IAM::Role",)
    permissions = ("iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                   "iam:ListRoleTags")

    @property
    def iam(self) -> Any:
        return self.target.clients("iam")

    @property
    def role(self) -> str:
        return (self.target.resource.arn or self.target.resource.id).rsplit("/", 1)[-1]

    def read(self) -> State:
        arn = self.target.resource.arn or f"arn:aws:iam::{self.target.account}:role/{self.role}"
        if self.target.is_ours(arn):
            raise HandsOff(f"{arn} is one of autoremediate's own roles: revoking its sessions "
                           "would stop remediation; investigate by hand")
        found = read_optional(f"reading {NAME} of role {self.role}", "NoSuchEntity",
                              lambda: self.iam.get_role_policy(RoleName=self.role,
                                                               PolicyName=NAME))
        return {NAME: canonical(parse(found["PolicyDocument"])) if found else None}

    def desired(self, before: State) -> State:
        return {NAME: canonical(revoke_older_than(self.target.clock()))}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        import json

        if to[NAME] is None:
            return [ApiCall(service="iam", operation="DeleteRolePolicy",
                            params={"RoleName": self.role, "PolicyName": NAME})]
        return [ApiCall(service="iam", operation="PutRolePolicy", params={
            "RoleName": self.role, "PolicyName": NAME,
            "PolicyDocument": json.dumps(to[NAME])})]

    def unchanged(self, approved: Plan, fresh: Plan) -> bool:
        """The cutoff is 'when applied', so it moves between approval and action."""
        return (_without_cutoff([c.model_dump() for c in fresh.calls])
                == _without_cutoff([c.model_dump() for c in approved.calls])
                and fresh.before == approved.before)

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of role {self.role}"):
            tags = self.iam.list_role_tags(RoleName=self.role).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}
