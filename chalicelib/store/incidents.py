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
from chalicelib.store.leases import Lease, pointer_key
from chalicelib.store.table import Batch, Table, iso

_JSON_FIELDS = ("fix", "controls", "fixes")  # stored as JSON text


class Incidents(Table):
    @staticmethod
    def pointer_key(account: str, resource: str, policy: str) -> str:
        return pointer_key(account, resource, policy)

    def open_or_join(self, new: Incident, *, lease: Lease | None = None,
                     batch: Batch | None = None) -> tuple[Incident, bool]:
        """The incident for (resource, policy): the open one, one resolved < 24 h ago, or
        `new`. Returns (incident, joined). A drill incident is always new and never joined
        (it takes no pointer).

        Under the resource's `lease` (the pipeline): the pointer came with the lease, so
        only a named incident is read, and a new incident and its pointer go into `batch`
        (written with the run's first records, one transaction).

        Without a lease: safe when two runs race, one creates, one joins. Two conditional
        puts, no transaction: the pointer first (whoever writes it owns the incident), then
        the incident. A run that died between the two leaves a pointer to a missing
        incident, which the next finding treats as stale and replaces.
        """
        if new.drill:
            self._put(self._incident_item(new), condition="attribute_not_exists(pk)")
            return new, False
        if lease is not None and batch is not None:
            current = self._joinable(lease.pointer.get("incident_id"))
            if current is not None:
                return current, True
            batch.put(self._incident_item(new), condition="attribute_not_exists(pk)")
            batch.update(lease.key, "POINTER", {"incident_id": new.incident_id,
                                                "at": iso(self.clock())}, **lease.mine)
            return new, False
        pk = self.pointer_key(new.account, new.resource, new.policy)
        for _ in range(5):
            pointer = self._get(pk, "POINTER")
            if pointer is not None and pointer.get("incident_id"):
                try:
                    current = self.incident(pointer["incident_id"])
                except NotFound:
                    current = None  # its writer died before writing the incident
                if current is not None and self._can_join(current):
                    return current, True
                if current is None and self.clock() - dt.datetime.fromisoformat(
                        pointer["at"]) < dt.timedelta(seconds=30):
                    time.sleep(0.05)  # its writer is probably writing the incident right now
                    continue
            fields = {"incident_id": new.incident_id, "at": iso(self.clock())}
            try:
                if pointer is None:
                    self._put({"pk": pk, "sk": "POINTER", **fields},
                              condition="attribute_not_exists(pk)")
                else:
                    self._update(pk, "POINTER", fields, condition=(
                        "attribute_not_exists(incident_id) OR incident_id = :old"),
                        values={":old": pointer.get("incident_id", "")})
            except StateConflict:
                continue  # someone else opened one first: read it and join
            self._put(self._incident_item(new), condition="attribute_not_exists(pk)")
            return new, False
        raise StateConflict(f"could not open or join an incident for {new.resource}")

    def _can_join(self, current: Incident) -> bool:
        return current.status is Status.OPEN or (
            current.status is Status.RESOLVED and current.resolved_at is not None
            and self.clock() - current.resolved_at < JOIN_WINDOW)

    def _joinable(self, incident_id: str | None) -> Incident | None:
        """The named incident if a finding joins it now (open, or resolved < 24 h)."""
        if not incident_id:
            return None
        try:
            current = self.incident(incident_id)
        except NotFound:
            return None  # a pointer whose incident was never written: replaced
        return current if self._can_join(current) else None

    def open_incident(self, account: str, resource: str, policy: str) -> Incident | None:
        """The open incident for (resource, policy), if there is one (opens nothing)."""
        pointer = self._get(self.pointer_key(account, resource, policy), "POINTER")
        if pointer is None or not pointer.get("incident_id"):
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

    def update_incident(self, incident_id: str, *, batch: Batch | None = None,
                        **fields: Any) -> None:
        encoded = {}
        for key, value in fields.items():
            if isinstance(value, dt.datetime):
                value = iso(value)
            elif key in _JSON_FIELDS:
                value = json.dumps(value, default=str)
            elif isinstance(value, StrEnum):
                value = value.value
            encoded[key] = value
        if batch is not None:
            batch.update(f"INCIDENT#{incident_id}", "META", encoded,
                         condition="attribute_exists(pk)")
            return
        self._update(f"INCIDENT#{incident_id}", "META", encoded,
                     condition="attribute_exists(pk)")

    def append(self, incident_id: str, kind: EntryKind, actor: str,
               detail: dict[str, Any] | None = None, *,
               batch: Batch | None = None) -> TimelineEntry:
        """Add one timeline entry (never overwrites one); into `batch` when given."""
        entry = TimelineEntry(at=self.clock(), kind=kind, actor=actor, detail=detail or {})
        item = {"pk": f"INCIDENT#{incident_id}",
                "sk": f"ENTRY#{iso(entry.at)}#{secrets.token_hex(3)}",
                "at": iso(entry.at), "kind": entry.kind.value, "actor": actor,
                "detail": json.dumps(entry.detail, default=str)}
        if batch is not None:
            batch.put(item, condition="attribute_not_exists(pk)")
        else:
            self._put(item, condition="attribute_not_exists(pk)")
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
