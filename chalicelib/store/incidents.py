"""Incidents, their open pointers and their append-only timelines.

| item           | pk                                 | sk                 |
|----------------|------------------------------------|--------------------|
| incident       | INCIDENT#<incident id>             | META               |
| timeline entry | INCIDENT#<incident id>             | ENTRY#<at>#<nonce> |
| open pointer   | OPEN#<account>#<resource>#<policy> | POINTER            |
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from enum import StrEnum
from typing import Any

from chalicelib.errors import NotFound, StateConflict
from chalicelib.record import JOIN_WINDOW, EntryKind, Incident, Status, TimelineEntry
from chalicelib.store.leases import pointer_key
from chalicelib.store.table import Table, iso

_JSON_FIELDS = ("fix", "controls", "fixes")  # stored as JSON text


class Incidents(Table):
    @staticmethod
    def pointer_key(account: str, resource: str, policy: str) -> str:
        return pointer_key(account, resource, policy)

    def open_or_join(self, new: Incident) -> tuple[Incident, bool]:
        """The incident for (resource, policy): the open one, one resolved < 24 h ago, or
        `new`. Returns (incident, joined). Safe when two runs race: one creates, one joins.
        A drill incident is always new and never joined (it takes no pointer).

        Two conditional puts, no transaction: the pointer first (whoever writes it owns the
        incident), then the incident. A run that died between the two leaves a pointer to
        a missing incident, which the next finding treats as stale and replaces.
        """
        if new.drill:
            self._put(self._incident_item(new), condition="attribute_not_exists(pk)")
            return new, False
        pk = self.pointer_key(new.account, new.resource, new.policy)
        for _ in range(5):
            pointer = self._get(pk, "POINTER")
            if pointer is not None:
                try:
                    current = self.incident(pointer["incident_id"])
                except NotFound:
                    current = None  # its writer died before writing the incident
                if current is not None and (current.status is Status.OPEN or (
                        current.status is Status.RESOLVED and current.resolved_at is not None
                        and self.clock() - current.resolved_at < JOIN_WINDOW)):
                    return current, True
                if current is None and self.clock() - dt.datetime.fromisoformat(
                        pointer["at"]) < dt.timedelta(seconds=30):
                    time.sleep(0.05)  # its writer is probably writing the incident right now
                    continue
            item = {"pk": pk, "sk": "POINTER", "incident_id": new.incident_id,
                    "at": iso(self.clock())}
            try:
                if pointer is None:
                    self._put(item, condition="attribute_not_exists(pk)")
                else:
                    self._put(item, condition="incident_id = :old",
                              values={":old": pointer["incident_id"]})
            except StateConflict:
                continue  # someone else opened one first: read it and join
            self._put(self._incident_item(new), condition="attribute_not_exists(pk)")
            return new, False
        raise StateConflict(f"could not open or join an incident for {new.resource}")

    def open_incident(self, account: str, resource: str, policy: str) -> Incident | None:
        """The open incident for (resource, policy), if there is one (opens nothing)."""
        pointer = self._get(self.pointer_key(account, resource, policy), "POINTER")
        if pointer is None:
            return None
        try:
            current = self.incident(pointer["incident_id"])
        except NotFound:
            return None
        return current if current.status is Status.OPEN else None

    @staticmethod
    def _incident_item(inc: Incident) -> dict[str, Any]:
        data = inc.model_dump(mode="json")
        item = {"pk": f"INCIDENT#{inc.incident_id}", "sk": "META", "kind": "incident"}
        for key, value in data.items():
            if value is None:
                continue
            item[key] = json.dumps(value) if key in _JSON_FIELDS else value
        return item

    def incident(self, incident_id: str) -> Incident:
        item = self._get(f"INCIDENT#{incident_id}", "META")
        if item is None:
            raise NotFound(f"no incident {incident_id!r}")
        return self._incident_from(item)

    def update_incident(self, incident_id: str, **fields: Any) -> None:
        encoded = {}
        for key, value in fields.items():
            if isinstance(value, dt.datetime):
                value = iso(value)
            elif key in _JSON_FIELDS:
                value = json.dumps(value, default=str)
            elif isinstance(value, StrEnum):
                value = value.value
            encoded[key] = value
        self._update(f"INCIDENT#{incident_id}", "META", encoded,
                     condition="attribute_exists(pk)")

    def append(self, incident_id: str, kind: EntryKind, actor: str,
               detail: dict[str, Any] | None = None) -> TimelineEntry:
        """Add one timeline entry (never overwrites one)."""
        entry = TimelineEntry(at=self.clock(), kind=kind, actor=actor, detail=detail or {})
        self._put({"pk": f"INCIDENT#{incident_id}",
                   "sk": f"ENTRY#{iso(entry.at)}#{secrets.token_hex(3)}",
                   "at": iso(entry.at), "kind": entry.kind.value, "actor": actor,
                   "detail": json.dumps(entry.detail, default=str)},
                  condition="attribute_not_exists(pk)")
        return entry

    def entries(self, incident_id: str) -> list[TimelineEntry]:
        out: list[TimelineEntry] = []
        kwargs: dict[str, Any] = {
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :e)",
            "ExpressionAttributeValues": {":pk": {"S": f"INCIDENT#{incident_id}"},
                                          ":e": {"S": "ENTRY#"}},
        }
        while True:
            page = self.call("Query", **kwargs)
            for item in page["Items"]:
                out.append(TimelineEntry(at=item["at"]["S"], kind=item["kind"]["S"],
                                         actor=item["actor"]["S"],
                                         detail=json.loads(item["detail"]["S"])))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _incident_from(item: dict[str, Any]) -> Incident:
        for key in _JSON_FIELDS:
            if key in item:
                item[key] = json.loads(item[key])
        return Incident.model_validate(item)

    def incidents(self) -> list[Incident]:
        """Every incident, newest first."""
        found = [self._incident_from(i) for i in self._scan(kind="incident")]
        return sorted(found, key=lambda i: i.created_at, reverse=True)
