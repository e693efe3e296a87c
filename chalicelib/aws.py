"""AWS access: one cached session and clients per (account, region), assume-role into member
accounts, and the single place where botocore's ClientError becomes one of our errors.

Raises:
    AccessDenied, ResourceGone, InvalidKey, StateConflict, RemediationError (via `translate`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from chalicelib import errors

# Error codes we branch on, and what each becomes. tests/test_aws.py walks this table.
ERROR_MAP: dict[str, type[errors.AutoremediateError]] = {
    "AccessDenied": errors.AccessDenied,
    "AccessDeniedException": errors.AccessDenied,
    "AuthorizationError": errors.AccessDenied,
    "UnauthorizedOperation": errors.AccessDenied,
    # the resource a finding named no longer exists (ephemeral resources are common)
    "NoSuchBucket": errors.ResourceGone,
    "NoSuchEntity": errors.ResourceGone,  # IAM role, user, policy, access key
    "TrailNotFoundException": errors.ResourceGone,
    "InvalidGroup.NotFound": errors.ResourceGone,  # EC2 security group
    "InvalidSnapshot.NotFound": errors.ResourceGone,  # EBS snapshot
    "InvalidVpcID.NotFound": errors.ResourceGone,
    "InvalidInstanceID.NotFound": errors.ResourceGone,
    "DBInstanceNotFound": errors.ResourceGone,
    "DBSnapshotNotFound": errors.ResourceGone,
    "DBClusterSnapshotNotFoundFault": errors.ResourceGone,
    "ResourceNotFoundException": errors.ResourceGone,  # log group, Lambda function
    "AWS.SimpleQueueService.NonExistentQueue": errors.ResourceGone,
    "QueueDoesNotExist": errors.ResourceGone,
    "NotFound": errors.ResourceGone,  # SNS topic
    # KMS: an unknown key id, ARN or alias is almost always our configured key
    # (REMEDIATION_KMS_KEY missing in the finding's account): a failure with that message,
    # not a vanished resource
    "NotFoundException": errors.InvalidKey,
    "DisabledException": errors.InvalidKey,
    "KMSInvalidStateException": errors.InvalidKey,
    "ConditionalCheckFailedException": errors.StateConflict,
    "TransactionCanceledException": errors.StateConflict,
}


@contextmanager
def translate(what: str, *, fallback: type[errors.AutoremediateError] = errors.RemediationError,
              known: Mapping[str, type[errors.AutoremediateError]] | None = None,
              hints: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn a botocore error raised inside the block into our error tree: the one place
    that happens (remediations, the store, the Security Hub write-back).

    `what` names the action for the message, e.g. "reading bucket example". A code in
    `known` (default `ERROR_MAP`) becomes its class, any other `fallback` (the store:
    only its conflicts are known, anything else is a StateStoreError);
    `hints` (code -> text) are added to the message. The error's `code` is AWS's code (the
    exception's class name for a connection or credentials error); a StateConflict of a
    transaction carries each item's reason.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        message = exc.response.get("Error", {}).get("Message", "")
        cls = (ERROR_MAP if known is None else known).get(code, fallback)
        reasons = [str(r.get("Code", "None")) for r in exc.response.get(
            "CancellationReasons", [])]
        text = f"{what}: {code}: {message}".rstrip(": ") + (hints or {}).get(code, "")
        if reasons:
            text += f" {reasons}"
        err = cls(text)
        err.code = code
        if isinstance(err, errors.StateConflict):
            err.reasons = reasons
        raise err from exc
    except BotoCoreError as exc:  # endpoint unreachable, credentials missing, …
        err = fallback(f"{what}: {type(exc).__name__}: {exc}")
        err.code = type(exc).__name__
        raise err from exc


def error_code(exc: BaseException) -> str | None:
    """The AWS error code behind one of our errors (or a ClientError), if any."""
    from botocore.exceptions import ClientError

    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code"))
    return None


def _strip_account_host(request: Any, **_: Any) -> None:
    """`http://123456789012.127.0.0.1:5000/…` -> `http://127.0.0.1:5000/…`."""
    import re

    request.url = re.sub(r"//\d{12}\.", "//", request.url, count=1)


class Aws:
    """Sessions and clients, created lazily and reused across events in a warm Lambda.

    `role_name` is assumed in the event's account when it differs from our own. Our
    account is `account_id` when given (the deployed template sets it), else the caller
    identity's, looked up once.
    """

    def __init__(self, *, role_name: str = "autoremediate-member",
                 account_id: str | None = None) -> None:
        self.role_name = role_name
        self._account_id = account_id
        self._lock = threading.Lock()
        self._session: Any = None
        self._member_sessions: dict[str, tuple[Any, Any]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._identity: dict[str, str] | None = None

    # -- sessions -------------------------------------------------------------------------
    def session(self) -> Any:
        if self._session is None:
            import boto3.session

            self._session = boto3.session.Session()
        return self._session

    @property
    def home_region(self) -> str:
        return self.session().region_name or "us-east-1"

    def identity(self) -> dict[str, str]:
        """Our own caller identity ({"Account", "Arn", "UserId"}), looked up once."""
        if self._identity is None:
            with translate("looking up our caller identity"):
                ident = self.home_client("sts").get_caller_identity()
            self._identity = {k: ident[k] for k in ("Account", "Arn", "UserId")}
        return self._identity

    def account_id(self) -> str:
        """Our own (security) account: from the template's environment, else STS."""
        return self._account_id or self.identity()["Account"]

    def _config(self) -> Any:
        from botocore.config import Config

        # Standard mode retries throttling and transient 5xx only: safe for our calls, which
        # are all idempotent puts of a full configuration.
        return Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5,
                      read_timeout=20)

    def _new_client(self, session: Any, service: str, region: str) -> Any:
        import os

        client = session.client(service, region_name=region, config=self._config())
        if service == "s3control" and (os.environ.get("AWS_ENDPOINT_URL")
                                       or os.environ.get("AWS_ENDPOINT_URL_S3CONTROL")):
            # S3 Control puts the account id in the host name (ACCOUNT.host); a local
            # emulator has no such host: keep its requests on the endpoint given
            client.meta.events.register("before-sign.s3-control.*", _strip_account_host)
        return client

    def home_client(self, service: str, region: str | None = None) -> Any:
        """A client in our own (security) account."""
        region = region or self.home_region
        key = ("home", region, service)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(self.session(), service, region)
            return self._clients[key]

    def client(self, service: str, *, account: str, region: str) -> Any:
        """A client acting in `account` and `region`: ours, or via the member role."""
        if account == self.account_id():
            return self.home_client(service, region)
        session, fresh = self._member_session(account)
        key = (account, region, service)
        with self._lock:
            if fresh or key not in self._clients:
                self._clients[key] = self._new_client(session, service, region)
            return self._clients[key]

    def _sharing_models(self) -> Any:
        """A new botocore session that reads service models through our home session's
        data loader: a member account's first client (and each renewal, hourly) would
        otherwise parse the same model JSON again (~10-80 ms a service). The loader only
        caches read-only files; credentials stay per session."""
        import botocore.session

        core = botocore.session.get_session()
        core.register_component("data_loader",
                                self.session()._session.get_component("data_loader"))
        return core

    def _member_session(self, account: str) -> tuple[Any, bool]:
        """The member-account session, renewed when its credentials have < 5 minutes left."""
        import datetime as dt

        cached = self._member_sessions.get(account)
        now = dt.datetime.now(dt.UTC)
        if cached is not None and cached[1] - now > dt.timedelta(minutes=5):
            return cached[0], False
        import boto3.session

        role_arn = f"arn:aws:iam::{account}:role/{self.role_name}"
        with translate(f"assuming {role_arn}"):
            creds = self.home_client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName="autoremediate"
            )["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            botocore_session=self._sharing_models(),
        )
        expiry = creds["Expiration"]
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=dt.UTC)
        self._member_sessions[account] = (session, expiry)
        return session, True

    def client_factory(self, *, account: str, region: str) -> Callable[[str], Any]:
        """A `service -> client` function bound to one account and region."""
        return lambda service: self.client(service, account=account, region=region)
