"""The blast-radius budget: automatic changes per account and hour (`RATE#<account>#<hour>`)."""

from __future__ import annotations

import datetime as dt

from chalicelib.errors import StateConflict
from chalicelib.store.table import Table


class AutoBudget(Table):
    def take_auto_change(self, account: str, limit: int) -> bool:
        """Count one automatic change against `account`'s hourly budget; False (and no
        count) when `limit` changes were already made this hour. 0 means no limit."""
        if limit <= 0:
            return True
        at = self.clock()
        try:
            self.call(
                "UpdateItem",
                Key={"pk": {"S": f"RATE#{account}#{at:%Y-%m-%dT%H}"}, "sk": {"S": "RATE"}},
                UpdateExpression="ADD changes :one SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(changes) OR changes < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"}, ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(int((at + dt.timedelta(days=2)).timestamp()))}})
        except StateConflict:
            return False
        return True
