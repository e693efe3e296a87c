"""Our own IAM, derived from what the code declares: each remediation's `permissions`, plus
the platform's own needs (state table, caller identity, member-account role). Each
action's Resource comes from AWS's Service Authorization Reference (`statements_for`,
docs/architecture.md "Our own IAM"); the platform's statements are scoped by hand to our
own resources. Build- and test-time only: the Lambda never imports this module's database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import ConfigurationError

# What the pipeline itself calls, outside any remediation.
PLATFORM_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    "lambda:InvokeFunction",
)

# Only the operator's `remediate bootstrap` (never the Lambda) creates the table.
BOOTSTRAP_ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeTable",
    "dynamodb:CreateTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:UpdateContinuousBackups",  # point-in-time recovery, as the stack's table
)


# What `remediate evidence --snapshot` lists to find the watched resources (reads only);
# the state of each is then read by its remediation's own declared `read`.
INVENTORY_ACTIONS: tuple[str, ...] = ("s3:ListAllMyBuckets", "kms:ListKeys",
                                     "iam:ListUsers", "iam:ListRoles", "iam:ListGroups",
                                     "iam:ListPolicies")

# What the Security Hub write-back (`chalicelib.writeback`) calls, in the finding's
# account like a remediation: so the member role has it too.
WRITEBACK_ACTIONS: tuple[str, ...] = ("securityhub:BatchUpdateFindings",)

# AWS's Service Authorization Reference (which actions exist, the resource types each one
# takes, each type's ARN format), as parliament ships it. parliament is a build and test
# dependency, never the Lambda's: it is imported on the first call below, and only the
# renderers (`python -m chalicelib.iam`, `remediate package`, the tests) call it.
ARN_VALUES = {"Partition": "aws"}  # every other ${Variable} of an ARN format becomes "*"
ANY = "*"


class UnknownActionError(ValueError):
    """An action that AWS's Service Authorization Reference does not define."""


@functools.cache
def _database() -> dict[str, list[tuple[dict[str, Any], dict[str, str]]]]:
    """service prefix -> [(privileges by name, resource type -> ARN format)], in the
    order parliament keeps them (a prefix can have two entries: it looks in each in turn,
    and so do we)."""
    try:
        from parliament import iam_definition
    except ImportError as exc:  # a plain install: the test extra carries it
        raise ConfigurationError(
            "rendering our IAM needs parliament (it ships AWS's Service Authorization "
            "Reference): pip install -e '.[test]' (./run test does)") from exc
    services: dict[str, list[tuple[dict[str, Any], dict[str, str]]]] = {}
    for service in iam_definition:
        services.setdefault(service["prefix"], []).append((
            {p["privilege"]: p for p in service["privileges"]},
            {r["resource"]: r["arn"] for r in service["resources"]}))
    return services


def arn_formats(prefix: str) -> dict[str, str]:
    """resource type -> its ARN format, for a service prefix (`sqs` -> {"queue": ...}); the
    first entry of a prefix wins, as in `resource_types`."""
    return {t: arn for _, arns in reversed(_database().get(prefix, []))
            for t, arn in arns.items()}


def known_actions() -> frozenset[str]:
    """Every action the database defines, spelt as AWS spells it (`s3:PutBucketPolicy`)."""
    return frozenset(f"{prefix}:{name}" for prefix, entries in _database().items()
                     for privileges, _ in entries for name in privileges)


@functools.cache
def resource_types(action: str) -> tuple[tuple[str, bool, str], ...]:
    """(resource type, required, ARN format) for each resource type the action takes;
    empty for an action on no resource (account-level: only `"*"` grants it).

    Raises:
        UnknownActionError: the database has no such action (a typo, or an action AWS
            added after parliament's release).
    """
    prefix, _, name = action.partition(":")
    for privileges, arns in _database().get(prefix, []):
        if name in privileges:
            # the Reference marks a required type with a trailing "*"; the type "" only
            # carries condition keys
            return tuple((t.rstrip("*"), t.endswith("*"), arns[t.rstrip("*")])
                         for t in (r["resource_type"] for r in privileges[name]["resource_types"])
                         if t)
    raise UnknownActionError(f"{action}: not in AWS's Service Authorization Reference")


def arn_pattern(arn_format: str) -> str:
    """An ARN format of the Reference with every variable but the partition a wildcard:
    `arn:${Partition}:ec2:${Region}:${Account}:security-group/${SecurityGroupId}` ->
    `arn:aws:ec2:*:*:security-group/*`."""
    arn = re.sub(r"\$\{(\w+)\}", lambda m: ARN_VALUES.get(m[1], ANY), arn_format)
    return re.sub(r"\*+", ANY, arn)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name))


def statements_for(actions: Iterable[str], *, prefix: str = "") -> list[dict[str, object]]:
    """Allow each action on exactly the resources the Reference says it takes.

    An action that requires a resource type is granted on the ARN pattern of every type it
    takes (required or optional: a CreateFlowLogs request names the flow log and the VPC),
    in one statement per service and required type, e.g. `Ec2SecurityGroup`. A statement
    holds the union of its actions' patterns: an ARN of a type an action does not take
    grants it nothing. An action that requires none (account-level ones, and those whose
    types are all optional: a call may name none, as an unfiltered RDS describe does) is
    granted on `"*"`, the only Resource that always authorises it, in `AllResources`.
    """
    groups: dict[str, tuple[set[str], set[str]]] = {}
    for action in sorted(set(actions)):
        types = resource_types(action)
        required = [t for t, needed, _ in types if needed]
        if required:
            sid = _camel(action.partition(":")[0]) + "".join(_camel(t) for t in required)
            resources = {arn_pattern(arn) for _, _, arn in types}
        else:
            sid, resources = "AllResources", {ANY}
        granted, scope = groups.setdefault(sid, (set(), set()))
        granted.add(action)
        scope |= resources
    return [{"Sid": prefix + sid, "Effect": "Allow", "Action": sorted(granted),
             "Resource": sorted(scope)}
            for sid, (granted, scope) in sorted(groups.items())]


def remediation_actions() -> dict[str, tuple[str, ...]]:
    """remediation name -> the IAM actions it declares."""
    from remediations import load

    return {name: cls.permissions for name, cls in sorted(load().items())}


def _remediation_statements() -> list[dict[str, object]]:
    """The union of the remediations' actions (and the Security Hub write-back's, which
    acts in the finding's account like a remediation, and the inventory's), scoped by the
    Service Authorization Reference."""
    return statements_for({a for actions in remediation_actions().values() for a in actions}
                          | set(INVENTORY_ACTIONS) | set(WRITEBACK_ACTIONS))


def secret_statements(sources: list[str]) -> list[dict[str, object]]:
    """Read access to exactly the secrets the stage names (`chalicelib.secrets` sources)."""
    by_action: dict[str, list[str]] = {}
    for source in sources:
        kind, _, ref = source.partition(":")
        if kind == "secretsmanager":
            # a name gets the 6-character suffix Secrets Manager appends; an ARN has it
            arn = (ref if ref.startswith("arn:")
                   else f"arn:aws:secretsmanager:*:*:secret:{ref}-??????")
            by_action.setdefault("secretsmanager:GetSecretValue", []).append(arn)
        elif kind == "ssm":
            by_action.setdefault("ssm:GetParameter", []).append(
                f"arn:aws:ssm:*:*:parameter/{ref.lstrip('/')}")
    return [{"Sid": "SlackSecrets" if action.startswith("secrets") else "SlackParameters",
             "Effect": "Allow", "Action": [action], "Resource": sorted(resources)}
            for action, resources in sorted(by_action.items())]


def lambda_policy(*, table: str, role_name: str = "autoremediate-member",
                  secrets: list[str] | None = None) -> dict[str, object]:
    """The deployment's policy (`.chalice/policy-<stage>.json`), rendered from declarations."""
    from chalicelib.integrity import DIGEST_ACTIONS

    statements = _remediation_statements()
    # the hourly evidence digest: sign with the asymmetric key, write to the evidence
    # bucket (both operator settings, so scoped by type; the bucket's Object Lock and
    # policy keep what is written there); its table scan is in StateTable
    statements += statements_for([a for a in DIGEST_ACTIONS if not a.startswith("dynamodb:")],
                                 prefix="EvidenceDigest")
    table_actions = sorted({*(a for a in PLATFORM_ACTIONS if a.startswith("dynamodb:")),
                            *(a for a in DIGEST_ACTIONS if a.startswith("dynamodb:"))})
    statements += [
        {"Sid": "StateTable", "Effect": "Allow", "Action": table_actions,
         "Resource": [f"arn:aws:dynamodb:*:*:table/{table}"]},
        {"Sid": "MemberAccounts", "Effect": "Allow", "Action": ["sts:AssumeRole"],
         "Resource": [f"arn:aws:iam::*:role/{role_name}"]},
        {"Sid": "Identity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"],
         "Resource": ["*"]},
        {"Sid": "ApprovalWorker", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         # `chalice deploy` names it autoremediate-<stage>-approval_worker; a CloudFormation
         # stack from `remediate package` names it <stack>-ApprovalWorker-<suffix>
         "Resource": ["arn:aws:lambda:*:*:function:autoremediate-*-approval_worker",
                      "arn:aws:lambda:*:*:function:*-ApprovalWorker-*"]},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": ["arn:aws:logs:*:*:log-group:/aws/lambda/autoremediate-*"]},
        *secret_statements(secrets or []),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


# checkov's findings that are the point of a remediation role (the central functions' roles
# carry the remediations' statements for the security account itself; the member role has
# the same ones): skipped in the template, each with its reason
REMEDIATION_ROLE_SKIPS = {
    "CKV_AWS_107": "iam:UpdateAccessKey is how iam_deactivate_access_key makes a leaked key "
                   "Inactive; no key is ever created, read or deleted",
    "CKV_AWS_109": "the remediations change the IAM policies, snapshot attributes and "
                   "topic/queue attributes of the resource a finding names, which is not "
                   "known when the role is made; every action is one a remediation declares "
                   "(chalicelib.iam)",
    "CKV_AWS_110": "iam_revoke_wildcard and iam_revoke_role_sessions must write policy "
                   "versions and inline policies to take grants away; each change is planned, "
                   "recorded on the incident and reversible, and the role can assume no "
                   "other role but the member role",
    "CKV_AWS_111": "a fix writes to the resource a finding names (security groups, trails, "
                   "flow logs, log groups, detectors, functions, DB instances) anywhere in "
                   "the organization, unknown in advance; every action is one a remediation "
                   "declares (chalicelib.iam)",
}
def skip_checks(resource: dict[str, Any], reasons: dict[str, str]) -> dict[str, Any]:
    """Record checkov skips (check id -> reason) in `resource`'s Metadata; returns it."""
    skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault(
        "skip", [])
    known = {entry["id"] for entry in skips}
    skips.extend({"id": check, "comment": reason} for check, reason in sorted(reasons.items())
                 if check not in known)
    return resource


def member_role_template(*, role_name: str = "autoremediate-member") -> dict[str, Any]:
    """CloudFormation for the role each member account gives us (deploy it with a
    StackSet): trusted by the security account's autoremediate roles, allowed exactly the
    actions the remediations declare."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "autoremediate member-account role (rendered by python -m "
                       "chalicelib.iam; do not edit)",
        "Parameters": {
            "SecurityAccountId": {"Type": "String", "AllowedPattern": "^[0-9]{12}$",
                                  "Description": "the account autoremediate runs in"},
            "TrustedRoleNamePattern": {
                "Type": "String", "Default": "autoremediate-*",
                "Description": "name pattern of the autoremediate Lambda roles there"},
        },
        "Resources": {"MemberRole": {"Type": "AWS::IAM::Role",
                                     **skip_checks({}, REMEDIATION_ROLE_SKIPS),
                                     "Properties": {
            "RoleName": role_name,
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${SecurityAccountId}:root"}},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnLike": {"aws:PrincipalArn": {"Fn::Sub": (
                    "arn:aws:iam::${SecurityAccountId}:role/${TrustedRoleNamePattern}")}}},
            }]},
            "Policies": [{"PolicyName": "autoremediate-remediations", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": _remediation_statements()}}],
        }}},
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["MemberRole", "Arn"]}}},
    }


def render_member_role() -> str:
    import json

    return json.dumps(member_role_template(), indent=2) + "\n"


def render_stage(stage: str) -> str:
    """The committed file for a stage, from .chalice/config.json's table name."""
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).parents[1] / ".chalice" / "config.json").read_text())
    env = {**config.get("environment_variables", {}),
           **config["stages"][stage].get("environment_variables", {})}
    policy = lambda_policy(table=env.get("REMEDIATION_TABLE", "autoremediate"),
                           role_name=env.get("REMEDIATION_ROLE_NAME", "autoremediate-member"),
                           secrets=[env[k] for k in ("SLACK_BOT_TOKEN_FROM",
                                                     "SLACK_SIGNING_SECRET_FROM") if env.get(k)])
    return json.dumps(policy, indent=2) + "\n"


MEMBER_ROLE_FILE = "deploy/member-role.json"

if __name__ == "__main__":
    from pathlib import Path

    root = Path(__file__).parents[1]
    for stage in ("dev", "prod"):
        out = root / ".chalice" / f"policy-{stage}.json"
        out.write_text(render_stage(stage))
        print(f"wrote {out}")
    member = root / MEMBER_ROLE_FILE
    member.parent.mkdir(exist_ok=True)
    member.write_text(render_member_role())
    print(f"wrote {member}")
    from chalicelib.member import MEMBER_STACK_FILE, render_member_stack

    stack = root / MEMBER_STACK_FILE
    stack.write_text(render_member_stack())
    print(f"wrote {stack}")
