"""Keep the audit trail on: trail logging, multi-region and log-file validation back on.

The resource is one trail (CloudTrail `StopLogging` / `UpdateTrail`, Config's trail
rules, GuardDuty `Stealth:IAMUser/CloudTrailLoggingDisabled` naming it) or, for an
account-level result (`AWS::::Account`: Config `cloudtrail-enabled`,
`multi-region-cloudtrail-enabled`, or the GuardDuty finding naming no trail), every trail
whose home region is the finding's. A trail is acted on in its home region. An
organization trail owned by another account (the management account) is recorded, not
fought over: `HandsOff`. No trail at all is recorded too: re-creating one needs its owner
(bucket, key, retention).

Example policy:

```yaml
- name: cloudtrail-on
  trigger:
    - source: cloudtrail
      kinds: [StopLogging]
  remediation: cloudtrail_restore
  mode: auto
  hipaa: ["164.312(b)"]
```

Before-state is each trail's three settings; rollback puts back exactly those.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import HandsOff, ResourceGone
from chalicelib.finding import ACCOUNT, Resource
from remediations.base import ApiCall, Remediation, State, register

SETTINGS = ("IsLogging", "IsMultiRegionTrail", "LogFileValidationEnabled")


def _region(arn: str) -> str:
    return arn.split(":")[3]


@register("cloudtrail_restore")
class CloudTrailRestore(Remediation):
    """Turn trail logging, multi-region and log-file validation back on."""

    summary = "Turn the trail's logging, multi-region and log-file validation back on"
    resource_types = ("AWS::CloudTrail::Trail", ACCOUNT)
    permissions = ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus",
                   "cloudtrail:StartLogging", "cloudtrail:StopLogging",
                   "cloudtrail:UpdateTrail", "cloudtrail:ListTags")

    def _client(self, region: str) -> Any:
        return self.target.region_clients(region)("cloudtrail")

    def _trails(self) -> list[dict[str, Any]]:
        """The trails this finding is about, as DescribeTrails reports them."""
        found = self.target.resource
        with translate(f"describing trails for {found.display}"):
            if found.type == ACCOUNT:
                trails = self._client(self.target.region).describe_trails(
                    includeShadowTrails=False)["trailList"]
                if not trails:
                    raise HandsOff(f"no CloudTrail trail has its home in {self.target.region}: "
                                   "a trail cannot be created safely without its owner "
                                   "(bucket, key, retention); see the runbook")
            else:
                region = _region(found.arn) if found.arn else self.target.region
                trails = self._client(region).describe_trails(
                    trailNameList=[found.arn or found.id])["trailList"]
                if not trails:
                    raise ResourceGone(f"no trail {found.display}")
        return list(trails)

    def resolve(self) -> Resource:
        """A trail named by name becomes its ARN (which carries its home region)."""
        found = self.target.resource
        if found.type == ACCOUNT or (found.arn and found.id == found.arn):
            return found
        arn = str(self._trails()[0]["TrailARN"])
        self.target.resource = Resource(type=found.type, id=arn, arn=arn, tags=found.tags)
        return self.target.resource

    def read(self) -> State:
        state: dict[str, Any] = {}
        for trail in self._trails():
            arn = trail["TrailARN"]
            if trail.get("IsOrganizationTrail") and arn.split(":")[4] != self.target.account:
                if self.target.resource.type != ACCOUNT:
                    raise HandsOff(f"{arn} is an organization trail managed from account "
                                   f"{arn.split(':')[4]}: recorded, not changed from here")
                continue
            with translate(f"reading the status of {arn}"):
                status = self._client(_region(arn)).get_trail_status(Name=arn)
            state[arn] = {"IsLogging": bool(status["IsLogging"]),
                          "IsMultiRegionTrail": bool(trail.get("IsMultiRegionTrail")),
                          "LogFileValidationEnabled": bool(
                              trail.get("LogFileValidationEnabled")),
                          # recorded for the evidence, never changed here
                          "S3BucketName": trail.get("S3BucketName"),
                          "KmsKeyId": trail.get("KmsKeyId")}
        return {"Trails": state}

    def desired(self, before: State) -> State:
        return {"Trails": {arn: {**have, **dict.fromkeys(SETTINGS, True)}
                           for arn, have in before["Trails"].items()}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        calls = []
        for arn, want in to["Trails"].items():
            have = frm["Trails"].get(arn, {})
            if any(have.get(k) != want[k] for k in SETTINGS[1:]):
                calls.append(ApiCall(service="cloudtrail", operation="UpdateTrail", params={
                    "Name": arn, "IsMultiRegionTrail": want["IsMultiRegionTrail"],
                    "EnableLogFileValidation": want["LogFileValidationEnabled"]},
                    region=_region(arn)))
            if have.get("IsLogging") != want["IsLogging"]:
                op = "StartLogging" if want["IsLogging"] else "StopLogging"
                calls.append(ApiCall(service="cloudtrail", operation=op, params={"Name": arn},
                                     region=_region(arn)))
        return calls

    def tags(self) -> dict[str, str]:
        found = self.target.resource
        if found.type == ACCOUNT or not found.arn:
            return {}
        with translate(f"reading tags of {found.arn}"):
            got = self._client(_region(found.arn)).list_tags(ResourceIdList=[found.arn])
        tags = got["ResourceTagList"][0].get("TagsList", []) if got["ResourceTagList"] else []
        return {t["Key"]: t.get("Value", "") for t in tags}
