"""The Slack secrets, read the AWS way: from AWS Secrets Manager or SSM Parameter Store,
with Powertools Parameters (cached for `MAX_AGE` seconds per warm Lambda), never from
the function's environment in AWS.

The stage config names where each comes from (`SLACK_BOT_TOKEN_FROM`,
`SLACK_SIGNING_SECRET_FROM`):

- `secretsmanager:NAME` (a secret's name or ARN; its value is the token itself), or
- `ssm:/NAME` (a SecureString parameter, decrypted).

`SLACK_BOT_TOKEN` / `SLACK_SIGNING_SECRET` in the environment still win, for local runs
and tests. The rendered IAM policy lets the functions read exactly the two named secrets
(`chalicelib.iam`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from chalicelib.errors import ConfigurationError

if TYPE_CHECKING:
    from chalicelib.aws import Aws

MAX_AGE = 300  # seconds: a rotated secret is picked up within five minutes
PREFIXES = ("secretsmanager:", "ssm:")


def check_source(name: str, value: str | None) -> str | None:
    """`value` if it is a valid source (see the module docstring), else ConfigurationError."""
    if not value:
        return None
    kind, _, ref = value.partition(":")
    if f"{kind}:" not in PREFIXES or not ref or (kind == "ssm" and not ref.startswith("/")):
        raise ConfigurationError(
            f"{name} must be secretsmanager:NAME or ssm:/NAME, not {value!r}")
    return value


class SecretReader:
    """Reads `secretsmanager:`/`ssm:` sources through our own clients, cached."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._lock = threading.Lock()
        self._providers: dict[str, Any] = {}

    def _provider(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._providers:
                from aws_lambda_powertools.utilities import parameters

                if kind == "secretsmanager":
                    self._providers[kind] = parameters.SecretsProvider(
                        boto3_client=self._aws.home_client("secretsmanager"))
                else:
                    self._providers[kind] = parameters.SSMProvider(
                        boto3_client=self._aws.home_client("ssm"))
            return self._providers[kind]

    def read(self, source: str) -> str:
        """The secret's value. Raises ConfigurationError naming the source (never the
        value) when it cannot be read."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        kind, _, ref = source.partition(":")
        options: dict[str, Any] = {"decrypt": True} if kind == "ssm" else {}
        try:
            value = self._provider(kind).get(ref, max_age=MAX_AGE, **options)
        except GetParameterError as exc:
            cause = exc.__cause__ or exc.__context__ or exc  # Powertools re-raises
            code = getattr(cause, "response", {}).get("Error", {}).get("Code")
            raise ConfigurationError(f"cannot read {source}: "
                                     f"{code or type(cause).__name__}") from None
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{source} is empty or not text")
        return value
