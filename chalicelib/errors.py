"""The one error tree of autoremediate; every failure we raise is one of these.

```
AutoremediateError
├─ InvalidEvent          (CLI exit 2) input is not a well-formed EventBridge event
├─ PolicyError           (CLI exit 2) a policy file is invalid
├─ ConfigurationError    a setting (environment variable) is missing or wrong
├─ RemediationError      an AWS change could not be planned, made or checked
│  ├─ AccessDenied       AWS refused the call (IAM, SCP, key policy)
│  ├─ ResourceGone       the resource no longer exists
│  ├─ InvalidKey         the KMS key is missing, disabled or not symmetric
│  ├─ VerifyFailed       the state read back after a change is not the planned one
│  ├─ NotApplicable      the remediation cannot apply to this resource (outcome ignored)
│  └─ HandsOff           the resource is not ours to change (outcome incident_opened)
├─ Refused               (CLI exit 3) an operator request cannot be honoured
│  ├─ NotFound           unknown incident or approval id
│  └─ RollbackConflict   the resource changed since the fix (use --force)
├─ StateConflict         a DynamoDB conditional write lost a race
└─ StateStoreError       the state table refused a call or could not be reached
```
"""

from __future__ import annotations


class AutoremediateError(Exception):
    """Base of every error autoremediate raises on purpose. `code` is the AWS error code
    behind it, when AWS refused (set by `chalicelib.aws.translate`)."""

    code: str | None = None


class InvalidEvent(AutoremediateError):
    """Raised by `finding.normalize` when the input is not a well-formed EventBridge event."""


class PolicyError(AutoremediateError):
    """Raised by `policy.load_policies` with every problem found, each naming file and line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ConfigurationError(AutoremediateError):
    """Raised when a setting such as REMEDIATION_KMS_KEY is needed but missing or malformed."""


class RemediationError(AutoremediateError):
    """Raised when a remediation cannot plan, apply or verify; the outcome is `failed`."""


class AccessDenied(RemediationError):
    """Raised when AWS refuses one of our calls (IAM policy, SCP, key or bucket policy)."""


class ResourceGone(RemediationError):
    """Raised when the resource named by the finding no longer exists."""


class InvalidKey(RemediationError):
    """Raised when the KMS key for default encryption is missing, disabled or asymmetric."""


class VerifyFailed(RemediationError):
    """Raised when the state read back after `apply` differs from the planned after-state."""


class NotApplicable(RemediationError):
    """Raised by a remediation when the control cannot apply to this resource at all (an
    asymmetric KMS key cannot rotate): the outcome is `ignored` with the reason, never
    `failed`."""


class HandsOff(RemediationError):
    """Raised by a remediation when the resource must not be changed from here (an
    organization trail is managed from the management account): the incident is recorded
    with the reason (`incident_opened`) and nothing changes."""


class Refused(AutoremediateError):
    """Raised when an operator request (approve, rollback, timeline) cannot be honoured."""


class NotFound(Refused):
    """Raised for an unknown incident or approval id."""


class RollbackConflict(Refused):
    """Raised when the resource changed after our fix, so a rollback would overwrite it."""


class StateConflict(AutoremediateError):
    """Raised when a DynamoDB conditional write lost a race (someone else wrote first);
    for a transaction, `reasons` holds each item's code ("ConditionalCheckFailed", "None")."""

    def __init__(self, message: str = "", *, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []


class StateStoreError(AutoremediateError):
    """Raised by `chalicelib.store` when the state table refuses a call or cannot be reached
    (the message names the table, the DynamoDB operation and the AWS error code). The
    pipeline stops before changing anything; the Lambda raises so EventBridge retries."""

    def __init__(self, message: str, *, code: str | None = "Unknown") -> None:
        super().__init__(message)
        self.code = code
