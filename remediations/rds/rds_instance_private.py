"""Make an RDS instance not publicly accessible (after approval).

A publicly accessible instance gets a public DNS name and IP: the database is one
security-group rule away from the internet. CloudTrail names instances by identifier,
Config by resource id (`db-…`): both resolve to the instance's ARN. It runs in approve
mode: clients that connect from outside the VPC lose access.

Example policy:

```yaml
- name: rds-instance-private
  trigger:
    - source: cloudtrail
      kinds: [ModifyDBInstance, CreateDBInstance]
  remediation: rds_instance_private
  mode: approve
  hipaa: ["164.312(a)(1)", "164.312(e)(1)"]
```

Before-state is `PubliclyAccessible`; rollback sets it back (applied immediately).
The plan counts the accepted flows from public addresses to the instance's port in the
flow logs first (`chalicelib.preflight`): the approver sees who would lose access.
"""

from __future__ import annotations

from typing import Any

from chalicelib import preflight
from chalicelib.aws import translate
from chalicelib.errors import ResourceGone
from chalicelib.finding import Resource
from remediations.base import ApiCall, State, register


@register("rds_instance_private")
class RdsInstancePrivate(preflight.TrafficChecked[preflight.TrafficParams]):
    """Turn off public accessibility of an RDS instance."""

    summary = "Make the DB instance not publicly accessible"
    resource_types = ("AWS::RDS::DBInstance",)
    permissions = ("rds:DescribeDBInstances", "rds:ModifyDBInstance",
                   "rds:ListTagsForResource", "ec2:DescribeNetworkInterfaces",
                   "ec2:DescribeVpcs", "ec2:DescribeFlowLogs", "logs:FilterLogEvents")
    Params = preflight.TrafficParams
    cuts_traffic = True  # clients outside the VPC lose the public address

    _instance: dict[str, Any] | None = None

    @property
    def rds(self) -> Any:
        return self.target.clients("rds")

    def instance(self) -> dict[str, Any]:
        """The instance, by identifier (one call), else by Config's resource id
        (DbiResourceId: a search through the region's instances)."""
        from botocore.exceptions import ClientError

        ref = self.target.resource.arn or self.target.resource.id
        wanted = ref.rsplit(":", 1)[-1] if ref.startswith("arn:") else ref
        with translate(f"finding DB instance {wanted}"):
            try:
                found = self.rds.describe_db_instances(DBInstanceIdentifier=wanted)
                self._instance = dict(found["DBInstances"][0])
                return self._instance
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "DBInstanceNotFound":
                    raise
            for page in self.rds.get_paginator("describe_db_instances").paginate():
                for db in page["DBInstances"]:
                    if wanted in (db["DBInstanceIdentifier"], db.get("DbiResourceId")):
                        self._instance = dict(db)
                        return self._instance
        raise ResourceGone(f"no DB instance {wanted}")

    def resolve(self) -> Resource:
        found = self.target.resource
        arn = str(self.instance()["DBInstanceArn"])
        self.target.resource = Resource(type=found.type, id=arn, arn=arn, tags=found.tags)
        return self.target.resource

    def read(self) -> State:
        return {"PubliclyAccessible": bool(self.instance().get("PubliclyAccessible"))}

    def desired(self, before: State) -> State:
        return {"PubliclyAccessible": False}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        name = (self._instance or self.instance())["DBInstanceIdentifier"]
        return [ApiCall(service="rds", operation="ModifyDBInstance", params={
            "DBInstanceIdentifier": name, "PubliclyAccessible": to["PubliclyAccessible"],
            "ApplyImmediately": True})]

    def traffic_scope(self, before: State, after: State) -> preflight.Scope:
        """The instance's interfaces (RDS's, in its subnets and security groups: moto and
        the API name no instance on them, so instances sharing both are counted
        together); cut: flows to its port from public addresses. Addresses in the VPC
        and private ranges (peering, VPN) still reach the private endpoint."""
        db = self._instance or self.instance()
        subnets = [s["SubnetIdentifier"] for s in db.get("DBSubnetGroup", {}).get("Subnets", [])]
        groups = [g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])]
        vpc = str(db.get("DBSubnetGroup", {}).get("VpcId", ""))
        port = int((db.get("Endpoint") or {}).get("Port") or db.get("DbInstancePort") or 0)
        if not (vpc and subnets):
            return preflight.Scope(vpc=vpc, enis=[], cut=preflight.Cut({}), unknown=(
                "the instance names no VPC subnets: traffic not checked"))
        filters = [{"Name": "description", "Values": ["RDSNetworkInterface"]},
                   {"Name": "subnet-id", "Values": subnets},
                   *([{"Name": "group-id", "Values": groups}] if groups else [])]
        enis = preflight.enis(self.target.clients("ec2"), filters)
        with translate(f"reading the CIDR blocks of {vpc}"):
            found = self.target.clients("ec2").describe_vpcs(VpcIds=[vpc])["Vpcs"]
        cidrs = [a["CidrBlock"] for v in found for a in v.get("CidrBlockAssociationSet", [])]
        cidrs += [a["Ipv6CidrBlock"] for v in found
                  for a in v.get("Ipv6CidrBlockAssociationSet", [])]
        private = [*map(str, preflight.PRIVATE), *cidrs]
        stays = [preflight.allow("-1", -1, -1, private)]
        cut = preflight.Cut({"ingress": [preflight.allow("tcp", port, port, ["0.0.0.0/0",
                                                                              "::/0"])]},
                            {e.id: {"ingress": stays} for e in enis})
        return preflight.Scope(vpc=vpc, enis=enis, cut=cut)

    def tags(self) -> dict[str, str]:
        arn = str((self._instance or self.instance())["DBInstanceArn"])
        with translate(f"reading tags of {arn}"):
            tags = self.rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])
        return {t["Key"]: t["Value"] for t in tags}
