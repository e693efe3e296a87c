"""The state table itself: creation, and the one place every DynamoDB call goes through.

`Table.call` turns a lost conditional write into `StateConflict` and every other failure
(refused, throttled past retries, unreachable) into `StateStoreError`, whose message names
the table, the DynamoDB operation and the AWS error code, e.g.::

    state table autoremediate: PutItem failed: AccessDeniedException: User ... is not authorized

Raises:
    StateConflict, StateStoreError.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from chalicelib.errors import StateConflict, StateStoreError
from chalicelib.record import now

_CONFLICTS = ("ConditionalCheckFailedException", "TransactionCanceledException")


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


class Table:
    """A DynamoDB `client` bound to one `table`; `clock` returns aware datetimes."""

    def __init__(self, client: Any, table: str, *,
                 clock: Callable[[], dt.datetime] = now) -> None:
        self.db = client
        self.table = table
        self.clock = clock

    def call(self, operation: str, **kwargs: Any) -> Any:
        """One DynamoDB call on our table (`operation` as AWS names it, e.g. PutItem)."""
        from botocore import xform_name
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.db, xform_name(operation))(TableName=self.table, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            message = exc.response.get("Error", {}).get("Message", "")
            if code in _CONFLICTS:
                raise StateConflict(f"state table {self.table}: {operation}: {code}") from exc
            hint = (" (the table does not exist: `remediate bootstrap` creates it)"
                    if code == "ResourceNotFoundException" and operation != "DescribeTable"
                    else "")
            raise StateStoreError(f"state table {self.table}: {operation} failed: {code}: "
                                  f"{message}".rstrip(": ") + hint, code=code) from exc
        except BotoCoreError as exc:  # unreachable endpoint, missing credentials, …
            raise StateStoreError(f"state table {self.table}: {operation} failed: "
                                  f"{type(exc).__name__}: {exc}",
                                  code=type(exc).__name__) from exc

    def ensure_table(self) -> bool:
        """Create the table if it is missing; True when it was created. Idempotent."""
        try:
            self.call("DescribeTable")
            return False
        except StateStoreError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
        try:
            self.call("CreateTable", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                            {"AttributeName": "sk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                 {"AttributeName": "sk", "KeyType": "RANGE"}],
                      SSESpecification={"Enabled": True})
        except StateStoreError as exc:
            if exc.code != "ResourceInUseException":
                raise
            return False  # someone else created it meanwhile
        from botocore.exceptions import WaiterError

        try:
            self.db.get_waiter("table_exists").wait(TableName=self.table,
                                                    WaiterConfig={"Delay": 1})
        except WaiterError as exc:
            raise StateStoreError(f"state table {self.table}: CreateTable did not finish: "
                                  f"{exc}", code="WaiterError") from exc
        # TTL is housekeeping only: a table without it still works
        with contextlib.suppress(StateStoreError):
            self.call("UpdateTimeToLive", TimeToLiveSpecification={
                "Enabled": True, "AttributeName": "expires_at"})
        return True

    # -- item helpers -----------------------------------------------------------------------
    def _put(self, item: dict[str, Any], *, condition: str | None = None,
             values: dict[str, Any] | None = None,
             names: dict[str, str] | None = None) -> None:
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        kwargs: dict[str, Any] = {"Item": {k: ser.serialize(v) for k, v in item.items()}}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = {k: ser.serialize(v) for k, v in values.items()}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        self.call("PutItem", **kwargs)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        got = self.call("GetItem", Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        if "Item" not in got:
            return None
        de = TypeDeserializer()
        return {k: de.deserialize(v) for k, v in got["Item"].items()}

    def _delete(self, pk: str, sk: str, *, condition: str | None = None,
                values: dict[str, Any] | None = None,
                names: dict[str, str] | None = None) -> None:
        from boto3.dynamodb.types import TypeSerializer

        kwargs: dict[str, Any] = {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}
        if condition:
            ser = TypeSerializer()
            kwargs["ConditionExpression"] = condition
            kwargs["ExpressionAttributeValues"] = {k: ser.serialize(v)
                                                   for k, v in (values or {}).items()}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        self.call("DeleteItem", **kwargs)

    def _update(self, pk: str, sk: str, fields: dict[str, Any], *,
                condition: str | None = None, values: dict[str, Any] | None = None) -> None:
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        vals = {f":f{i}": ser.serialize(v) for i, v in enumerate(fields.values())}
        vals.update({k: ser.serialize(v) for k, v in (values or {}).items()})
        kwargs: dict[str, Any] = {
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        self.call("UpdateItem", **kwargs)

    def _scan(self, *, kind: str, **equal: str) -> list[dict[str, Any]]:
        """Every item of `kind` whose attributes equal `equal`, deserialized (a scan: for
        the operator's listings, never the event path)."""
        from boto3.dynamodb.types import TypeDeserializer

        conditions = {"kind": kind, **equal}
        names = {f"#a{i}": k for i, k in enumerate(conditions)}
        kwargs: dict[str, Any] = {
            "ConsistentRead": True,
            "FilterExpression": " AND ".join(f"#a{i} = :a{i}" for i in range(len(names))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":a{i}": {"S": v}
                                          for i, v in enumerate(conditions.values())}}
        de = TypeDeserializer()
        out: list[dict[str, Any]] = []
        while True:
            page = self.call("Scan", **kwargs)
            out.extend({k: de.deserialize(v) for k, v in item.items()}
                       for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
