"""Turn on S3 Object Lock with a default retention for a versioned bucket: every new
object version is kept `days` days (default 2192, six years) in GOVERNANCE mode
(HIPAA 164.312(c)(1) integrity: PHI cannot be overwritten or deleted for good meanwhile).

**Irreversible:** Object Lock cannot be turned off again, versioning can no longer be
suspended, and the versions written while the rule is on keep their retention after a
rollback (GOVERNANCE can be bypassed by principals with `s3:BypassGovernanceRetention`;
COMPLIANCE mode is never used). Replication then needs a token from AWS Support and
lifecycle rules cannot expire locked versions. So it runs after approval, and the
approval says all this. Versioning must be Enabled first (`s3_enable_versioning`);
otherwise an incident is opened. A bucket with any default retention is left alone.

Example policy:

```yaml
- name: s3-object-lock
  trigger:
    - source: config
      kinds: [s3-bucket-default-lock-enabled]
  remediation: s3_object_lock_default
  params: {days: 2192}
  mode: approve
  hipaa: ["164.312(c)(1)"]
```

Before-state is the default retention (None when there is none); rollback removes the
default rule and leaves Object Lock itself on.
"""

from __future__ import annotations

from pydantic import Field

from chalicelib.errors import HandsOff
from remediations.base import ApiCall, NoParams, Plan, State, register
from remediations.s3._s3 import VERSIONING_ON, BucketRemediation, read_optional, versioning

MODE = "GOVERNANCE"  # never COMPLIANCE: that one nobody, root included, can shorten


class Params(NoParams):
    days: int = Field(default=2192, ge=1, le=36500, description=(
        "default retention of each new object version, in days (default six years)"))


@register("s3_object_lock_default")
class S3ObjectLockDefault(BucketRemediation[Params]):
    """Object Lock on with a GOVERNANCE default retention (irreversible: Lock stays on)."""

    summary = ("Enable Object Lock with a GOVERNANCE default retention of `days` "
               "(irreversible: Object Lock cannot be turned off)")
    permissions = ("s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration",
                   "s3:PutBucketObjectLockConfiguration", "s3:GetBucketTagging")
    Params = Params

    def read(self) -> State:
        s3 = self.target.clients("s3")
        found = read_optional(
            f"reading the Object Lock configuration of bucket {self.bucket}",
            "ObjectLockConfigurationNotFoundError",
            lambda: s3.get_object_lock_configuration(**self.owner))
        config = (found or {}).get("ObjectLockConfiguration", {})
        rule = config.get("Rule", {}).get("DefaultRetention")
        # moto reports the unused one of Days/Years as 0, S3 omits it: both read None
        retention = None if not rule else {"Mode": rule.get("Mode"),
                                           "Days": rule.get("Days") or None,
                                           "Years": rule.get("Years") or None}
        return {"Versioning": versioning(s3, self.owner)["Status"],
                "LockEnabled": config.get("ObjectLockEnabled") == "Enabled",
                "DefaultRetention": retention}

    def desired(self, before: State) -> State:
        if before["DefaultRetention"] is not None:
            return before  # a default retention already, of the owner's choosing
        if before["Versioning"] != VERSIONING_ON:
            raise HandsOff(f"bucket {self.bucket} is not versioned: Object Lock needs "
                           "versioning Enabled first (s3_enable_versioning)")
        return {**before, "LockEnabled": True,
                "DefaultRetention": {"Mode": MODE, "Days": self.params.days, "Years": None}}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        config: dict[str, object] = {"ObjectLockEnabled": "Enabled"}
        if to["DefaultRetention"] is not None:
            config["Rule"] = {"DefaultRetention": {k: v for k, v in
                                                   to["DefaultRetention"].items() if v}}
        return [ApiCall(service="s3", operation="PutObjectLockConfiguration",
                        params={**self.owner, "ObjectLockConfiguration": config})]

    def rollback(self, plan: Plan, *, force: bool = False) -> list[ApiCall]:
        """Remove our default rule; Object Lock itself cannot be turned off, so the
        restored state keeps it on (the rest of the before-state is restored exactly)."""
        kept_on = plan.model_copy(update={"before": {**plan.before, "LockEnabled": True}})
        return super().rollback(kept_on, force=force)

    def notes(self, before: State, after: State) -> list[str]:
        return [
            "IRREVERSIBLE: Object Lock cannot be turned off and versioning can no longer be "
            "suspended; rollback only removes the default rule",
            f"every new object version is locked {self.params.days} days in {MODE} mode "
            "(bypass needs s3:BypassGovernanceRetention); versions written meanwhile keep "
            "their retention after a rollback",
            "replication then needs an AWS Support token; lifecycle rules cannot expire "
            "locked versions",
        ]
