"""What the CloudWatch Logs remediations share: the log group (events name it by name,
our identity is its ARN), its description and its tags."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import ResourceGone
from remediations.base import P, Remediation


class LogGroupRemediation(Remediation[P]):
    """A remediation of one CloudWatch Logs log group."""

    resource_types = ("AWS::Logs::LogGroup",)

    @property
    def logs(self) -> Any:
        return self.target.clients("logs")

    @property
    def group(self) -> str:
        """The log group's name (the part of the ARN after `log-group:`)."""
        ref = self.target.resource.arn or self.target.resource.id
        return ref.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in ref else ref

    @property
    def arn(self) -> str:
        return (f"arn:aws:logs:{self.target.region}:{self.target.account}:"
                f"log-group:{self.group}")

    def describe(self) -> dict[str, Any]:
        """The group as DescribeLogGroups reports it (exact name, not just the prefix)."""
        with translate(f"describing log group {self.group}"):
            pages = self.logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=self.group)
            for page in pages:
                for group in page["logGroups"]:
                    if group["logGroupName"] == self.group:
                        return dict(group)
        raise ResourceGone(f"no log group {self.group} in {self.target.region}")

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of log group {self.group}"):
            return dict(self.logs.list_tags_for_resource(resourceArn=self.arn).get("tags", {}))
