"""Event claims: each EventBridge event id is processed once (`EVENT#<id>` / `EVENT`); and
finding deliveries: one underlying finding arriving both natively and via Security Hub
(two event ids) acts once (`FINDING#<key>` / `FINDING`, one attribute per channel)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from chalicelib.errors import StateConflict
from chalicelib.store.table import TTL_ATTRIBUTE, Table, iso, purge_at

EVENT_LEASE = dt.timedelta(minutes=15)  # Lambda's longest timeout: a crashed run frees it
EVENT_RETENTION = dt.timedelta(days=30)
# The native copy of a finding and its Security Hub copy arrive minutes apart; GuardDuty
# publishes a finding's updates 15 minutes apart at the earliest, so a delivery on the
# other channel within 10 minutes is the same news, and a later one is an update.
FINDING_WINDOW = dt.timedelta(minutes=10)
CHANNELS = ("native", "securityhub")


class EventClaims(Table):
    def claim_event(self, event_id: str) -> bool:
        """Claim an event id for processing; False when it was (or is being) handled."""
        at = self.clock()
        try:
            self._put({"pk": f"EVENT#{event_id}", "sk": "EVENT", "state": "in_progress",
                       "claimed_at": iso(at), "lease_until": iso(at + EVENT_LEASE),
                       TTL_ATTRIBUTE: purge_at(at + EVENT_RETENTION)},
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

    def event_results(self, event_id: str) -> list[dict[str, Any]] | None:
        """The results a finished event recorded; None while it is in progress or unknown."""
        item = self._get(f"EVENT#{event_id}", "EVENT")
        if item is None or "results" not in item:
            return None
        return list(json.loads(item["results"]))

    def claim_finding(self, key: str, channel: str, event_id: str) -> dict[str, Any] | None:
        """Record that `channel` ("native" or "securityhub") delivered finding `key` as
        `event_id`. Returns the other channel's delivery ({"channel", "event_id", "at"}) when
        it came within FINDING_WINDOW: then this copy is a duplicate. One atomic update, so
        of two copies racing exactly one sees the other."""
        from boto3.dynamodb.types import TypeDeserializer

        at = self.clock()
        got = self.call(
            "UpdateItem", Key={"pk": {"S": f"FINDING#{key}"}, "sk": {"S": "FINDING"}},
            UpdateExpression="SET #c = :d, #x = :x",
            ExpressionAttributeNames={"#c": channel, "#x": TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":d": {"M": {"event_id": {"S": event_id}, "at": {"S": iso(at)}}},
                ":x": {"N": str(purge_at(at + EVENT_RETENTION))}},
            ReturnValues="ALL_OLD")
        old = {k: TypeDeserializer().deserialize(v) for k, v in got.get("Attributes", {}).items()}
        for other in CHANNELS:
            seen = old.get(other)
            if other == channel or not isinstance(seen, dict):
                continue
            if at - dt.datetime.fromisoformat(str(seen["at"])) < FINDING_WINDOW:
                return {"channel": other, "event_id": str(seen["event_id"]),
                        "at": str(seen["at"])}
        return None

    def release_finding(self, key: str, channel: str, event_id: str) -> None:
        """Forget this delivery (its run failed; EventBridge retries it), unless a later
        delivery on the same channel replaced it."""
        with contextlib.suppress(StateConflict):
            self.call("UpdateItem", Key={"pk": {"S": f"FINDING#{key}"}, "sk": {"S": "FINDING"}},
                      UpdateExpression="REMOVE #c",
                      ConditionExpression="#c.event_id = :e",
                      ExpressionAttributeNames={"#c": channel},
                      ExpressionAttributeValues={":e": {"S": event_id}})
