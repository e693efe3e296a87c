"""Keep the audit trail on, one control at a time: each policy names the `aspect` its
control asks for, and only that is changed.

- `logging` (CloudTrail `StopLogging`, Config `cloudtrail-enabled`, GuardDuty
  `Stealth:IAMUser/CloudTrailLoggingDisabled`): `StartLogging` on the trail the finding
  names; for an account-level finding, on every stopped trail homed in its region.
- `validation` (Security Hub CloudTrail.4, Config `cloud-trail-log-file-validation-enabled`,
  an `UpdateTrail` that turned it off): `UpdateTrail(EnableLogFileValidation=true)` on the
  named trail (account-level: every trail homed in the region that lacks it). Nothing
  else of the trail is sent.
- `multi_region` (Security Hub CloudTrail.1, Config `multi-region-cloudtrail-enabled`, an
  `UpdateTrail` that turned it off): the account needs ONE logging multi-region trail.
  When one already covers the region (the account's own or the organization's), nothing
  changes: the outcome is compliant, and single-region trails (a data-event trail) stay
  single-region. Otherwise one trail is made multi-region, and started if it is stopped (a
  stopped trail does not meet the control): the trail the finding names, else the
  policy's `primary_trail`, else the account's own organization trail homed in the
  region, else the only trail homed there. Several and none designated: recorded
  (`HandsOff`), never guessed.

A trail is acted on in its home region. An organization trail owned by another account
(the management account) is recorded, not fought over: `HandsOff`. No trail at all is
recorded too: re-creating one needs its owner (bucket, key, retention).

Example policy:

```yaml
- name: cloudtrail-log-validation
  trigger:
    - source: securityhub
      kinds: [CloudTrail.4]
  remediation: cloudtrail_restore
  params: {aspect: validation}
  mode: auto
  hipaa: ["164.312(b)"]
```

State is `{"Aspect": ..., "Trails": {arn: {setting: bool}}}` with only the aspect's
settings of the trails it concerns (for a compliant `multi_region`, the trails that
cover the region). `verify` and rollback read back exactly those trails and settings, so
rollback puts back only what the fix changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import HandsOff, ResourceGone
from chalicelib.finding import ACCOUNT, Resource
from remediations.base import ApiCall, NoParams, Plan, Remediation, State, register
from remediations.cloudtrail._trail import home, own_trails, trail_tags


class Aspect(StrEnum):
    """What one control asks of a trail."""

    LOGGING = "logging"
    VALIDATION = "validation"
    MULTI_REGION = "multi_region"


# the settings each aspect reads, turns on and rolls back (multi-region includes logging:
# a multi-region trail that does not log meets no control)
FIELDS: dict[Aspect, tuple[str, ...]] = {
    Aspect.LOGGING: ("IsLogging",),
    Aspect.VALIDATION: ("LogFileValidationEnabled",),
    Aspect.MULTI_REGION: ("IsMultiRegionTrail", "IsLogging"),
}
# UpdateTrail's parameter for each setting it changes
UPDATE = {"IsMultiRegionTrail": "IsMultiRegionTrail",
          "LogFileValidationEnabled": "EnableLogFileValidation"}


class Params(NoParams):
    aspect: Aspect = Field(default=Aspect.LOGGING, description=(
        "what the policy's control asks: logging (StartLogging), validation (log-file "
        "validation on) or multi_region (one logging multi-region trail in the account)"))
    primary_trail: str | None = Field(default=None, description=(
        "multi_region only: the trail (name or ARN) to make multi-region when the finding "
        "names none; default: the account's own organization trail, else the only trail "
        "homed in the region"))


@register("cloudtrail_restore")
class CloudTrailRestore(Remediation[Params]):
    """Turn back on what the policy's control asks of a trail: logging, log-file
    validation, or one multi-region trail for the account."""

    summary = ("Turn back on the one trail setting the control asks for (logging, log-file "
               "validation, or one multi-region trail)")
    resource_types = ("AWS::CloudTrail::Trail", ACCOUNT)
    permissions = ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus",
                   "cloudtrail:StartLogging", "cloudtrail:StopLogging",
                   "cloudtrail:UpdateTrail", "cloudtrail:ListTags")
    Params = Params

    # verify and rollback read back the trails and settings of a plan, not a fresh choice
    _pinned: State | None = None
    # why the multi_region plan picked its trail (for the approver's notes)
    _chosen_because: str = ""

    @property
    def aspect(self) -> Aspect:
        return self.params.aspect

    def _client(self, region: str) -> Any:
        return self.target.region_clients(region)("cloudtrail")

    @property
    def _home(self) -> str:
        """Where the finding's trail lives (its ARN says), or the account-level region."""
        found = self.target.resource
        return home(found.arn) if found.type != ACCOUNT and found.arn else self.target.region

    def _describe(self, region: str, *, shadows: bool) -> list[dict[str, Any]]:
        with translate(f"describing trails in {region}"):
            return list(self._client(region).describe_trails(
                includeShadowTrails=shadows)["trailList"])

    def _named(self, ref: str, region: str) -> dict[str, Any]:
        """One trail by name or ARN, as DescribeTrails reports it in `region`."""
        with translate(f"describing trail {ref}"):
            got = self._client(region).describe_trails(trailNameList=[ref])["trailList"]
        for trail in got:  # the name list is a filter; match exactly all the same
            if ref in (trail.get("TrailARN"), trail.get("Name")):
                return dict(trail)
        raise ResourceGone(f"no trail {ref}")

    def _trails(self) -> list[dict[str, Any]]:
        """The trails this finding is about: the one it names, or every trail homed in its
        region for an account-level result."""
        found = self.target.resource
        if found.type != ACCOUNT:
            return [self._named(found.arn or found.id, self._home)]
        trails = self._describe(self.target.region, shadows=False)
        if not trails:
            raise HandsOff(f"no CloudTrail trail has its home in {self.target.region}: "
                           "a trail cannot be created safely without its owner "
                           "(bucket, key, retention); see the runbook")
        return trails

    def _own(self, trails: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Drop organization trails managed from another account: a named one is recorded
        (`HandsOff`), an account-level result skips them."""
        return own_trails(trails, account=self.target.account,
                          named=self.target.resource.type != ACCOUNT)

    def _logging(self, arn: str) -> bool:
        with translate(f"reading the status of {arn}"):
            return bool(self._client(home(arn)).get_trail_status(Name=arn)["IsLogging"])

    def _settings(self, trail: dict[str, Any], fields: tuple[str, ...] | list[str]) -> State:
        arn = str(trail["TrailARN"])
        return {k: self._logging(arn) if k == "IsLogging" else bool(trail.get(k))
                for k in fields}

    # -- multi_region: is the account covered, and if not, which one trail ------------
    def _multihome(self) -> list[dict[str, Any]]:
        """The logging multi-region trails that cover the region; none: the one trail to
        make multi-region."""
        region = self._home
        visible = self._describe(region, shadows=True)  # with other regions' multi-region
        covering = [t for t in visible
                    if t.get("IsMultiRegionTrail") and self._logging(str(t["TrailARN"]))]
        if covering:
            return covering
        return [self._choose(region, visible)]

    def _choose(self, region: str, visible: list[dict[str, Any]]) -> dict[str, Any]:
        found = self.target.resource
        if found.type != ACCOUNT:
            self._chosen_because = "the finding names it"
            return self._own([self._named(found.arn or found.id, region)])[0]
        homed = self._own([t for t in visible if t.get("HomeRegion", region) == region])
        primary = self.params.primary_trail
        named = [t for t in homed if primary in (t.get("TrailARN"), t.get("Name"))]
        orgs = [t for t in homed if t.get("IsOrganizationTrail")]
        for because, pick in ((f"it is the policy's primary_trail {primary}", named),
                              ("it is the account's organization trail", orgs),
                              (f"it is the only trail homed in {region}", homed)):
            if len(pick) == 1:
                self._chosen_because = because
                return pick[0]
        if not homed:
            raise HandsOff(f"no multi-region trail logs for {region} and no CloudTrail trail "
                           f"has its home there: a trail cannot be created safely without "
                           "its owner (bucket, key, retention); see the runbook")
        names = ", ".join(sorted(str(t.get("Name")) for t in homed))
        raise HandsOff(f"no multi-region trail logs for {region}, and which of its "
                       f"{len(homed)} trails ({names}) should become multi-region is not "
                       "decided here: set params.primary_trail in the policy, or make one "
                       "multi-region by hand")

    # -- the steps ------------------------------------------------------------------
    @contextmanager
    def _pinned_to(self, state: State) -> Iterator[None]:
        self._pinned = state
        try:
            yield
        finally:
            self._pinned = None

    def _read_pinned(self, pinned: State) -> State:
        """The settings a plan recorded, of exactly its trails, read again."""
        trails = {arn: self._settings(self._named(arn, home(arn)), list(fields))
                  for arn, fields in pinned["Trails"].items()}
        return {**({"Aspect": pinned["Aspect"]} if "Aspect" in pinned else {}),
                "Trails": trails}

    def read(self) -> State:
        if self._pinned is not None:
            return self._read_pinned(self._pinned)
        aspect = self.aspect
        trails = (self._multihome() if aspect is Aspect.MULTI_REGION
                  else self._own(self._trails()))
        return {"Aspect": aspect.value,
                "Trails": {str(t["TrailARN"]): self._settings(t, FIELDS[aspect])
                           for t in trails}}

    def desired(self, before: State) -> State:
        fields = FIELDS[self.aspect]
        return {**before, "Trails": {
            arn: {**have, **{k: True for k in fields if k in have}}
            for arn, have in before["Trails"].items()}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        calls = []
        for arn, want in to["Trails"].items():
            have = frm["Trails"].get(arn, {})
            update = {param: want[k] for k, param in UPDATE.items()
                      if k in want and have.get(k) != want[k]}
            if update:
                calls.append(ApiCall(service="cloudtrail", operation="UpdateTrail",
                                     params={"Name": arn, **update}, region=home(arn)))
            if "IsLogging" in want and have.get("IsLogging") != want["IsLogging"]:
                op = "StartLogging" if want["IsLogging"] else "StopLogging"
                calls.append(ApiCall(service="cloudtrail", operation=op, params={"Name": arn},
                                     region=home(arn)))
        return calls

    def plan(self) -> Plan:
        plan = super().plan()
        if plan.is_noop:  # compliant: say why (the trails that meet the control)
            return plan.model_copy(update={"notes": [self._compliant(plan.before)]})
        return plan

    def _compliant(self, before: State) -> str:
        arns = ", ".join(before["Trails"]) or "no trail"
        if self.aspect is not Aspect.MULTI_REGION:
            return f"{self.aspect.value} already on for {arns}"
        found = self.target.resource
        kept = (f"; {found.display} stays single-region (by design, e.g. a data-event "
                "trail)" if found.type != ACCOUNT and found.display not in before["Trails"]
                else "")
        return f"the multi-region trail(s) {arns} log for {self._home}{kept}"

    def notes(self, before: State, after: State) -> list[str]:
        if self.aspect is not Aspect.MULTI_REGION or not self._chosen_because:
            return []
        return [f"no multi-region trail logs for {self._home}: {', '.join(after['Trails'])} "
                f"becomes multi-region because {self._chosen_because}"]

    def verify(self, plan: Plan) -> State:
        with self._pinned_to(plan.before):
            return super().verify(plan)

    def rollback(self, plan: Plan, *, force: bool = False) -> list[ApiCall]:
        # the plan says which aspect and trails were changed (rollback has no policy params)
        with self._pinned_to(plan.before):
            return super().rollback(plan, force=force)

    def resolve(self) -> Resource:
        """A trail named by name becomes its ARN (which carries its home region)."""
        found = self.target.resource
        if found.type == ACCOUNT or (found.arn and found.id == found.arn):
            return found
        arn = str(self._trails()[0]["TrailARN"])
        self.target.resource = Resource(type=found.type, id=arn, arn=arn, tags=found.tags)
        return self.target.resource

    def tags(self) -> dict[str, str]:
        found = self.target.resource
        if found.type == ACCOUNT or not found.arn:
            return {}
        return trail_tags(self.target, found.arn)
