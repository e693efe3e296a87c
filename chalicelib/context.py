"""What a pipeline run needs, built once per process and reused across events."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.policy import Policy, load_policies
from chalicelib.record import now
from chalicelib.secrets import SecretReader
from chalicelib.store import Store


@dataclass
class Context:
    settings: Settings
    aws: Aws
    clock: Callable[[], dt.datetime] = field(default=now)

    @cached_property
    def store(self) -> Store:
        return Store(self.aws.home_client("dynamodb"), self.settings.table, clock=self.clock)

    @cached_property
    def policies(self) -> list[Policy]:
        return load_policies(self.settings.policy_dir)

    @cached_property
    def secrets(self) -> SecretReader:
        return SecretReader(self.aws)

    def slack_bot_token(self) -> str | None:
        """From the environment (local runs), else from its secret; None: not configured.
        Raises ConfigurationError when the secret cannot be read."""
        s = self.settings
        if s.slack_bot_token or not s.slack_bot_token_from:
            return s.slack_bot_token
        return self.secrets.read(s.slack_bot_token_from)

    def slack_signing_secret(self) -> str | None:
        """As `slack_bot_token`, for the signing secret."""
        s = self.settings
        if s.slack_signing_secret or not s.slack_signing_secret_from:
            return s.slack_signing_secret
        return self.secrets.read(s.slack_signing_secret_from)

    def own_principals(self) -> list[str]:
        if self.settings.own_roles:  # the deployed template lists every role we run as
            return [*self.settings.own_roles, *self.settings.self_arns]
        return [self.aws.identity()["Arn"], *self.settings.self_arns]


_lock = threading.Lock()
_cache: dict[Settings, Context] = {}


def current(settings: Settings | None = None) -> Context:
    """The context for these settings (default: the environment now), cached per process
    so a warm Lambda reuses its sessions, clients and loaded policies."""
    settings = settings or Settings.from_env()
    with _lock:
        if settings not in _cache:
            _cache[settings] = Context(settings=settings, aws=Aws(role_name=settings.role_name,
                                                         account_id=settings.account_id))
        return _cache[settings]
