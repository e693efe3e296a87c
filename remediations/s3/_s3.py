"""Helpers the S3 remediations share: reads that treat "not configured" as None, and tags."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from chalicelib.aws import translate
from remediations._policy_doc import Doc, canonical, parse
from remediations.base import IAM_ACTION_OVERRIDES, ApiCall, P, Remediation, State

# the four Block Public Access flags, for a bucket and for the account alike
BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
               "RestrictPublicBuckets")
BLOCK_KEY = "PublicAccessBlockConfiguration"

# S3 operations whose IAM action is not "s3:<Operation>" (AWS's service authorization
# reference). Registered here, beside the remediations that make these calls, so the
# permission checks (declared vs made) see the real action names.
IAM_ACTION_OVERRIDES.update({
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "s3:PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "s3:DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
})

# S3 cannot return a bucket to "never versioned": never-versioned and Suspended both read
# as OFF, so a rollback that suspends versioning reads back as the before-state.
VERSIONING_ON, VERSIONING_OFF = "Enabled", "Off"


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


def versioning(s3: Any, owner: dict[str, str]) -> dict[str, Any]:
    """{"Status": "Enabled" | "Off", "MFADelete": bool} for the bucket."""
    with translate(f"reading the versioning of bucket {owner['Bucket']}"):
        found = s3.get_bucket_versioning(**owner)
    on = found.get("Status") == VERSIONING_ON
    return {"Status": VERSIONING_ON if on else VERSIONING_OFF,
            "MFADelete": found.get("MFADelete") == "Enabled"}


def versioning_call(owner: dict[str, str], status: str) -> ApiCall:
    """PutBucketVersioning to `status` (Off becomes Suspended: S3 has no way back)."""
    return ApiCall(service="s3", operation="PutBucketVersioning", params={
        **owner, "VersioningConfiguration": {
            "Status": VERSIONING_ON if status == VERSIONING_ON else "Suspended"}})


def bucket_policy(s3: Any, owner: dict[str, str]) -> Doc | None:
    """The bucket policy as a canonical document; None when the bucket has none."""
    found = read_optional(f"reading the policy of bucket {owner['Bucket']}",
                          "NoSuchBucketPolicy", lambda: s3.get_bucket_policy(**owner))
    return canonical(parse(found["Policy"])) if found else None


def bucket_policy_call(owner: dict[str, str], policy: Doc | None) -> ApiCall:
    """PutBucketPolicy with `policy`, or DeleteBucketPolicy when it is None."""
    if policy is None:
        return ApiCall(service="s3", operation="DeleteBucketPolicy", params=owner)
    return ApiCall(service="s3", operation="PutBucketPolicy",
                   params={**owner, "Policy": json.dumps(policy)})


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
