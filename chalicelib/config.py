"""Settings from the environment, read at call time (Chalice sets stage variables per call).

Example:
    >>> settings = Settings.from_env({"DRY_RUN": "true"})
    >>> settings.dry_run
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.errors import ConfigurationError
from chalicelib.secrets import check_source

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def default_policy_dir() -> Path:
    """`policies/` beside `remediations/`: the repo root locally, the zip root in Lambda."""
    import remediations

    return Path(remediations.__file__).resolve().parent.parent / "policies"


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the operator contract lets an environment variable decide."""

    table: str = "autoremediate"
    kms_key: str | None = None
    dry_run: bool = False
    approvers: tuple[str, ...] = ()
    self_arns: tuple[str, ...] = ()
    # set by the deployed template: our account and every role our functions run as, so a
    # cold start needs no STS call (unset locally: GetCallerIdentity, once per process)
    account_id: str | None = None
    own_roles: tuple[str, ...] = ()
    role_name: str = "autoremediate-member"
    policy_dir: Path = field(default_factory=default_policy_dir)
    auto_limit_per_hour: int = 50
    preflight_max_events: int = 100_000  # flow-log events one pre-flight check reads
    flow_logs_destination: str | None = None
    s3_access_logs_bucket: str | None = None
    s3_events_topic_arn: str | None = None
    # the HIPAA pack's detection and logging family (#25)
    trail_log_group_arn: str | None = None
    trail_logs_role_arn: str | None = None
    alarm_topic_arn: str | None = None
    data_events_trail: str | None = None
    monthly_drill: bool = False
    # tamper-evident evidence (chalicelib.integrity): the asymmetric KMS key that signs
    # digests and the (Object Lock) bucket they are written to
    signing_key: str | None = None
    evidence_bucket: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    # where the two secrets come from in AWS: secretsmanager:NAME or ssm:/NAME
    # (chalicelib.secrets); the two values above, when set, win (local runs)
    slack_bot_token_from: str | None = None
    slack_signing_secret_from: str | None = None
    slack_channel: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        policy_dir = env.get("REMEDIATION_POLICY_DIR")
        api_url = env.get("SLACK_API_URL") or "https://slack.com/api/"
        raw_limit = env.get("REMEDIATION_AUTO_LIMIT", "").strip() or "50"
        if not raw_limit.isdigit():
            raise ConfigurationError(
                f"REMEDIATION_AUTO_LIMIT must be a whole number (0 = no limit), not {raw_limit!r}")
        raw_events = env.get("REMEDIATION_PREFLIGHT_MAX_EVENTS", "").strip() or "100000"
        if not raw_events.isdigit() or int(raw_events) < 1:
            raise ConfigurationError("REMEDIATION_PREFLIGHT_MAX_EVENTS must be a whole number "
                                     f"of at least 1, not {raw_events!r}")
        return cls(
            table=env.get("REMEDIATION_TABLE") or "autoremediate",
            preflight_max_events=int(raw_events),
            auto_limit_per_hour=int(raw_limit),
            kms_key=env.get("REMEDIATION_KMS_KEY") or None,
            flow_logs_destination=env.get("REMEDIATION_FLOW_LOGS_DESTINATION") or None,
            s3_access_logs_bucket=env.get("REMEDIATION_S3_ACCESS_LOGS_BUCKET") or None,
            s3_events_topic_arn=env.get("REMEDIATION_S3_EVENTS_TOPIC_ARN") or None,
            trail_log_group_arn=env.get("REMEDIATION_TRAIL_LOG_GROUP_ARN") or None,
            trail_logs_role_arn=env.get("REMEDIATION_TRAIL_LOGS_ROLE_ARN") or None,
            alarm_topic_arn=env.get("REMEDIATION_ALARM_TOPIC_ARN") or None,
            data_events_trail=env.get("REMEDIATION_DATA_EVENTS_TRAIL") or None,
            dry_run=_flag(env, "DRY_RUN"),
            monthly_drill=_flag(env, "REMEDIATION_MONTHLY_DRILL"),
            signing_key=env.get("REMEDIATION_SIGNING_KEY") or None,
            evidence_bucket=env.get("REMEDIATION_EVIDENCE_BUCKET") or None,
            approvers=_csv(env, "REMEDIATION_APPROVERS"),
            self_arns=_csv(env, "REMEDIATION_SELF_ARNS"),
            account_id=env.get("REMEDIATION_ACCOUNT_ID") or None,
            own_roles=_csv(env, "REMEDIATION_OWN_ROLES"),
            role_name=env.get("REMEDIATION_ROLE_NAME") or "autoremediate-member",
            policy_dir=Path(policy_dir) if policy_dir else default_policy_dir(),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_bot_token_from=check_source("SLACK_BOT_TOKEN_FROM",
                                              env.get("SLACK_BOT_TOKEN_FROM")),
            slack_signing_secret_from=check_source("SLACK_SIGNING_SECRET_FROM",
                                                   env.get("SLACK_SIGNING_SECRET_FROM")),
            slack_channel=env.get("SLACK_CHANNEL") or None,
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
        )
