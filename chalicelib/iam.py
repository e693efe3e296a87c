"""Our own IAM, derived from what the code declares: each remediation's `permissions`, plus
the platform's own needs (state table, caller identity, member-account role)."""

from __future__ import annotations

from typing import Any

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
)


# What `remediate evidence --snapshot` lists to find the watched resources (reads only);
# the state of each is then read by its remediation's own declared `read`.
INVENTORY_ACTIONS: tuple[str, ...] = ("s3:ListAllMyBuckets", "kms:ListKeys",
                                     "iam:ListUsers", "iam:ListRoles", "iam:ListGroups",
                                     "iam:ListPolicies")

# What the Security Hub write-back (`chalicelib.writeback`) calls, in the finding's
# account like a remediation: so the member role has it too.
WRITEBACK_ACTIONS: tuple[str, ...] = ("securityhub:BatchUpdateFindings",)

# Actions that IAM authorises on "*" only (no resource-level form).
_UNSCOPED = frozenset(INVENTORY_ACTIONS)


def remediation_actions() -> dict[str, tuple[str, ...]]:
    """remediation name -> the IAM actions it declares."""
    from remediations import load

    return {name: cls.permissions for name, cls in sorted(load().items())}


def _resources_for(action: str) -> list[str]:
    if action in _UNSCOPED:
        return ["*"]
    service = action.split(":", 1)[0]
    return {
        "s3": ["arn:aws:s3:::*"],
        "kms": ["arn:aws:kms:*:*:key/*", "arn:aws:kms:*:*:alias/*"],
        "securityhub": ["arn:aws:securityhub:*:*:hub/default"],
    }.get(service, ["*"])


def _remediation_statements() -> list[dict[str, object]]:
    """The union of the remediations' actions (and the Security Hub write-back's, which
    acts in the finding's account like a remediation), one statement per resource scope."""
    remediation = sorted({a for actions in remediation_actions().values() for a in actions}
                         | set(INVENTORY_ACTIONS) | set(WRITEBACK_ACTIONS))
    by_resource: dict[tuple[str, ...], list[str]] = {}
    for action in remediation:
        by_resource.setdefault(tuple(_resources_for(action)), []).append(action)
    return [{"Sid": f"Remediations{i}", "Effect": "Allow", "Action": actions,
             "Resource": list(resources)}
            for i, (resources, actions) in enumerate(sorted(by_resource.items()), 1)]


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
    statements = _remediation_statements()
    table_actions = sorted(a for a in PLATFORM_ACTIONS if a.startswith("dynamodb:"))
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
        "Resources": {"MemberRole": {"Type": "AWS::IAM::Role", "Properties": {
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
