"""Incident-response drill runs (`DRILL#<drill id>` / `DRILL`): when, which scenarios,
with which outcomes; the evidence report lists the last 12 months."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store.table import Table


class Drills(Table):
    def put_drill(self, report: dict[str, Any]) -> None:
        self._put({"pk": f"DRILL#{report['drill_id']}", "sk": "DRILL", "kind": "drill",
                   "drill_id": report["drill_id"], "at": report["at"],
                   "ok": bool(report["ok"]),
                   "scenarios": json.dumps(report["scenarios"], default=str)},
                  condition="attribute_not_exists(pk)")

    def drills(self) -> list[dict[str, Any]]:
        """Every recorded drill run, newest first."""
        found = self._scan(kind="drill")
        for item in found:
            item["scenarios"] = json.loads(item["scenarios"])
        return sorted(found, key=lambda d: str(d["at"]), reverse=True)
