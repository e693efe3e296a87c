"""The Slack secrets from AWS Secrets Manager and SSM Parameter Store (moto), read with
Powertools Parameters and cached; the environment form still wins; our IAM may read
exactly the two secrets the stage names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.errors import ConfigurationError
from chalicelib.iam import lambda_policy
from tests.conftest import make_context

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def stored(aws: None) -> dict[str, str]:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.create_secret(Name="autoremediate/prod/slack-bot-token", SecretString="xoxb-from-sm")
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/autoremediate/prod/slack-signing-secret", Value="signing-from-ssm",
        Type="SecureString")
    return {"bot": "secretsmanager:autoremediate/prod/slack-bot-token",
            "signing": "ssm:/autoremediate/prod/slack-signing-secret"}


def test_secrets_come_from_secrets_manager_and_ssm_once_per_five_minutes(
        stored: dict[str, str]) -> None:
    ctx, log = make_context(slack_bot_token_from=stored["bot"],
                            slack_signing_secret_from=stored["signing"])
    for _ in range(3):
        assert ctx.slack_bot_token() == "xoxb-from-sm"
        assert ctx.slack_signing_secret() == "signing-from-ssm"
    # cached: one read each for three uses
    assert log.actions == ["secretsmanager:GetSecretValue", "ssm:GetParameter"]


def test_the_environment_value_wins_and_nothing_is_read(stored: dict[str, str]) -> None:
    ctx, log = make_context(slack_bot_token="xoxb-local", slack_bot_token_from=stored["bot"])
    assert ctx.slack_bot_token() == "xoxb-local"
    assert log.actions == []


def test_an_unreadable_secret_names_its_source_not_a_value(aws: None) -> None:
    ctx, _ = make_context(slack_bot_token_from="secretsmanager:autoremediate/missing")
    with pytest.raises(ConfigurationError,
                       match="cannot read secretsmanager:autoremediate/missing: "
                             "ResourceNotFoundException"):
        ctx.slack_bot_token()


@pytest.mark.parametrize("value", ["autoremediate/token", "vault:token", "ssm:no-slash",
                                   "secretsmanager:"])
def test_a_source_that_is_neither_form_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="SLACK_BOT_TOKEN_FROM must be"):
        Settings.from_env({"SLACK_BOT_TOKEN_FROM": value})


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}  # as Chalice hands them to the route


def test_a_signed_click_is_checked_with_the_secret_from_parameter_store(
        stored: dict[str, str]) -> None:
    from chalicelib.slack import handle_action
    from tests.test_slack import _body, _headers

    ctx, _ = make_context(slack_signing_secret_from=stored["signing"],
                          approvers=("U_ALICE",))
    body = _body("apr-unknown", "U_ALICE")
    status, _ = handle_action(ctx, body, _lower(_headers(body, secret="signing-from-ssm")),
                              run=lambda *_: None)
    assert status == 200  # the signature held (the unknown approval is answered inside)
    status, _ = handle_action(ctx, body, _lower(_headers(body, secret="another")),
                              run=lambda *_: None)
    assert status == 401


def test_a_missing_signing_secret_refuses_with_503_and_changes_nothing(aws: None) -> None:
    from chalicelib.slack import handle_action
    from tests.test_slack import _body, _headers

    ctx, _ = make_context(slack_signing_secret_from="ssm:/autoremediate/absent")
    body = _body("apr-1", "U_ALICE")
    status, out = handle_action(ctx, body, _lower(_headers(body)), run=lambda *_: None)
    assert status == 503 and "nothing was changed" in out["error"]


def test_our_iam_reads_exactly_the_two_secrets_the_stage_names() -> None:
    for stage in ("dev", "prod"):
        committed = json.loads((ROOT / f".chalice/policy-{stage}.json").read_text())
        reads = [s for s in committed["Statement"]
                 if any(a.startswith(("secretsmanager:", "ssm:")) for a in s["Action"])]
        assert reads == [{
            "Sid": "SlackSecrets", "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [
                f"arn:aws:secretsmanager:*:*:secret:autoremediate/{stage}/slack-bot-token-??????",
                f"arn:aws:secretsmanager:*:*:secret:autoremediate/{stage}/"
                "slack-signing-secret-??????"]}]
    ssm: Any = lambda_policy(table="t", secrets=["ssm:/a/b"])["Statement"]
    assert ssm[-1] == {"Sid": "SlackParameters", "Effect": "Allow",
                       "Action": ["ssm:GetParameter"],
                       "Resource": ["arn:aws:ssm:*:*:parameter/a/b"]}
