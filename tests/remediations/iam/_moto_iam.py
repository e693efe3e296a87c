"""Setting on moto's IAM model what its API cannot: a user's unique id in AWS's `AIDA…`
form (moto makes random lowercase ids), a key's CreateDate and last use, a password's
last use. Each is a field AWS itself sets; the remediations only read them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from moto.iam.models import AccessKeyLastUsed, iam_backends

from tests.helpers import ACCOUNT


def _user(name: str) -> Any:
    return iam_backends[ACCOUNT]["aws"].users[name]


def set_user_id(name: str, unique_id: str) -> None:
    _user(name).id = unique_id


def age_key(user: str, key_id: str, days: int) -> None:
    for key in _user(user).access_keys:
        if key.access_key_id == key_id:
            key.create_date = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(
                days=days)


def use_key(user: str, key_id: str, days_ago: int, service: str = "s3",
            region: str = "us-east-1") -> None:
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days_ago)
    for key in _user(user).access_keys:
        if key.access_key_id == key_id:
            key.last_used = AccessKeyLastUsed(timestamp=when, service=service, region=region)


def use_password(user: str, days_ago: int) -> None:
    _user(user).password_last_used = (dt.datetime.now(dt.UTC).replace(tzinfo=None)
                                      - dt.timedelta(days=days_ago))
