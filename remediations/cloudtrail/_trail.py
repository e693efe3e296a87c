"""What the remediations that set one configuration of a trail share (CloudWatch Logs
delivery, KMS encryption): which trails a finding is about, their settings as `GetTrail`
reports them, and `UpdateTrail` with only the parameters that change, in each trail's
home region.

The trails: the one the finding names (Config `AWS::CloudTrail::Trail`, an `UpdateTrail`
event), or for an account-level result (older evaluations name `AWS::::Account`) every
trail homed in the finding's region. An organization trail managed from another account
is not ours to change: a named one is recorded (`HandsOff`), an account-level result skips
it — as `cloudtrail_restore` does (its own code is left as it is; the few lines are
repeated here rather than moved, so its reworked behaviour cannot shift).

State is `{"Trails": {arn: {GetTrail field: value or ""}}}`; `verify` and rollback read
back exactly the trails of the plan. Rollback sends the saved values; `""` clears a
setting (CloudTrail's own way to remove it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from chalicelib.aws import translate
from chalicelib.errors import HandsOff, ResourceGone
from chalicelib.finding import ACCOUNT, TRAIL
from remediations.base import ApiCall, P, Plan, Remediation, State, Target


def home(arn: str) -> str:
    """A trail's home region (its ARN says)."""
    return arn.split(":")[3]


def owner(arn: str) -> str:
    return arn.split(":")[4]


def own_trails(trails: list[dict[str, Any]], *, account: str,
               named: bool) -> list[dict[str, Any]]:
    """`trails` without the organization trails managed from another account (the
    management account): recorded, not fought over. A trail the finding names (`named`) is
    refused with `HandsOff`; an account-level result skips them."""
    own = []
    for trail in trails:
        arn = str(trail["TrailARN"])
        if trail.get("IsOrganizationTrail") and owner(arn) != account:
            if named:
                raise HandsOff(f"{arn} is an organization trail managed from account "
                               f"{owner(arn)}: recorded, not changed from here")
            continue
        own.append(trail)
    return own


def trail_tags(target: Target, arn: str) -> dict[str, str]:
    """A trail's tags, read in its home region."""
    with translate(f"reading tags of {arn}"):
        got = target.region_clients(home(arn))("cloudtrail").list_tags(ResourceIdList=[arn])
    tags = got["ResourceTagList"][0].get("TagsList", []) if got["ResourceTagList"] else []
    return {t["Key"]: t.get("Value", "") for t in tags}


class TrailSetting(Remediation[P]):
    """Base: give every trail the finding concerns the settings `wanted()` unless it
    already `meets()` the control."""

    resource_types = (TRAIL, ACCOUNT)
    permissions: ClassVar[tuple[str, ...]] = (
        "cloudtrail:DescribeTrails", "cloudtrail:GetTrail", "cloudtrail:UpdateTrail",
        "cloudtrail:ListTags")
    # GetTrail field -> the UpdateTrail parameter that sets it
    FIELDS: ClassVar[dict[str, str]] = {}

    _pinned: list[str] | None = None

    # -- what a subclass says ------------------------------------------------------------
    def meets(self, have: dict[str, str]) -> bool:
        raise NotImplementedError

    def wanted(self, arn: str) -> dict[str, str]:
        """The settings for trail `arn` (raises ConfigurationError when unset)."""
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------
    def _client(self, region: str) -> Any:
        return self.target.region_clients(region)("cloudtrail")

    def _listed(self) -> list[dict[str, Any]]:
        found = self.target.resource
        ref = found.arn or found.id
        if found.type != ACCOUNT:
            region = home(ref) if ref.startswith("arn:") else self.target.region
            with translate(f"describing trail {ref}"):
                got = self._client(region).describe_trails(trailNameList=[ref])["trailList"]
            named = [dict(t) for t in got if ref in (t.get("TrailARN"), t.get("Name"))]
            if not named:
                raise ResourceGone(f"no trail {ref}")
            return named
        with translate(f"describing trails in {self.target.region}"):
            trails = self._client(self.target.region).describe_trails(
                includeShadowTrails=False)["trailList"]
        if not trails:
            raise HandsOff(f"no CloudTrail trail has its home in {self.target.region}: "
                           "a trail cannot be created safely without its owner "
                           "(bucket, key, retention); see the runbook")
        return [dict(t) for t in trails]

    def _arns(self) -> list[str]:
        if self._pinned is not None:
            return self._pinned
        own = own_trails(self._listed(), account=self.target.account,
                         named=self.target.resource.type != ACCOUNT)
        return sorted(str(t["TrailARN"]) for t in own)

    def _settings(self, arn: str) -> dict[str, str]:
        with translate(f"reading trail {arn}"):
            trail = self._client(home(arn)).get_trail(Name=arn)["Trail"]
        return {f: str(trail.get(f) or "") for f in self.FIELDS}

    # -- the steps -----------------------------------------------------------------------
    def read(self) -> State:
        return {"Trails": {arn: self._settings(arn) for arn in self._arns()}}

    def desired(self, before: State) -> State:
        return {"Trails": {arn: have if self.meets(have) else {**have, **self.wanted(arn)}
                           for arn, have in before["Trails"].items()}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        calls = []
        for arn, want in to["Trails"].items():
            have = frm["Trails"].get(arn, {})
            update = {param: want[f] for f, param in self.FIELDS.items()
                      if have.get(f, "") != want[f]}
            if update:
                calls.append(ApiCall(service="cloudtrail", operation="UpdateTrail",
                                     params={"Name": arn, **update}, region=home(arn)))
        return calls

    @contextmanager
    def _pinned_to(self, plan: Plan) -> Iterator[None]:
        self._pinned = sorted(plan.before["Trails"])
        try:
            yield
        finally:
            self._pinned = None

    def verify(self, plan: Plan) -> State:
        with self._pinned_to(plan):
            return super().verify(plan)

    def rollback(self, plan: Plan, *, force: bool = False) -> list[ApiCall]:
        with self._pinned_to(plan):
            return super().rollback(plan, force=force)

    def tags(self) -> dict[str, str]:
        found = self.target.resource
        if found.type == ACCOUNT or not found.arn:
            return {}
        return trail_tags(self.target, found.arn)
