"""Encrypt a Lambda function's environment variables with the customer-managed key
(after approval).

Environment variables often hold PHI-adjacent secrets (database URLs, API keys). Lambda
encrypts them with an AWS-managed key unless the function names `KMSKeyArn`. This
remediation sets `REMEDIATION_KMS_KEY` (or the policy's `kms_key`) on a function that has
environment variables and no key of its own. It reads the function itself: CloudTrail
may redact the variables. It runs in approve mode, and the plan says why: the function's
execution role must be allowed `kms:Decrypt` on the key, or the function fails to start.

Example policy:

```yaml
- name: lambda-env-kms
  trigger:
    - source: cloudtrail
      kinds: [CreateFunction20150331, UpdateFunctionConfiguration20150331v2]
  remediation: lambda_env_encryption
  mode: approve
  hipaa: ["164.312(a)(2)(iv)"]
```

Before-state is the function's `KMSKeyArn` (None for the AWS-managed key); rollback puts
it back, or removes ours ("").
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws import translate
from remediations._kms import KeyParams, customer_key
from remediations.base import ApiCall, Remediation, State, register


@register("lambda_env_encryption")
class LambdaEnvEncryption(Remediation[KeyParams]):
    """Encrypt a function's environment variables with the customer-managed KMS key."""

    summary = "Encrypt the function's environment variables with the customer-managed key"
    resource_types = ("AWS::Lambda::Function",)
    permissions = ("lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration",
                   "lambda:ListTags", "kms:DescribeKey")
    Params = KeyParams

    _config: dict[str, Any] | None = None

    @property
    def function(self) -> str:
        return self.target.resource.arn or self.target.resource.id

    def configuration(self) -> dict[str, Any]:
        with translate(f"reading the configuration of {self.function}"):
            self._config = dict(self.target.clients("lambda").get_function_configuration(
                FunctionName=self.function))
        return self._config

    def read(self) -> State:
        config = self.configuration()
        return {"HasVariables": bool((config.get("Environment") or {}).get("Variables")),
                "KMSKeyArn": config.get("KMSKeyArn") or None}

    def desired(self, before: State) -> State:
        if not before["HasVariables"] or before["KMSKeyArn"]:
            return before  # nothing to encrypt, or the owner chose a key
        key = customer_key(self.target, self.params.kms_key, "the function's variables")
        return {**before, "KMSKeyArn": key}

    def transition(self, frm: State, to: State) -> list[ApiCall]:
        return [ApiCall(service="lambda", operation="UpdateFunctionConfiguration", params={
            "FunctionName": self.function, "KMSKeyArn": to["KMSKeyArn"] or ""})]

    def notes(self, before: State, after: State) -> list[str]:
        role = (self._config or {}).get("Role", "the function's execution role")
        return [f"{role} must be allowed kms:Decrypt on {after['KMSKeyArn']} (key policy "
                "or IAM), or the function fails to start after this change"]

    def tags(self) -> dict[str, str]:
        arn = self.function if self.function.startswith("arn:") else str(
            self.configuration()["FunctionArn"])
        with translate(f"reading tags of {arn}"):
            return dict(self.target.clients("lambda").list_tags(Resource=arn).get("Tags", {}))
