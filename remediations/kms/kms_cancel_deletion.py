"""Cancel a KMS key's scheduled deletion and enable it again (after approval).

A key scheduled for deletion (`ScheduleKeyDeletion`) or disabled (`DisableKey`) makes
every PHI object encrypted under it unreadable — after deletion, for ever. Cancelling
leaves the key disabled, so the fix is cancel, then enable. It runs in approve mode: a
key may be retired on purpose, and a human should say so.

Example policy:

```yaml
- name: kms-key-deletion
  trigger:
    - source: cloudtrail
      kinds: [ScheduleKeyDeletion, DisableKey]
  remediation: kms_cancel_deletion
  mode: approve
  hipaa: ["164.312(a)(2)(iv)", "164.308(a)(7)(ii)(A)"]
```

Before-state is whether the key was enabled and whether (and with how many days' window)
its deletion was scheduled; rollback disables it again and re-schedules the deletion with
the same window.
"""

from __future__ import annotations

import datetime as dt
import math

from chalicelib.errors import NotApplicable
from remediations.base import ApiCall, State, register
from remediations.kms._kms_key import KeyRemediation


@register("kms_cancel_deletion")
class KmsCancelDeletion(KeyRemediation):
    """Cancel a customer-managed KMS key's scheduled deletion and enable it."""

    summary = "Cancel the key's scheduled deletion and enable it again"
    permissions = ("kms:DescribeKey", "kms:CancelKeyDeletion", "kms:EnableKey",
                   "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:ListResourceTags")

    def read(self) -> State:
        meta = self.metadata()
        if meta.get("KeyManager", "CUSTOMER") != "CUSTOMER":
            raise NotApplicable(f"KMS key {self.key} is AWS-managed: AWS controls its state")
        pending = meta.get("KeyState") == "PendingDeletion"
        window = meta.get("PendingDeletionWindowInDays")
        if pending and not window and meta.get("DeletionDate"):
            # the window is not always reported: what is left of it, in whole days (7-30)
            left = meta["DeletionDate"] - dt.datetime.now(dt.UTC)
            window = min(30, max(7, math.ceil(left.total_seconds() / 86400)))
        return {"Enabled": meta.get("KeyState") == "Enabled", "PendingDeletion": pending,
                "PendingWindowInDays": int(window) if pending and window else None}

    def desired(self, before: State) -> State:
        return {"Enabled": True, "PendingDeletion": False, "PendingWindowInDays": None}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        key = {"KeyId": self.key}
        calls = []
        if frm["PendingDeletion"] and not to["PendingDeletion"]:
            calls.append(ApiCall(service="kms", operation="CancelKeyDeletion", params=key))
        enabled_after_cancel = frm["Enabled"] and not frm["PendingDeletion"]
        if to["Enabled"] and not enabled_after_cancel:
            calls.append(ApiCall(service="kms", operation="EnableKey", params=key))
        if not to["Enabled"] and frm["Enabled"] and not to["PendingDeletion"]:
            calls.append(ApiCall(service="kms", operation="DisableKey", params=key))
        if to["PendingDeletion"] and not frm["PendingDeletion"]:
            calls.append(ApiCall(service="kms", operation="ScheduleKeyDeletion", params={
                **key, "PendingWindowInDays": to["PendingWindowInDays"] or 30}))
        return calls
