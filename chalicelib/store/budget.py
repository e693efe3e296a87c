"""The blast-radius budget: automatic changes per account and hour (`RATE#<account>#<hour>`)."""

from __future__ import annotations

import datetime as dt

from chalicelib.errors import StateConflict
from chalicelib.store.table import TTL_ATTRIBUTE, Batch, Table, purge_at


class AutoBudget(Table):
    def take_auto_change(self, account: str, limit: int, *,
                         batch: Batch | None = None) -> bool:
        """Count one automatic change against `account`'s hourly budget; False (and no
        count) when `limit` changes were already made this hour. 0 means no limit.

        With `batch`, the count is written together with the batch's records (one
        transaction; the pipeline's "planned"): both or, over the limit, neither."""
        at = self.clock()
        guard = None if limit <= 0 else {
            "Key": {"pk": {"S": f"RATE#{account}#{at:%Y-%m-%dT%H}"}, "sk": {"S": "RATE"}},
            "UpdateExpression": "ADD changes :one SET #ttl = :ttl",
            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
            "ConditionExpression": "attribute_not_exists(changes) OR changes < :limit",
            "ExpressionAttributeValues": {
                ":one": {"N": "1"}, ":limit": {"N": str(limit)},
                ":ttl": {"N": str(purge_at(at + dt.timedelta(days=2)))}}}
        if batch is not None:
            return batch.flush(guard=guard)
        if guard is None:
            return True
        try:
            self.call("UpdateItem", **guard)
        except StateConflict:
            return False
        return True
