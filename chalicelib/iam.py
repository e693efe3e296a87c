"""Our own IAM, derived from what the code declares: each remediation's `permissions`, plus
the platform's own needs (state table, caller identity, member-account role)."""

from __future__ import annotations

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


def remediation_actions() -> dict[str, tuple[str, ...]]:
    """remediation name -> the IAM actions it declares."""
    from remediations import load

    return {name: cls.permissions for name, cls in sorted(load().items())}


def _resources_for(action: str) -> list[str]:
    service = action.split(":", 1)[0]
    return {
        "s3": ["arn:aws:s3:::*"],
        "kms": ["arn:aws:kms:*:*:key/*", "arn:aws:kms:*:*:alias/*"],
    }.get(service, ["*"])


def lambda_policy(*, table: str, role_name: str = "autoremediate-member") -> dict[str, object]:
    """The deployment's policy (`.chalice/policy-<stage>.json`), rendered from declarations."""
    remediation = sorted({a for actions in remediation_actions().values() for a in actions})
    by_resource: dict[tuple[str, ...], list[str]] = {}
    for action in remediation:
        by_resource.setdefault(tuple(_resources_for(action)), []).append(action)
    statements: list[dict[str, object]] = [
        {"Sid": f"Remediations{i}", "Effect": "Allow", "Action": actions,
         "Resource": list(resources)}
        for i, (resources, actions) in enumerate(sorted(by_resource.items()), 1)
    ]
    table_actions = sorted(a for a in PLATFORM_ACTIONS if a.startswith("dynamodb:"))
    statements += [
        {"Sid": "StateTable", "Effect": "Allow", "Action": table_actions,
         "Resource": [f"arn:aws:dynamodb:*:*:table/{table}"]},
        {"Sid": "MemberAccounts", "Effect": "Allow", "Action": ["sts:AssumeRole"],
         "Resource": [f"arn:aws:iam::*:role/{role_name}"]},
        {"Sid": "Identity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"],
         "Resource": ["*"]},
        {"Sid": "ApprovalWorker", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": ["arn:aws:lambda:*:*:function:autoremediate-*-approval_worker"]},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": ["arn:aws:logs:*:*:log-group:/aws/lambda/autoremediate-*"]},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def render_stage(stage: str) -> str:
    """The committed file for a stage, from .chalice/config.json's table name."""
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).parents[1] / ".chalice" / "config.json").read_text())
    env = {**config.get("environment_variables", {}),
           **config["stages"][stage].get("environment_variables", {})}
    policy = lambda_policy(table=env.get("REMEDIATION_TABLE", "autoremediate"),
                           role_name=env.get("REMEDIATION_ROLE_NAME", "autoremediate-member"))
    return json.dumps(policy, indent=2) + "\n"


if __name__ == "__main__":
    import sys

    for stage in sys.argv[1:] or ["dev", "prod"]:
        from pathlib import Path

        out = Path(__file__).parents[1] / ".chalice" / f"policy-{stage}.json"
        out.write_text(render_stage(stage))
        print(f"wrote {out}")
