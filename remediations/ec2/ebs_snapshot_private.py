"""Make public EBS snapshots private: remove the `all` group's create-volume permission.

Anyone in the world can create a volume from a public snapshot — a full copy of the disk.
Only the `all` group permission goes; permissions shared with specific accounts stay.
The resource is one snapshot (CloudTrail `ModifySnapshotAttribute` adding `all`) or, for
Config's account-level `ebs-snapshot-public-restorable-check`, every public snapshot the
account owns in the region.

Example policy:

```yaml
- name: ebs-snapshot-private
  trigger:
    - source: cloudtrail
      kinds: [ModifySnapshotAttribute]
  remediation: ebs_snapshot_private
  mode: auto
  hipaa: ["164.312(a)(1)"]
```

Before-state is which snapshots were public; rollback adds `all` back to exactly those.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.finding import ACCOUNT
from remediations.base import ApiCall, Remediation, State, register


@register("ebs_snapshot_private")
class EbsSnapshotPrivate(Remediation):
    """Remove the public (`all`) create-volume permission from EBS snapshots."""

    summary = "Remove public create-volume permission from the snapshot (accounts kept)"
    resource_types = ("AWS::EC2::Snapshot", ACCOUNT)
    permissions = ("ec2:DescribeSnapshots", "ec2:DescribeSnapshotAttribute",
                   "ec2:ModifySnapshotAttribute")

    @property
    def ec2(self) -> Any:
        return self.target.clients("ec2")

    def _snapshots(self) -> list[str]:
        found = self.target.resource
        if found.type != ACCOUNT:
            return [(found.arn or found.id).rsplit("/", 1)[-1]]
        with translate(f"listing public snapshots in {self.target.region}"):
            pages = self.ec2.get_paginator("describe_snapshots").paginate(
                OwnerIds=["self"], RestorableByUserIds=["all"])
            # our own snapshots only (some implementations ignore the owner filter)
            return sorted(s["SnapshotId"] for page in pages for s in page["Snapshots"]
                          if s.get("OwnerId", self.target.account) == self.target.account)

    def read(self) -> State:
        public = {}
        for snapshot in self._snapshots():
            with translate(f"reading who may restore {snapshot}"):
                got = self.ec2.describe_snapshot_attribute(
                    SnapshotId=snapshot, Attribute="createVolumePermission")
            public[snapshot] = any(p.get("Group") == "all"
                                   for p in got.get("CreateVolumePermissions", []))
        return {"Public": public}

    def desired(self, before: State) -> State:
        return {"Public": dict.fromkeys(before["Public"], False)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="ec2", operation="ModifySnapshotAttribute", params={
            "SnapshotId": snapshot, "Attribute": "createVolumePermission",
            "OperationType": "add" if public else "remove", "GroupNames": ["all"]})
            for snapshot, public in sorted(to["Public"].items())
            if frm["Public"].get(snapshot) != public]

    def tags(self) -> dict[str, str]:
        if self.target.resource.type == ACCOUNT:
            return {}
        snapshot = self._snapshots()[0]
        with translate(f"reading tags of {snapshot}"):
            got = self.ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
        return {t["Key"]: t["Value"] for t in (got[0].get("Tags", []) if got else [])}
