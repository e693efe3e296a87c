"""What the remediations of a KMS key itself share: the key's ARN (events name keys by id,
ARN or alias) and its metadata and tags."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from chalicelib.finding import Resource
from remediations.base import P, Remediation


class KeyRemediation(Remediation[P]):
    """A remediation of one customer-managed KMS key."""

    resource_types = ("AWS::KMS::Key",)

    @property
    def kms(self) -> Any:
        return self.target.clients("kms")

    @property
    def key(self) -> str:
        """The key id for API calls (we act in the key's own account, where the id is
        enough, and some emulators take only the id); an alias until resolved."""
        ref = self.target.resource.arn or self.target.resource.id
        return ref.rsplit("/", 1)[-1] if ":key/" in ref else ref

    def metadata(self) -> dict[str, Any]:
        ref = self.target.resource.arn or self.target.resource.id
        if ref.startswith("arn:") and ":alias/" in ref:
            ref = "alias/" + ref.split(":alias/", 1)[1]  # describe_key takes an alias name
        elif ":key/" in ref:
            ref = self.key
        with translate(f"describing KMS key {ref}"):
            return dict(self.kms.describe_key(KeyId=ref)["KeyMetadata"])

    def resolve(self) -> Resource:
        """A key named by id or alias becomes the key's ARN."""
        found = self.target.resource
        if found.arn and ":key/" in found.arn and found.id == found.arn:
            return found
        arn = str(self.metadata()["Arn"])
        self.target.resource = Resource(type=found.type, id=arn, arn=arn, tags=found.tags)
        return self.target.resource

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of KMS key {self.key}"):
            tags = self.kms.list_resource_tags(KeyId=self.key).get("Tags", [])
        return {t["TagKey"]: t["TagValue"] for t in tags}
