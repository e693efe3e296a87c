"""What the remediations that encrypt with our key share: the `kms_key` parameter and the
resolution of `REMEDIATION_KMS_KEY` to a key ARN that can encrypt in the target's region.

There is never a silent fallback to an AWS-managed key: a missing setting is a
`ConfigurationError`, an unusable key an `InvalidKey`, each with the reason.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError, InvalidKey
from remediations.base import NoParams, Target


class KeyParams(NoParams):
    SETTINGS: ClassVar[dict[str, str]] = {"kms_key": "kms_key"}

    kms_key: str | None = Field(
        default=None, description="key id, ARN or alias; default REMEDIATION_KMS_KEY")


def customer_key(target: Target, key: str | None, what: str) -> str:
    """The ARN of `key` (the run's `kms_key`), checked: enabled, symmetric,
    customer-managed and in the target's region. `what` names the thing to encrypt, for
    messages ("the bucket")."""
    if not key:
        raise ConfigurationError(
            "REMEDIATION_KMS_KEY is not set: name the customer-managed KMS key "
            f"(id, ARN or alias) that should encrypt {what}")
    with translate(f"looking up KMS key {key} in {target.region}"):
        meta = target.clients("kms").describe_key(KeyId=key)["KeyMetadata"]
    arn = str(meta["Arn"])
    problems = []
    if meta.get("KeyState", "Enabled") != "Enabled" or not meta.get("Enabled", True):
        problems.append(f"is {meta.get('KeyState', 'disabled')}")
    usage = meta.get("KeyUsage", "ENCRYPT_DECRYPT")  # moto omits it for symmetric keys
    if usage != "ENCRYPT_DECRYPT":
        problems.append(f"has usage {usage}")
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
    if spec != "SYMMETRIC_DEFAULT":
        problems.append(f"is {spec}, not a symmetric key")
    if meta.get("KeyManager", "CUSTOMER") != "CUSTOMER":
        problems.append("is AWS-managed, not customer-managed")
    if arn.split(":")[3] != target.region:
        problems.append(f"is in {arn.split(':')[3]}, {what} is in {target.region}")
    if problems:
        raise InvalidKey(f"KMS key {key} ({arn}) cannot encrypt {what}: it "
                         + "; it ".join(problems))
    return arn


def is_customer_key(value: str | None) -> bool:
    """True for a key reference that is not empty and not an AWS-managed alias
    (`alias/aws/sqs`, `arn:…:alias/aws/sns`): those are AWS's keys, not ours."""
    return bool(value) and "alias/aws/" not in str(value)
