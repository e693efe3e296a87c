"""Small moto extensions for calls moto does not implement, so remediations that use them
are tested end to end against the same emulator as the rest (in-process and server).

- CloudWatch Logs `AssociateKmsKey` / `DisassociateKmsKey`: set / clear the group's key,
  which `DescribeLogGroups` then reports as `kmsKeyId` (what real CloudWatch Logs does;
  it also checks that the key policy allows the logs service principal, which moto
  cannot).
- Lambda `UpdateFunctionConfiguration` with `KMSKeyArn`: moto ignores it; real Lambda sets
  the key that encrypts the environment variables ("" removes it).
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    def _group(self: Any) -> Any:
        name = self._get_param("logGroupName")
        if name not in self.logs_backend.groups:
            raise ResourceNotFoundException()
        return self.logs_backend.groups[name]

    def associate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = self._get_param("kmsKeyId")
        return ""

    def disassociate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = None
        return ""

    from moto.awslambda.models import LambdaFunction

    if not getattr(LambdaFunction.update_configuration, "_takes_kms_key", False):
        original = LambdaFunction.update_configuration

        def update_configuration(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
            if "KMSKeyArn" in updates:
                self.kms_key_arn = updates["KMSKeyArn"] or None
            return dict(original(self, updates))

        update_configuration._takes_kms_key = True  # type: ignore[attr-defined]
        LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]

    if not hasattr(LogsResponse, "associate_kms_key"):
        LogsResponse.associate_kms_key = associate_kms_key  # type: ignore[attr-defined]
        LogsResponse.disassociate_kms_key = disassociate_kms_key  # type: ignore[attr-defined]
