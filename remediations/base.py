"""The shape every remediation shares: read → plan → apply → verify, and rollback.

A remediation module fills in three small steps and declares what it touches:

```python
@register("s3_block_public_access")
class S3BlockPublicAccess(Remediation):
    resource_types = ("AWS::S3::Bucket",)
    permissions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock")

    def read(self) -> State: ...                              # AWS state now
    def desired(self, before: State) -> State: ...            # compliant state
    def transition(self, frm: State, to: State) -> list[ApiCall]: ...  # calls from → to
```

The base class owns the flow: `plan` reads (never writes) and its before-state is what
rollback restores; `apply` makes exactly the planned calls; `verify` reads back and raises
`VerifyFailed` on any difference; `rollback` refuses when the resource changed since the fix.

Raises:
    ResourceGone, AccessDenied, InvalidKey, VerifyFailed, RemediationError, RollbackConflict.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, cast

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeVar

from chalicelib.aws import translate
from chalicelib.errors import RollbackConflict, VerifyFailed
from chalicelib.finding import Resource

State = dict[str, Any]

REGISTRY: dict[str, type[Remediation[Any]]] = {}

# API operations whose IAM action is not simply "<service>:<Operation>".
IAM_ACTION_OVERRIDES: dict[str, str] = {
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
    "s3control:PutPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
    "s3control:DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock",
    # IAM has no action of its own for a transaction: each item is authorised as the
    # PutItem/UpdateItem it is (our transactions put entries and update items)
    "dynamodb:TransactWriteItems": "dynamodb:UpdateItem",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorises one API operation (`s3`, `PutPublicAccessBlock`)."""
    key = f"{service}:{operation}"
    return IAM_ACTION_OVERRIDES.get(key, key)


class NoParams(BaseModel):
    """A remediation's parameters: the base of every `Params` model (this one: none).

    Each remediation declares its own model once, with its defaults; `SETTINGS` names the
    fields an operator setting fills when the policy leaves them unset (e.g. `kms_key` ←
    `REMEDIATION_KMS_KEY`), so a remediation reads one typed value, never the environment.
    """

    model_config = ConfigDict(extra="forbid")

    SETTINGS: ClassVar[dict[str, str]] = {}  # field -> chalicelib.config.Settings attribute

    @classmethod
    def for_run(cls, given: Mapping[str, Any], settings: object) -> Self:
        """The policy's parameters, with the fields it left unset taken from `settings`."""
        filled = {name: getattr(settings, attr) for name, attr in cls.SETTINGS.items()
                  if given.get(name) is None and getattr(settings, attr, None) is not None}
        return cls.model_validate({**given, **filled})


P = TypeVar("P", bound=NoParams, default=NoParams, covariant=True)


class ApiCall(BaseModel):
    """One AWS API call, exactly as it is (or would be) made."""

    model_config = ConfigDict(frozen=True)

    service: str = Field(description="boto3 service name, e.g. s3")
    operation: str = Field(description="API operation, e.g. PutPublicAccessBlock")
    params: dict[str, Any] = Field(default_factory=dict, description="request parameters")
    region: str | None = Field(default=None, description=(
        "where the call is made when not the finding's region (a trail's home region)"))

    @property
    def action(self) -> str:
        return iam_action(self.service, self.operation)


class Plan(BaseModel):
    """What a remediation would change: before, after and the exact calls between them."""

    remediation: str
    resource: Resource
    account: str
    region: str
    before: State = Field(description="state read now; what rollback restores")
    after: State = Field(description="state expected after the calls")
    calls: list[ApiCall] = Field(default_factory=list)
    record_only: bool = Field(default=False, description="nothing to change by design")
    saved: dict[str, Any] = Field(default_factory=dict, description=(
        "evidence kept with the incident beyond before-state, e.g. a policy version's "
        "document before the version is deleted to make room"))
    notes: list[str] = Field(default_factory=list, description=(
        "what a human should know before approving (identifiers only, no documents)"))

    @property
    def is_noop(self) -> bool:
        return not self.calls


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Target:
    """The resource a remediation acts on, with clients in its account and region.

    `clock` is the run's clock (the context's: tests and drills set it). `staged` is a
    drill's shipped before-state: the remediation plans from it instead of reading AWS
    (`plan`, `identify`, `resource_tags` use it; the clients refuse every call)."""

    resource: Resource
    account: str
    region: str
    clients: Callable[[str], Any]
    params: NoParams = field(default_factory=NoParams)
    is_ours: Callable[[str], bool] = field(default=lambda arn: False, repr=False)
    clients_in: Callable[[str], Callable[[str], Any]] | None = None
    clock: Callable[[], dt.datetime] = field(default=_utcnow, repr=False)
    staged: State | None = None

    def region_clients(self, region: str) -> Callable[[str], Any]:
        """Clients in the same account but another region (a trail's home region)."""
        if region == self.region or self.clients_in is None:
            return self.clients
        return self.clients_in(region)


R = TypeVar("R", bound="type[Remediation[Any]]")


def register(name: str) -> Callable[[R], R]:
    """Class decorator: add a remediation to the registry under `name`."""

    def deco(cls: R) -> R:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"remediation {name!r} registered twice")
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return deco


class Remediation(Generic[P]):
    """Base class; see the module docstring for the three steps a subclass fills in.
    `Remediation[MyParams]` with `Params = MyParams` gives `self.params` its type."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    resource_types: ClassVar[tuple[str, ...]] = ()
    permissions: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[NoParams]] = NoParams
    record_only: ClassVar[bool] = False
    # the change can cut a connection: the plan reads the flow logs first
    # (chalicelib.preflight.TrafficChecked) and the gate may hold an automatic fix
    cuts_traffic: ClassVar[bool] = False

    def __init__(self, target: Target) -> None:
        if not isinstance(target.params, self.Params):
            raise TypeError(f"{self.name} takes {self.Params.__name__}, "
                            f"not {type(target.params).__name__}")
        self.target = target

    @property
    def params(self) -> P:
        """This run's parameters (the policy's, operator settings filled in)."""
        return cast(P, self.target.params)

    # -- the steps a module fills in ----------------------------------------------------
    def read(self) -> State:
        raise NotImplementedError

    def desired(self, before: State) -> State:
        raise NotImplementedError

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        raise NotImplementedError

    def notes(self, before: State, after: State) -> list[str]:
        """What an approver should know about this change (ids and ARNs only: the notes
        go to Slack). Default: nothing."""
        return []

    def unchanged(self, approved: Plan, fresh: Plan) -> bool:
        """After approval: is the fresh plan the one that was approved? Default: the same
        calls from the same before-state. A remediation whose calls carry the moment they
        are made (a token-issue-time cutoff) compares the rest."""
        return fresh.calls == approved.calls and fresh.before == approved.before

    def evidence(self) -> dict[str, Any]:
        """Anything the planned calls destroy that before-state does not already hold
        (set aside by `transition` while it plans them)."""
        return {}

    def tags(self) -> dict[str, str]:
        """The resource's tags, for exemptions. Default: what the event carried."""
        return dict(self.target.resource.tags)

    def resolve(self) -> Resource:
        """The resource's canonical identity, so that every source's finding about it opens
        or joins one incident: its ARN where a source names it otherwise (Config names IAM
        policies by id, CloudTrail by ARN). Updates the target; reads only. Default: the
        resource as the event named it."""
        return self.target.resource

    # -- the flow the base class owns -----------------------------------------------------
    def identify(self) -> Resource:
        """`resolve()`, or for a staged target (a drill) the resource as it was named."""
        return self.target.resource if self.target.staged is not None else self.resolve()

    def resource_tags(self) -> dict[str, str]:
        """`tags()`, or none for a staged target (a drill reads nothing)."""
        return {} if self.target.staged is not None else self.tags()

    def plan(self) -> Plan:
        staged = self.target.staged
        before = copy.deepcopy(staged) if staged is not None else self.read()
        after = self.desired(before)
        calls = [] if after == before else self.transition(before, after)
        return Plan(remediation=self.name, resource=self.target.resource,
                    account=self.target.account, region=self.target.region,
                    before=before, after=after, calls=calls, record_only=self.record_only,
                    saved=self.evidence(),
                    notes=self.notes(before, after) if calls or self.record_only else [])

    def call(self, call: ApiCall) -> Any:
        from botocore import xform_name

        client = self.target.region_clients(call.region or self.target.region)(call.service)
        with translate(f"{call.service}:{call.operation} on {self.target.resource.display}"):
            return getattr(client, xform_name(call.operation))(**call.params)

    def apply(self, plan: Plan) -> None:
        for call in plan.calls:
            self.call(call)

    def verify(self, plan: Plan) -> State:
        """Read the resource back; raise `VerifyFailed` unless it is `plan.after`."""
        now = self.read()
        if now != plan.after:
            raise VerifyFailed(f"{self.target.resource.display}: state after the change is "
                               f"{now}, expected {plan.after}")
        return now

    def rollback(self, plan: Plan, *, force: bool = False) -> list[ApiCall]:
        """Restore `plan.before`; refuse if the resource is no longer `plan.after`."""
        current = self.read()
        if current != plan.after and not force:
            raise RollbackConflict(
                f"{self.target.resource.display} changed since the fix (now {current}); "
                "rolling back would overwrite that change. Use --force to roll back anyway.")
        calls = [] if current == plan.before else self.transition(current, plan.before)
        for call in calls:
            self.call(call)
        now = self.read()
        if now != plan.before:
            raise VerifyFailed(f"{self.target.resource.display}: state after rollback is "
                               f"{now}, expected {plan.before}")
        return calls
