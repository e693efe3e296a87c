"""Evidence reports generated here (`REPORT#<sha256>` / `REPORT`): the SHA-256 of exactly
the bytes written, so `remediate evidence --verify FILE` can tell an unchanged copy."""

from __future__ import annotations

from typing import Any

from chalicelib.store.table import Table, iso


class Reports(Table):
    def put_report(self, sha256: str, *, since: str, fmt: str) -> None:
        self._put({"pk": f"REPORT#{sha256}", "sk": "REPORT", "kind": "report",
                   "sha256": sha256, "since": since, "format": fmt,
                   "generated_at": iso(self.clock())})

    def report(self, sha256: str) -> dict[str, Any] | None:
        return self._get(f"REPORT#{sha256}", "REPORT")
