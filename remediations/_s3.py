"""Helpers the S3 remediations share: reads that treat "not configured" as None, and tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.aws import translate
from remediations.base import Remediation

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


class BucketRemediation(Remediation):
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
