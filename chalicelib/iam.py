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
