"""Small moto extensions for calls moto does not implement, so remediations that use them
are tested end to end against the same emulator as the rest (in-process and server).

- CloudWatch Logs `AssociateKmsKey` / `DisassociateKmsKey`: set / clear the group's key,
  which `DescribeLogGroups` then reports as `kmsKeyId` (what real CloudWatch Logs does;
  it also checks that the key policy allows the logs service principal, which moto
  cannot).
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

    if not hasattr(LogsResponse, "associate_kms_key"):
        LogsResponse.associate_kms_key = associate_kms_key  # type: ignore[attr-defined]
        LogsResponse.disassociate_kms_key = disassociate_kms_key  # type: ignore[attr-defined]
