"""Make a public RDS snapshot private: remove `all` from its `restore` attribute.

Anyone can restore a public DB snapshot into their own account: a full copy of the
database. Only `all` goes; accounts the snapshot is shared with stay. DB snapshots and
Aurora cluster snapshots both. CloudTrail names a snapshot by identifier, Config by its
resource id or ARN: both resolve to the snapshot's ARN.

Example policy:

```yaml
- name: rds-snapshot-private
  trigger:
    - source: cloudtrail
      kinds: [ModifyDBSnapshotAttribute, ModifyDBClusterSnapshotAttribute]
  remediation: rds_snapshot_private
  mode: auto
  hipaa: ["164.312(a)(1)"]
```

Before-state is whether `all` could restore; rollback adds it back.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import ResourceGone
from chalicelib.finding import Resource
from remediations.base import ApiCall, Remediation, State, register

CLUSTER = "AWS::RDS::DBClusterSnapshot"


@register("rds_snapshot_private")
class RdsSnapshotPrivate(Remediation):
    """Remove public (`all`) restore permission from an RDS or Aurora snapshot."""

    summary = "Remove public restore permission from the DB snapshot (accounts kept)"
    resource_types = ("AWS::RDS::DBSnapshot", CLUSTER)
    permissions = ("rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots",
                   "rds:DescribeDBSnapshotAttributes",
                   "rds:DescribeDBClusterSnapshotAttributes",
                   "rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute",
                   "rds:ListTagsForResource")

    @property
    def rds(self) -> Any:
        return self.target.clients("rds")

    @property
    def cluster(self) -> bool:
        return self.target.resource.type == CLUSTER

    @property
    def kind(self) -> str:
        return "DBClusterSnapshot" if self.cluster else "DBSnapshot"

    @property
    def snapshot(self) -> str:
        """The identifier; from an ARN, everything after `snapshot:` / `cluster-snapshot:`
        (automated snapshots are named `rds:<db>-<date>`: the prefix is part of the id)."""
        ref = self.target.resource.arn or self.target.resource.id
        return ref.split(":", 6)[6] if ref.startswith("arn:") else ref

    def resolve(self) -> Resource:
        """Find the snapshot by identifier, ARN or (cluster snapshots) resource id; its ARN."""
        found = self.target.resource
        with translate(f"finding {self.kind} {self.snapshot}"):
            paginator = self.rds.get_paginator(f"describe_{'db_cluster' if self.cluster else 'db'}"
                                               "_snapshots")
            for page in paginator.paginate():
                for snap in page[f"{self.kind}s"]:
                    arn = snap[f"{self.kind}Arn"]
                    # never the DbiResourceId: that is the source instance's, shared by
                    # all its snapshots
                    if self.snapshot in (snap[f"{self.kind}Identifier"], arn,
                                         snap.get("DBClusterSnapshotResourceId")):
                        self.target.resource = Resource(type=found.type, id=arn, arn=arn,
                                                        tags=found.tags)
                        return self.target.resource
        raise ResourceGone(f"no {self.kind} {self.snapshot}")

    def read(self) -> State:
        op = f"describe_{'db_cluster' if self.cluster else 'db'}_snapshot_attributes"
        with translate(f"reading who may restore {self.snapshot}"):
            got = getattr(self.rds, op)(**{f"{self.kind}Identifier": self.snapshot})
        attributes = got[f"{self.kind}AttributesResult"][f"{self.kind}Attributes"]
        restore: list[str] = next((a.get("AttributeValues", []) for a in attributes
                        if a["AttributeName"] == "restore"), [])
        return {"PublicRestore": "all" in restore}

    def desired(self, before: State) -> State:
        return {"PublicRestore": False}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        change = "ValuesToAdd" if to["PublicRestore"] else "ValuesToRemove"
        return [ApiCall(service="rds", operation=f"Modify{self.kind}Attribute", params={
            f"{self.kind}Identifier": self.snapshot, "AttributeName": "restore",
            change: ["all"]})]

    def tags(self) -> dict[str, str]:
        arn = self.target.resource.arn or self.resolve().id
        with translate(f"reading tags of {arn}"):
            tags = self.rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])
        return {t["Key"]: t["Value"] for t in tags}
