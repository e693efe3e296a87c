"""Event claims: each EventBridge event id is processed once (`EVENT#<id>` / `EVENT`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from chalicelib.errors import StateConflict
from chalicelib.store.table import Table, iso

EVENT_LEASE = dt.timedelta(minutes=15)  # Lambda's longest timeout: a crashed run frees it
EVENT_RETENTION = dt.timedelta(days=30)


class EventClaims(Table):
    def claim_event(self, event_id: str) -> bool:
        """Claim an event id for processing; False when it was (or is being) handled."""
        at = self.clock()
        try:
            self._put({"pk": f"EVENT#{event_id}", "sk": "EVENT", "state": "in_progress",
                       "claimed_at": iso(at), "lease_until": iso(at + EVENT_LEASE),
                       "expires_at": int((at + EVENT_RETENTION).timestamp())},
                      condition="attribute_not_exists(pk) OR "
                                "(#s = :busy AND lease_until < :now)",
                      values={":busy": "in_progress", ":now": iso(at)},
                      names={"#s": "state"})
        except StateConflict:
            return False
        return True

    def finish_event(self, event_id: str, results: list[dict[str, Any]]) -> None:
        self._update(f"EVENT#{event_id}", "EVENT", {
            "state": "done", "finished_at": iso(self.clock()),
            "results": json.dumps(results, default=str)})

    def release_event(self, event_id: str) -> None:
        """Give up a claim (the run crashed before doing anything) so a retry can take it."""
        self._delete(f"EVENT#{event_id}", "EVENT")
