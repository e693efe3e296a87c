"""Incidents, their open pointers and their append-only timelines.

| item           | pk                                 | sk                 |
|----------------|------------------------------------|--------------------|
| incident       | INCIDENT#<incident id>             | META               |
| timeline entry | INCIDENT#<incident id>             | ENTRY#<at>#<nonce> |
| chain head     | INCIDENT#<incident id>             | HEAD               |
| open pointer   | OPEN#<account>#<resource>#<policy> | POINTER            |

The timeline is a hash chain (docs/architecture.md, "Tamper-evident evidence"): each entry
stores `seq`, `prev` (its predecessor's `hash`) and `hash`; the HEAD item holds the last
`head_hash` and `entry_count`. An append writes its entry and moves HEAD in the same write
(one transaction), on the condition that HEAD still is what the entry's `prev` says, so two
racing appends cannot fork the chain: one loses and is re-chained on the new head. The head
is known without a read: from the batch the entry goes into, or from this store's last
sight of the incident (`incident()` reads META and HEAD in one query; creating an
incident starts an empty chain).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from enum import StrEnum
from typing import Any

from chalicelib.errors import NotFound, StateConflict
from chalicelib.record import (
    JOIN_WINDOW,
    EntryKind,
    Incident,
    Status,
    TimelineEntry,
    chain_hash,
)
from chalicelib.store.leases import Lease, pointer_key
from chalicelib.store.table import Batch, Table, iso

_JSON_FIELDS = ("fix", "controls", "fixes")  # stored as JSON text
_APPEND_TRIES = 5
Head = tuple[str, int]  # (head_hash, entry_count); ("", 0) for an empty chain


class ChainedBatch(Batch):
    """A `Batch` that knows the chain heads its pending appends moved, and tells its
    store the heads it wrote once they are written."""

    def __init__(self, table: Incidents) -> None:
        super().__init__(table)
        self.incidents = table

    def head(self, incident_id: str) -> Head | None:
        pending = self._sets.get((f"INCIDENT#{incident_id}", "HEAD"))
        if pending is None:
            return None
        return str(pending["head_hash"]), int(pending["entry_count"])

    def flush(self, *, guard: dict[str, Any] | None = None) -> bool:
        moved = {pk.removeprefix("INCIDENT#"): (str(f["head_hash"]), int(f["entry_count"]))
                 for (pk, sk), f in self._sets.items() if sk == "HEAD"}
        try:
            written = super().flush(guard=guard)
        except BaseException:
            for incident_id in moved:  # not written: read the head again next time
                self.incidents.chain_heads.pop(incident_id, None)
            raise
        if written:
            self.incidents.chain_heads.update(moved)
        return written


class Incidents(Table):
    @property
    def chain_heads(self) -> dict[str, Head]:
        """The last head seen per incident (a hint: a stale one costs a lost condition and a
        re-read, never a fork)."""
        return self.__dict__.setdefault("_chain_heads", {})  # type: ignore[no-any-return]

    def batch(self) -> ChainedBatch:
        return ChainedBatch(self)

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
        self.chain_heads[new.incident_id] = ("", 0)  # a new incident's chain is empty
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
        """The incident; its chain head comes in the same query (HEAD sorts before META)."""
        from boto3.dynamodb.types import TypeDeserializer

        page = self.call("Query", ConsistentRead=True,
                         KeyConditionExpression="pk = :pk AND sk BETWEEN :h AND :m",
                         ExpressionAttributeValues={":pk": {"S": f"INCIDENT#{incident_id}"},
                                                    ":h": {"S": "HEAD"}, ":m": {"S": "META"}})
        de = TypeDeserializer()
        items = {i["sk"]["S"]: {k: de.deserialize(v) for k, v in i.items()}
                 for i in page["Items"]}
        if "META" not in items:
            raise NotFound(f"no incident {incident_id!r}")
        head = items.get("HEAD")
        self.chain_heads[incident_id] = ((str(head["head_hash"]), int(head["entry_count"]))
                                         if head else ("", 0))
        return self._incident_from(items["META"])

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
        """Add one timeline entry, chained to the incident's head (never overwrites one);
        into `batch` when given, else one write (the entry and its HEAD, one transaction),
        re-chained on a fresh head if another append got there first."""
        for _ in range(_APPEND_TRIES):
            target = batch if batch is not None else self.batch()
            entry = self._chain_into(target, incident_id, kind, actor, detail or {})
            if batch is not None:
                return entry
            try:
                target.flush()
                return entry
            except StateConflict:
                self.chain_heads.pop(incident_id, None)  # someone else appended: re-read
        raise StateConflict(f"could not append to incident {incident_id}'s timeline")

    def _head(self, incident_id: str, batch: Batch) -> Head:
        pending = batch.head(incident_id) if isinstance(batch, ChainedBatch) else None
        if pending is not None:
            return pending
        if incident_id not in self.chain_heads:  # not seen by this process: one read
            item = self._get(f"INCIDENT#{incident_id}", "HEAD")
            self.chain_heads[incident_id] = ((str(item["head_hash"]),
                                              int(item["entry_count"])) if item else ("", 0))
        return self.chain_heads[incident_id]

    def _chain_into(self, batch: Batch, incident_id: str, kind: EntryKind, actor: str,
                    detail: dict[str, Any]) -> TimelineEntry:
        prev, count = self._head(incident_id, batch)
        at = self.clock()
        stored = json.dumps(detail, default=str)
        detail = json.loads(stored)  # hashed exactly as it is read back
        seq = count + 1
        digest = chain_hash(incident_id, seq, iso(at), kind.value, actor, detail, prev)
        pk = f"INCIDENT#{incident_id}"
        batch.put({"pk": pk, "sk": f"ENTRY#{iso(at)}#{secrets.token_hex(3)}", "at": iso(at),
                   "kind": kind.value, "actor": actor, "detail": stored, "seq": seq,
                   "prev": prev, "hash": digest}, condition="attribute_not_exists(pk)")
        if count:
            old: dict[str, Any] = {"condition": "head_hash = :head_old",
                                   "values": {":head_old": prev}}
        else:
            old = {"condition": "attribute_not_exists(pk)"}
        batch.update(pk, "HEAD", {"kind": "head", "incident_id": incident_id,
                                  "head_hash": digest, "entry_count": seq,
                                  "changed_at": iso(at)}, **old)
        return TimelineEntry(at=at, kind=kind, actor=actor, detail=detail, seq=seq,
                             prev=prev, hash=digest)

    def entries(self, incident_id: str) -> list[TimelineEntry]:
        """The timeline in chain order (entries from before the chain first, by time)."""
        out = [TimelineEntry(at=i["at"], kind=i["kind"], actor=i["actor"],
                             detail=json.loads(i["detail"]), seq=int(i.get("seq", 0)),
                             prev=i.get("prev", ""), hash=i.get("hash", ""))
               for i in self.chain_items(incident_id)]
        return sorted(out, key=lambda e: e.seq)  # stable: sk (time) order within a seq

    def chain_items(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's entry items as stored, in sort-key order."""
        from boto3.dynamodb.types import TypeDeserializer

        de = TypeDeserializer()
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :e)",
            "ExpressionAttributeValues": {":pk": {"S": f"INCIDENT#{incident_id}"},
                                          ":e": {"S": "ENTRY#"}},
        }
        while True:
            page = self.call("Query", **kwargs)
            out.extend({k: de.deserialize(v) for k, v in item.items()}
                       for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def chains(self) -> dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
        """Every incident's (HEAD item or None, entry items in sort-key order), from one
        scan of the incident items: what `--verify-records` walks."""
        from boto3.dynamodb.types import TypeDeserializer

        de = TypeDeserializer()
        out: dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]] = {}
        kwargs: dict[str, Any] = {
            "ConsistentRead": True,
            "FilterExpression": "begins_with(pk, :i) AND (sk = :h OR begins_with(sk, :e))",
            "ExpressionAttributeValues": {":i": {"S": "INCIDENT#"}, ":h": {"S": "HEAD"},
                                          ":e": {"S": "ENTRY#"}}}
        heads: dict[str, dict[str, Any]] = {}
        entries: dict[str, list[dict[str, Any]]] = {}
        while True:
            page = self.call("Scan", **kwargs)
            for raw in page["Items"]:
                item = {k: de.deserialize(v) for k, v in raw.items()}
                incident_id = str(item["pk"]).removeprefix("INCIDENT#")
                if item["sk"] == "HEAD":
                    heads[incident_id] = item
                else:
                    entries.setdefault(incident_id, []).append(item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for incident_id in sorted(set(heads) | set(entries)):
            out[incident_id] = (heads.get(incident_id),
                                sorted(entries.get(incident_id, []), key=lambda i: i["sk"]))
        return out

    def heads_since(self, since: str) -> dict[str, str]:
        """{incident id: head hash} of every chain that moved at or after `since` (ISO)."""
        return {str(i["incident_id"]): str(i["head_hash"]) for i in self._scan(kind="head")
                if str(i["changed_at"]) >= since}

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
