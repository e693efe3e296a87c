"""Incidents and their timeline in DynamoDB, event claims (dedupe) and pending approvals.

One table, `pk`/`sk` strings:

| item            | pk                                  | sk                  |
|-----------------|-------------------------------------|---------------------|
| event claim     | EVENT#<event id>                    | EVENT               |
| incident        | INCIDENT#<incident id>              | META                |
| timeline entry  | INCIDENT#<incident id>              | ENTRY#<at>#<nonce>  |
| open pointer    | OPEN#<account>#<resource>#<policy>  | POINTER             |
| approval        | APPROVAL#<approval id>              | META                |

Every write that could race is conditional: an event is claimed once (with a lease, so a
crashed run can be retried), an incident pointer is created or replaced once, a timeline
entry is only ever added, an approval is decided once.

Raises:
    StateConflict (a lost race the caller must handle), NotFound, RemediationError.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.aws import translate
from chalicelib.errors import NotFound, StateConflict

JOIN_WINDOW = dt.timedelta(hours=24)
BREACH_NOTICE = dt.timedelta(days=60)  # HIPAA Breach Notification Rule, 45 CFR 164.404(b)
EVENT_LEASE = dt.timedelta(minutes=15)  # Lambda's longest timeout: a crashed run frees it
EVENT_RETENTION = dt.timedelta(days=30)


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ROLLED_BACK = "rolled_back"


class EntryKind(StrEnum):
    DETECTED = "detected"
    PLANNED = "planned"
    DRY_RUN = "dry_run"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    DENIED = "denied"
    APPLIED = "applied"
    VERIFIED = "verified"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CLOSED = "closed"


class TimelineEntry(BaseModel):
    at: dt.datetime
    kind: EntryKind
    actor: str = Field(description="who: autoremediate, a user id, or the event's principal")
    detail: dict[str, Any] = Field(default_factory=dict)


class Incident(BaseModel):
    incident_id: str
    status: Status
    resource: str = Field(description="ARN (or type/id) of the resource")
    resource_type: str
    resource_id: str
    account: str
    region: str
    policy: str
    remediation: str
    controls: list[str]
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None
    source: str = Field(default="", description="guardduty, config or cloudtrail")
    breach_assessment_started: dt.datetime | None = Field(default=None, description=(
        "when a possible breach was discovered (GuardDuty findings): the 60-day clock"))
    breach_notification_deadline: dt.datetime | None = Field(default=None, description=(
        "latest date to notify affected individuals if the assessment finds a breach"))
    fix: dict[str, Any] | None = Field(default=None, description=(
        "the last applied plan (before/after/calls): what rollback restores"))

    @property
    def time_to_remediate(self) -> dt.timedelta | None:
        return self.resolved_at - self.created_at if self.resolved_at else None


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def new_id(prefix: str) -> str:
    return f"{prefix}-{now():%Y%m%d}-{secrets.token_hex(4)}"


class Store:
    """The state table. `client` is a DynamoDB client; `clock` returns aware datetimes."""

    def __init__(self, client: Any, table: str, *,
                 clock: Callable[[], dt.datetime] = now) -> None:
        self.db = client
        self.table = table
        self.clock = clock

    # -- table ----------------------------------------------------------------------------
    def ensure_table(self) -> bool:
        """Create the table if it is missing; True when it was created. Idempotent."""
        from botocore.exceptions import ClientError

        try:
            self.db.describe_table(TableName=self.table)
            return False
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                with translate(f"describing table {self.table}"):
                    raise
        with translate(f"creating table {self.table}"):
            try:
                self.db.create_table(
                    TableName=self.table, BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                               {"AttributeName": "sk", "KeyType": "RANGE"}],
                    SSESpecification={"Enabled": True},
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceInUseException":
                    raise
                return False  # someone else created it meanwhile
            self.db.get_waiter("table_exists").wait(TableName=self.table,
                                                    WaiterConfig={"Delay": 1})
            # TTL is housekeeping only: a table without it still works
            with contextlib.suppress(ClientError):
                self.db.update_time_to_live(TableName=self.table, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": "expires_at"})
        return True

    # -- low level ------------------------------------------------------------------------
    def _put(self, item: dict[str, Any], *, condition: str | None = None,
             values: dict[str, Any] | None = None,
             names: dict[str, str] | None = None) -> None:
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        kwargs: dict[str, Any] = {"TableName": self.table,
                                  "Item": {k: ser.serialize(v) for k, v in item.items()}}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = {k: ser.serialize(v) for k, v in values.items()}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        with translate(f"writing {item['pk']}"):
            self.db.put_item(**kwargs)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        with translate(f"reading {pk}"):
            got = self.db.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                   ConsistentRead=True)
        if "Item" not in got:
            return None
        de = TypeDeserializer()
        return {k: de.deserialize(v) for k, v in got["Item"].items()}

    def _update(self, pk: str, sk: str, fields: dict[str, Any], *,
                condition: str | None = None, values: dict[str, Any] | None = None) -> None:
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        vals = {f":f{i}": ser.serialize(v) for i, v in enumerate(fields.values())}
        vals.update({k: ser.serialize(v) for k, v in (values or {}).items()})
        kwargs: dict[str, Any] = {
            "TableName": self.table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        with translate(f"updating {pk}"):
            self.db.update_item(**kwargs)

    # -- event claims ---------------------------------------------------------------------
    def claim_event(self, event_id: str) -> bool:
        """Claim an event id for processing; False when it was (or is being) handled."""
        at = self.clock()
        try:
            self._put({"pk": f"EVENT#{event_id}", "sk": "EVENT", "state": "in_progress",
                       "claimed_at": _iso(at), "lease_until": _iso(at + EVENT_LEASE),
                       "expires_at": int((at + EVENT_RETENTION).timestamp())},
                      condition="attribute_not_exists(pk) OR "
                                "(#s = :busy AND lease_until < :now)",
                      values={":busy": "in_progress", ":now": _iso(at)},
                      names={"#s": "state"})
        except StateConflict:
            return False
        return True

    def finish_event(self, event_id: str, results: list[dict[str, Any]]) -> None:
        self._update(f"EVENT#{event_id}", "EVENT", {
            "state": "done", "finished_at": _iso(self.clock()),
            "results": json.dumps(results, default=str)})

    def release_event(self, event_id: str) -> None:
        """Give up a claim (the run crashed before doing anything) so a retry can take it."""
        with translate(f"releasing event {event_id}"):
            self.db.delete_item(TableName=self.table,
                                Key={"pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": "EVENT"}})

    # -- blast radius ---------------------------------------------------------------------
    def take_auto_change(self, account: str, limit: int) -> bool:
        """Count one automatic change against `account`'s hourly budget; False (and no
        count) when `limit` changes were already made this hour. 0 means no limit."""
        if limit <= 0:
            return True
        at = self.clock()
        try:
            with translate(f"counting automatic changes in {account}"):
                self.db.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": f"RATE#{account}#{at:%Y-%m-%dT%H}"}, "sk": {"S": "RATE"}},
                    UpdateExpression="ADD changes :one SET expires_at = :ttl",
                    ConditionExpression="attribute_not_exists(changes) OR changes < :limit",
                    ExpressionAttributeValues={
                        ":one": {"N": "1"}, ":limit": {"N": str(limit)},
                        ":ttl": {"N": str(int((at + dt.timedelta(days=2)).timestamp()))}})
        except StateConflict:
            return False
        return True

    # -- incidents ------------------------------------------------------------------------
    @staticmethod
    def pointer_key(account: str, resource: str, policy: str) -> str:
        return f"OPEN#{account}#{resource}#{policy}"

    def open_or_join(self, new: Incident) -> tuple[Incident, bool]:
        """The incident for (resource, policy): the open one, one resolved < 24 h ago, or
        `new`. Returns (incident, joined). Safe when two runs race: one creates, one joins.

        Two conditional puts, no transaction: the pointer first (whoever writes it owns the
        incident), then the incident. A run that died between the two leaves a pointer to
        a missing incident, which the next finding treats as stale and replaces.
        """
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
                    "at": _iso(self.clock())}
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

    @staticmethod
    def _incident_item(inc: Incident) -> dict[str, Any]:
        data = inc.model_dump(mode="json")
        item = {"pk": f"INCIDENT#{inc.incident_id}", "sk": "META", "kind": "incident"}
        for key, value in data.items():
            if value is None:
                continue
            item[key] = json.dumps(value) if key in ("fix", "controls") else value
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
                value = _iso(value)
            elif key in ("fix", "controls"):
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
                   "sk": f"ENTRY#{_iso(entry.at)}#{secrets.token_hex(3)}",
                   "at": _iso(entry.at), "kind": entry.kind.value, "actor": actor,
                   "detail": json.dumps(entry.detail, default=str)},
                  condition="attribute_not_exists(pk)")
        return entry

    def entries(self, incident_id: str) -> list[TimelineEntry]:
        out: list[TimelineEntry] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :e)",
            "ExpressionAttributeValues": {":pk": {"S": f"INCIDENT#{incident_id}"},
                                          ":e": {"S": "ENTRY#"}},
        }
        while True:
            with translate(f"reading the timeline of {incident_id}"):
                page = self.db.query(**kwargs)
            for item in page["Items"]:
                out.append(TimelineEntry(at=item["at"]["S"], kind=item["kind"]["S"],
                                         actor=item["actor"]["S"],
                                         detail=json.loads(item["detail"]["S"])))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan(self, what: str, *, kind: str, **equal: str) -> list[dict[str, Any]]:
        """Every item of `kind` whose attributes equal `equal`, deserialized (a scan: for
        the operator's listings, never the event path)."""
        from boto3.dynamodb.types import TypeDeserializer

        conditions = {"kind": kind, **equal}
        names = {f"#a{i}": k for i, k in enumerate(conditions)}
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "FilterExpression": " AND ".join(f"#a{i} = :a{i}" for i in range(len(names))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":a{i}": {"S": v}
                                          for i, v in enumerate(conditions.values())}}
        de = TypeDeserializer()
        out: list[dict[str, Any]] = []
        while True:
            with translate(f"listing {what}"):
                page = self.db.scan(**kwargs)
            out.extend({k: de.deserialize(v) for k, v in item.items()}
                       for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _incident_from(item: dict[str, Any]) -> Incident:
        for key in ("fix", "controls"):
            if key in item:
                item[key] = json.loads(item[key])
        return Incident.model_validate(item)

    def incidents(self) -> list[Incident]:
        """Every incident, newest first."""
        found = [self._incident_from(i) for i in self._scan("incidents", kind="incident")]
        return sorted(found, key=lambda i: i.created_at, reverse=True)

    # -- approvals ------------------------------------------------------------------------
    def put_approval(self, approval_id: str, item: dict[str, Any]) -> None:
        self._put({"pk": f"APPROVAL#{approval_id}", "sk": "META", "kind": "approval",
                   "approval_id": approval_id,
                   **{k: json.dumps(v, default=str) if isinstance(v, dict | list) else v
                      for k, v in item.items()}},
                  condition="attribute_not_exists(pk)")

    def approval(self, approval_id: str) -> dict[str, Any]:
        item = self._get(f"APPROVAL#{approval_id}", "META")
        if item is None:
            raise NotFound(f"no approval {approval_id!r}")
        return self._approval_from(item)

    def pending_approvals(self) -> list[dict[str, Any]]:
        """Approvals still waiting for a decision."""
        return [self._approval_from(i)
                for i in self._scan("pending approvals", kind="approval", state="pending")]

    @staticmethod
    def _approval_from(item: dict[str, Any]) -> dict[str, Any]:
        if isinstance(item.get("approved_by"), set):
            item["approved_by"] = sorted(item["approved_by"])
        for key in ("plan", "finding", "approvers"):
            if isinstance(item.get(key), str):
                item[key] = json.loads(item[key])
        return item

    def set_approval_fields(self, approval_id: str, **fields: Any) -> None:
        self._update(f"APPROVAL#{approval_id}", "META", fields,
                     condition="attribute_exists(pk)")

    def add_approver(self, approval_id: str, user: str) -> int:
        """Add `user` to a pending approval's approvers-so-far; returns how many there are.
        StateConflict if `user` already approved or it is no longer pending."""
        with translate(f"recording an approval of {approval_id}"):
            got = self.db.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"APPROVAL#{approval_id}"}, "sk": {"S": "META"}},
                UpdateExpression="ADD approved_by :u",
                ConditionExpression="#s = :p AND NOT contains(approved_by, :user)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":u": {"SS": [user]}, ":user": {"S": user},
                                           ":p": {"S": "pending"}},
                ReturnValues="ALL_NEW")
        return len(got["Attributes"]["approved_by"]["SS"])

    def decide_approval(self, approval_id: str, state: str, user: str, *,
                        expected: str = "pending") -> None:
        """Move an approval from `expected` to `state` exactly once (StateConflict if not)."""
        with translate(f"deciding approval {approval_id}"):
            self.db.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"APPROVAL#{approval_id}"}, "sk": {"S": "META"}},
                UpdateExpression="SET #s = :new, decided_by = :u, decided_at = :t",
                ConditionExpression="#s = :expected",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":new": {"S": state}, ":u": {"S": user},
                                           ":t": {"S": _iso(self.clock())},
                                           ":expected": {"S": expected}})
