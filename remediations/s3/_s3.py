"""Helpers the S3 remediations share: reads that treat "not configured" as None, and tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from chalicelib.aws import translate
from remediations.base import ApiCall, P, Remediation, State

# the four Block Public Access flags, for a bucket and for the account alike
BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
               "RestrictPublicBuckets")
BLOCK_KEY = "PublicAccessBlockConfiguration"


def read_optional(what: str, missing_code: str, fetch: Callable[[], Any]) -> Any | None:
    """Run `fetch`; a ClientError with `missing_code` means "not configured" and gives None.

    Every other error goes through `translate` (NoSuchBucket → ResourceGone, …).
    """
    from botocore.exceptions import ClientError

    with translate(what):
        try:
            return fetch()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == missing_code:
                return None
            raise


def bucket_tags(s3: Any, bucket: str, account: str) -> dict[str, str]:
    """The bucket's tags ({} when it has none)."""
    found = read_optional(
        f"reading tags of bucket {bucket}", "NoSuchTagSet",
        lambda: s3.get_bucket_tagging(Bucket=bucket, ExpectedBucketOwner=account),
    )
    return {t["Key"]: t["Value"] for t in (found or {}).get("TagSet", [])}


class BucketRemediation(Remediation[P]):
    """What every bucket remediation shares: the bucket name, the owner guard
    (`ExpectedBucketOwner` = the event's account, so a re-created bucket of the same name in
    someone else's account is never touched) and tags for exemptions."""

    resource_types = ("AWS::S3::Bucket",)

    @property
    def bucket(self) -> str:
        return self.target.resource.id

    @property
    def owner(self) -> dict[str, str]:
        return {"Bucket": self.bucket, "ExpectedBucketOwner": self.target.account}

    def tags(self) -> dict[str, str]:
        return bucket_tags(self.target.clients("s3"), self.bucket, self.target.account)


class PublicAccessBlock(Remediation[P]):
    """The four Block Public Access flags all on, for a bucket (s3) or the account
    (s3control): the same API shape, so one read/desired/transition. A subclass names the
    service, the request parameters that say where, and what it is (for messages)."""

    block_service: ClassVar[str] = "s3"

    def block_params(self) -> dict[str, str]:
        raise NotImplementedError

    def block_what(self) -> str:
        raise NotImplementedError

    def read(self) -> State:
        client = self.target.clients(self.block_service)
        found = read_optional(
            f"reading the public access block of {self.block_what()}",
            "NoSuchPublicAccessBlockConfiguration",
            lambda: client.get_public_access_block(**self.block_params()))
        if found is None:
            return {BLOCK_KEY: None}
        config = found.get(BLOCK_KEY, {})
        return {BLOCK_KEY: {flag: bool(config.get(flag, False)) for flag in BLOCK_FLAGS}}

    def desired(self, before: State) -> State:
        return {BLOCK_KEY: dict.fromkeys(BLOCK_FLAGS, True)}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        where = self.block_params()
        if to[BLOCK_KEY] is None:
            return [ApiCall(service=self.block_service, operation="DeletePublicAccessBlock",
                            params=where)]
        return [ApiCall(service=self.block_service, operation="PutPublicAccessBlock",
                        params={**where, BLOCK_KEY: dict(to[BLOCK_KEY])})]
