"""Log every VPC's network traffic: a flow log for ALL traffic to the operator's S3
destination (`REMEDIATION_FLOW_LOGS_DESTINATION`, or the policy's `destination`).

Flow logs are the network half of the audit trail: who talked to what, accepted or
rejected. The destination is an S3 bucket ARN, optionally with a prefix
(`arn:aws:s3:::bucket/prefix/`). Unset, the outcome is `failed` with a reason that names
the variable, and nothing is created. A VPC that already sends ALL traffic to that
destination gets no second flow log.

The resource is one VPC (CloudTrail `CreateVpc`, Config `vpc-flow-logs-enabled`) or, after
`DeleteFlowLogs` (whose event names only flow log ids, gone by then), every VPC in the
account and region.

Example policy:

```yaml
- name: vpc-flow-logs
  trigger:
    - source: cloudtrail
      kinds: [CreateVpc, DeleteFlowLogs]
  remediation: vpc_flow_logs
  params: {destination: "arn:aws:s3:::org-flow-logs/phi/"}   # optional
  mode: auto
  hipaa: ["164.312(b)"]
```

Before-state is which VPCs had such a flow log; rollback deletes the flow logs this
created (the log files already delivered stay in the bucket).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError
from chalicelib.finding import ACCOUNT
from remediations.base import ApiCall, NoParams, Remediation, State, register

S3_DESTINATION = re.compile(r"^arn:aws[\w-]*:s3:::[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")


class Params(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"destination": "flow_logs_destination"}

    destination: str | None = Field(default=None, description=(
        "S3 bucket ARN (optionally /prefix/); default REMEDIATION_FLOW_LOGS_DESTINATION"))


@register("vpc_flow_logs")
class VpcFlowLogs(Remediation[Params]):
    """Send every VPC's ALL-traffic flow log to the operator's S3 destination."""

    summary = "Create a flow log for ALL traffic to the configured S3 destination"
    resource_types = ("AWS::EC2::VPC", ACCOUNT)
    permissions = ("ec2:DescribeVpcs", "ec2:DescribeFlowLogs", "ec2:CreateFlowLogs",
                   "ec2:DeleteFlowLogs")
    Params = Params

    @property
    def ec2(self) -> Any:
        return self.target.clients("ec2")

    def destination(self) -> str:
        value = self.params.destination
        if not value:
            raise ConfigurationError(
                "REMEDIATION_FLOW_LOGS_DESTINATION is not set: name the S3 bucket ARN "
                "(arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix/) for VPC flow logs")
        if not S3_DESTINATION.match(value):
            raise ConfigurationError(
                f"REMEDIATION_FLOW_LOGS_DESTINATION {value!r} is not an S3 bucket ARN "
                "(arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix/)")
        return value

    def _vpcs(self) -> list[str]:
        found = self.target.resource
        if found.type != ACCOUNT:
            return [(found.arn or found.id).rsplit("/", 1)[-1]]
        with translate(f"listing VPCs in {self.target.region}"):
            pages = self.ec2.get_paginator("describe_vpcs").paginate()
            return sorted(v["VpcId"] for page in pages for v in page["Vpcs"])

    def _ours(self, vpcs: list[str]) -> dict[str, list[str]]:
        """VPC -> ids of its flow logs for ALL traffic to our destination."""
        wanted = self.destination().rstrip("/")
        found: dict[str, list[str]] = {vpc: [] for vpc in vpcs}
        if not vpcs:
            return found
        with translate(f"reading the flow logs of {', '.join(vpcs)}"):
            pages = self.ec2.get_paginator("describe_flow_logs").paginate(
                Filters=[{"Name": "resource-id", "Values": vpcs}])
            for page in pages:
                for log in page["FlowLogs"]:
                    if (log.get("TrafficType") == "ALL"
                            and log.get("LogDestinationType") == "s3"
                            and str(log.get("LogDestination", "")).rstrip("/") == wanted):
                        found[log["ResourceId"]].append(log["FlowLogId"])
        return found

    def read(self) -> State:
        return {"FlowLogs": {vpc: bool(ids) for vpc, ids in self._ours(self._vpcs()).items()}}

    def desired(self, before: State) -> State:
        return {"FlowLogs": dict.fromkeys(before["FlowLogs"], True)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        create = sorted(v for v, on in to["FlowLogs"].items() if on and not frm["FlowLogs"][v])
        remove = sorted(v for v, on in to["FlowLogs"].items() if not on and frm["FlowLogs"][v])
        calls = []
        if create:
            calls.append(ApiCall(service="ec2", operation="CreateFlowLogs", params={
                "ResourceIds": create, "ResourceType": "VPC", "TrafficType": "ALL",
                "LogDestinationType": "s3", "LogDestination": self.destination()}))
        if remove:
            ids = sorted(i for ids in self._ours(remove).values() for i in ids)
            calls.append(ApiCall(service="ec2", operation="DeleteFlowLogs",
                                 params={"FlowLogIds": ids}))
        return calls

    def tags(self) -> dict[str, str]:
        if self.target.resource.type == ACCOUNT:
            return {}
        with translate(f"reading tags of {self._vpcs()[0]}"):
            vpcs = self.ec2.describe_vpcs(VpcIds=self._vpcs())["Vpcs"]
        return {t["Key"]: t["Value"] for t in (vpcs[0].get("Tags", []) if vpcs else [])}
