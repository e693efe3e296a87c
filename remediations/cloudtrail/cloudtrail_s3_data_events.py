"""Log S3 object-level (data) events for every bucket on the operator's trail (Config
`cloudtrail-s3-dataevents-enabled`, a `PutEventSelectors` that dropped them): who read or
wrote which PHI object (164.312(b), 164.308(a)(1)(ii)(D)).

The trail is `REMEDIATION_DATA_EVENTS_TRAIL` (name or ARN; or the policy's `trail`),
normally the account's multi-region trail; unset, the outcome is `failed` naming it.
Its selectors are merged, never replaced: every existing selector stays and ours is
added, in the trail's own style —

- advanced selectors: + `{Name: autoremediate-s3-data-events, eventCategory = Data,
  resources.type = AWS::S3::Object, resources.ARN NotStartsWith arn:aws:s3:::<the
  trail's bucket>/}` — the trail's own bucket is excluded, or each log delivery would be
  logged again (a loop);
- basic selectors: these cannot exclude a bucket. When they are only the management
  selector(s) (the default: no data resources), they are rewritten as the equivalent
  advanced selectors plus ours, so the exclusion holds; basic selectors with data
  resources of their own are recorded (`HandsOff`) for the owner, with the manual call
  in the runbook, rather than guessed at.

A trail already logging S3 data events for all buckets (basic `arn:aws:s3` /
`arn:aws:s3:::`, or an advanced Data / AWS::S3::Object selector that only excludes
ARNs) meets the rule. Approve: data events cost $0.10 per 100,000, large on busy
buckets; the approval says so.

Example policy:

```yaml
- name: cloudtrail-s3-data-events
  trigger:
    - source: config
      kinds: [cloudtrail-s3-dataevents-enabled]
  remediation: cloudtrail_s3_data_events
  mode: approve
  hipaa: ["164.312(b)"]
```

State is `{"Trail": arn, "Style": "basic" | "advanced", "Selectors": [...]}`; rollback
puts the saved selectors back (basic ones with `EventSelectors`, which replaces ours).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError, HandsOff, ResourceGone
from chalicelib.finding import ACCOUNT, TRAIL
from remediations.base import ApiCall, NoParams, Plan, Remediation, State, register
from remediations.cloudtrail._trail import home, own_trails, trail_tags

TRAIL_VAR = "REMEDIATION_DATA_EVENTS_TRAIL"
OURS = "autoremediate-s3-data-events"
ALL_BUCKETS = {"arn:aws:s3", "arn:aws:s3:::"}


class Params(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"trail": "data_events_trail"}

    trail: str | None = Field(default=None, description=(
        f"the trail (name or ARN) that logs S3 data events; default {TRAIL_VAR}"))


def _fields(selector: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["Field"]: f for f in selector.get("FieldSelectors", [])}


def logs_all_buckets(style: str, selectors: list[dict[str, Any]]) -> bool:
    """Does one selector log S3 data events (reads and writes) for every bucket?"""
    if style == "basic":
        return any(s.get("ReadWriteType", "All") == "All" and any(
            r.get("Type") == "AWS::S3::Object" and ALL_BUCKETS & set(r.get("Values", []))
            for r in s.get("DataResources", [])) for s in selectors)
    for selector in selectors:
        fields = _fields(selector)
        if (fields.get("eventCategory", {}).get("Equals") == ["Data"]
                and fields.get("resources.type", {}).get("Equals") == ["AWS::S3::Object"]
                and set(fields) <= {"eventCategory", "resources.type", "resources.ARN"}
                and set(fields.get("resources.ARN", {"Field": ""})) <= {
                    "Field", "NotStartsWith", "NotEquals"}):
            return True
    return False


def as_advanced(basic: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Management-only basic selectors as the equivalent advanced ones (None when a
    selector has data resources: not converted here)."""
    out = []
    for i, selector in enumerate(basic):
        if selector.get("DataResources"):
            return None
        if not selector.get("IncludeManagementEvents", True):
            continue
        fields: list[dict[str, Any]] = [{"Field": "eventCategory", "Equals": ["Management"]}]
        rw = selector.get("ReadWriteType", "All")
        if rw != "All":
            fields.append({"Field": "readOnly", "Equals": [str(rw == "ReadOnly").lower()]})
        for source in selector.get("ExcludeManagementEventSources", []):
            fields.append({"Field": "eventSource", "NotEquals": [source]})
        out.append({"Name": f"management-events-{i + 1}", "FieldSelectors": fields})
    return out


@register("cloudtrail_s3_data_events")
class CloudTrailS3DataEvents(Remediation[Params]):
    """Add S3 data events for every bucket (except the trail's own) to the operator's
    trail, keeping its other selectors."""

    summary = ("Log S3 data events for all buckets (the trail's own excluded) on the "
               "configured trail (REMEDIATION_DATA_EVENTS_TRAIL)")
    resource_types = (ACCOUNT, TRAIL)
    permissions = ("cloudtrail:DescribeTrails", "cloudtrail:GetTrail",
                   "cloudtrail:GetEventSelectors", "cloudtrail:PutEventSelectors",
                   "cloudtrail:ListTags")
    Params = Params

    _trail: dict[str, Any] | None = None
    _pinned: str | None = None  # verify and rollback: the plan's trail (no policy params)

    def _client(self, region: str) -> Any:
        return self.target.region_clients(region)("cloudtrail")

    def trail(self) -> dict[str, Any]:
        """The configured trail, as GetTrail reports it in its home region."""
        if self._trail is not None:
            return self._trail
        ref = self._pinned or self.params.trail
        if not ref:
            raise ConfigurationError(f"{TRAIL_VAR} is not set: name the trail (name or ARN, "
                                     "normally the multi-region one) that should log S3 "
                                     "data events")
        with translate(f"describing trail {ref}"):
            got = self._client(self.target.region).describe_trails(
                trailNameList=[ref])["trailList"]
        found = [t for t in got if ref in (t.get("TrailARN"), t.get("Name"))]
        if not found:
            raise ResourceGone(f"no trail {ref} ({TRAIL_VAR})")
        own_trails(found[:1], account=self.target.account, named=True)
        arn = str(found[0]["TrailARN"])
        with translate(f"reading trail {arn}"):
            self._trail = dict(self._client(home(arn)).get_trail(Name=arn)["Trail"])
        return self._trail

    def read(self) -> State:
        arn = str(self.trail()["TrailARN"])
        with translate(f"reading the event selectors of {arn}"):
            got = self._client(home(arn)).get_event_selectors(TrailName=arn)
        advanced = list(got.get("AdvancedEventSelectors") or [])
        if advanced:
            return {"Trail": arn, "Style": "advanced", "Selectors": advanced}
        return {"Trail": arn, "Style": "basic", "Selectors": list(got.get("EventSelectors")
                                                                   or [])}

    def ours(self) -> dict[str, Any]:
        bucket = self.trail()["S3BucketName"]
        return {"Name": OURS, "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "NotStartsWith": [f"arn:aws:s3:::{bucket}/"]}]}

    def desired(self, before: State) -> State:
        if logs_all_buckets(before["Style"], before["Selectors"]):
            return before
        if before["Style"] == "advanced":
            return {**before, "Selectors": [*before["Selectors"], self.ours()]}
        converted = as_advanced(before["Selectors"])
        if converted is None:
            raise HandsOff(f"{before['Trail']} uses basic event selectors with data "
                           "resources of its own, which cannot exclude the trail's bucket: "
                           "move it to advanced selectors by hand (see the runbook)")
        return {**before, "Style": "advanced", "Selectors": [*converted, self.ours()]}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        kind = "AdvancedEventSelectors" if to["Style"] == "advanced" else "EventSelectors"
        return [ApiCall(service="cloudtrail", operation="PutEventSelectors",
                        params={"TrailName": to["Trail"], kind: to["Selectors"]},
                        region=home(to["Trail"]))]

    def notes(self, before: State, after: State) -> list[str]:
        said = [f"{after['Trail']} will log S3 data events (reads and writes) for every "
                f"bucket except its own ({self.trail()['S3BucketName']}): $0.10 per "
                "100,000 events, large on busy buckets"]
        if before["Style"] != after["Style"]:
            said.append("its management-only basic selectors become the equivalent "
                        "advanced selectors (basic ones cannot exclude a bucket)")
        return said

    def verify(self, plan: Plan) -> State:
        self._pinned = plan.before["Trail"]
        return super().verify(plan)

    def rollback(self, plan: Plan, *, force: bool = False) -> list[ApiCall]:
        self._pinned, self._trail = plan.before["Trail"], None
        return super().rollback(plan, force=force)

    def tags(self) -> dict[str, str]:
        return trail_tags(self.target, str(self.trail()["TrailARN"]))
