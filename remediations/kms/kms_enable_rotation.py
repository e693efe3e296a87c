"""Turn on automatic yearly rotation of a customer-managed symmetric KMS key.

Keys that cannot rotate automatically are `ignored` with the reason, never `failed`:
asymmetric and HMAC keys, keys with imported key material (origin `EXTERNAL`) or in a
custom key store, AWS-managed keys (AWS rotates those), and keys that are disabled or
pending deletion (`kms_cancel_deletion` handles the latter).

Example policy:

```yaml
- name: kms-rotation
  trigger:
    - source: cloudtrail
      kinds: [DisableKeyRotation, CreateKey]
  remediation: kms_enable_rotation
  mode: auto
  hipaa: ["164.312(a)(2)(iv)"]
```

Before-state is whether rotation was on; rollback turns it off again.
"""

from __future__ import annotations

from chalicelib.aws import translate
from chalicelib.errors import NotApplicable
from remediations.base import ApiCall, State, register
from remediations.kms._kms_key import KeyRemediation


@register("kms_enable_rotation")
class KmsEnableRotation(KeyRemediation):
    """Turn on automatic rotation of a customer-managed symmetric KMS key."""

    summary = "Enable automatic rotation of the customer-managed KMS key"
    permissions = ("kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
                   "kms:DisableKeyRotation", "kms:ListResourceTags")

    def read(self) -> State:
        meta = self.metadata()
        spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
        why = []
        if meta.get("KeyManager", "CUSTOMER") != "CUSTOMER":
            why.append("it is AWS-managed (AWS rotates it)")
        if spec != "SYMMETRIC_DEFAULT":
            why.append(f"it is a {spec} key (only symmetric encryption keys rotate)")
        if meta.get("Origin", "AWS_KMS") != "AWS_KMS":
            why.append(f"its key material comes from {meta['Origin']} (rotate it by hand)")
        if meta.get("KeyState", "Enabled") != "Enabled":
            why.append(f"it is {meta['KeyState']}")
        if why:
            raise NotApplicable(f"KMS key {self.key} cannot rotate automatically: "
                                + "; ".join(why))
        with translate(f"reading the rotation status of {self.key}"):
            status = self.kms.get_key_rotation_status(KeyId=self.key)
        return {"KeyRotationEnabled": bool(status["KeyRotationEnabled"])}

    def desired(self, before: State) -> State:
        return {"KeyRotationEnabled": True}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        op = "EnableKeyRotation" if to["KeyRotationEnabled"] else "DisableKeyRotation"
        return [ApiCall(service="kms", operation=op, params={"KeyId": self.key})]
