"""The state table itself: creation, and the one place every DynamoDB call goes through.

`Table.call` turns a lost conditional write into `StateConflict` and every other failure
(refused, throttled past retries, unreachable) into `StateStoreError`, whose message names
the table, the DynamoDB operation and the AWS error code, e.g.::

    state table autoremediate: PutItem failed: AccessDeniedException: User ... is not authorized

Raises:
    StateConflict, StateStoreError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from chalicelib.errors import StateConflict, StateStoreError
from chalicelib.record import now

# a conditional write or transaction that lost a race; any other refusal: StateStoreError
CONFLICTS = {"ConditionalCheckFailedException": StateConflict,
             "TransactionCanceledException": StateConflict}

# The table's shape, shared by `Table.ensure_table` (local and dev) and the central stack's
# `StateTable` (chalicelib.stack), so both make the same table.
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"},
              {"AttributeName": "sk", "AttributeType": "S"}]
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"},
              {"AttributeName": "sk", "KeyType": "RANGE"}]
# DynamoDB deletes an item once this attribute (epoch seconds) is past. Only housekeeping
# items set it (event claims, finding deliveries, blast-radius counters: `HOUSEKEEPING`);
# incidents, timeline entries, approvals, drills and reports are the audit evidence, kept
# six years, and never carry it (tests/store/test_retention.py reads them back). A name of
# its own, so no item's own field (an approval's `expires_at`) can be mistaken for it.
TTL_ATTRIBUTE = "purge_at"
HOUSEKEEPING = ("EVENT", "FINDING", "RATE")  # the sort keys of the items that expire


def purge_at(at: dt.datetime) -> int:
    """The TTL attribute's value for an item to be deleted after `at`."""
    return int(at.timestamp())


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


class Table:
    """A DynamoDB `client` bound to one `table`; `clock` returns aware datetimes."""

    def __init__(self, client: Any, table: str, *,
                 clock: Callable[[], dt.datetime] = now) -> None:
        self.db = client
        self.table = table
        self.clock = clock

    def batch(self) -> Batch:
        """Writes to gather and make together (see `Batch`)."""
        return Batch(self)

    def call(self, operation: str, **kwargs: Any) -> Any:
        """One DynamoDB call on our table (`operation` as AWS names it, e.g. PutItem).

        Raises:
            StateConflict: a condition failed (someone else wrote first).
            StateStoreError: any other refusal, or the table could not be reached.
        """
        from botocore import xform_name

        from chalicelib.aws import translate

        if operation != "TransactWriteItems":  # a transaction names the table per item
            kwargs = {"TableName": self.table, **kwargs}
        hint = {} if operation == "DescribeTable" else {"ResourceNotFoundException": (
            " (the table does not exist: the central stack's StateTable, or "
            "`remediate bootstrap` for local and dev use)")}
        with translate(f"state table {self.table}: {operation} failed",
                       fallback=StateStoreError, known=CONFLICTS, hints=hint):
            return getattr(self.db, xform_name(operation))(**kwargs)

    def ensure_table(self, *, kms_key: str | None = None) -> bool:
        """Create the table if it is missing, with the settings the central stack gives
        its `StateTable` (`TABLE_SETTINGS`): SSE with KMS (`kms_key`, else the AWS-managed
        `aws/dynamodb` key: the stack uses its own), point-in-time recovery, deletion
        protection, TTL on `TTL_ATTRIBUTE`. True when it was created. Idempotent: an
        existing table is left as it is."""
        try:
            self.call("DescribeTable")
            return False
        except StateStoreError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
        sse: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
        if kms_key:
            sse["KMSMasterKeyId"] = kms_key
        try:
            self.call("CreateTable", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=ATTRIBUTES, KeySchema=KEY_SCHEMA,
                      SSESpecification=sse, DeletionProtectionEnabled=True)
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
        self.call("UpdateContinuousBackups", PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True})
        self.call("UpdateTimeToLive", TimeToLiveSpecification={
            "Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        return True

    # -- item helpers -----------------------------------------------------------------------
    @staticmethod
    def put_args(item: dict[str, Any], *, condition: str | None = None,
                 values: dict[str, Any] | None = None,
                 names: dict[str, str] | None = None) -> dict[str, Any]:
        """PutItem's arguments (also a transaction's `Put`)."""
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        kwargs: dict[str, Any] = {"Item": {k: ser.serialize(v) for k, v in item.items()}}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = {k: ser.serialize(v) for k, v in values.items()}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return kwargs

    def _put(self, item: dict[str, Any], *, condition: str | None = None,
             values: dict[str, Any] | None = None,
             names: dict[str, str] | None = None) -> None:
        self.call("PutItem", **self.put_args(item, condition=condition, values=values,
                                             names=names))

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

    @staticmethod
    def update_args(pk: str, sk: str, fields: dict[str, Any], *,
                    condition: str | None = None, values: dict[str, Any] | None = None,
                    remove: tuple[str, ...] = ()) -> dict[str, Any]:
        """UpdateItem's arguments (also a transaction's `Update`): SET `fields`, REMOVE
        `remove`."""
        from boto3.dynamodb.types import TypeSerializer

        ser = TypeSerializer()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        names.update({f"#r{i}": k for i, k in enumerate(remove)})
        vals = {f":f{i}": ser.serialize(v) for i, v in enumerate(fields.values())}
        vals.update({k: ser.serialize(v) for k, v in (values or {}).items()})
        expression = ("SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
                      if fields else "")
        if remove:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        kwargs: dict[str, Any] = {
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": expression.strip(), "ExpressionAttributeNames": names}
        if vals:
            kwargs["ExpressionAttributeValues"] = vals
        if condition:
            kwargs["ConditionExpression"] = condition
        return kwargs

    def _update(self, pk: str, sk: str, fields: dict[str, Any], *,
                condition: str | None = None, values: dict[str, Any] | None = None) -> None:
        self.call("UpdateItem", **self.update_args(pk, sk, fields, condition=condition,
                                                   values=values))

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


class Batch:
    """Writes gathered during one run and made together: one call for one item, else one
    `TransactWriteItems` (all or nothing, every condition checked). A later write to an
    item already in the batch merges into it (a transaction may touch an item once).

    The pipeline flushes before anything changes in AWS, so what is planned is recorded
    before it is applied, and once more at the end of the run.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self._puts: dict[tuple[str, str], dict[str, Any]] = {}
        self._put_conditions: dict[tuple[str, str], dict[str, Any]] = {}
        self._sets: dict[tuple[str, str], dict[str, Any]] = {}
        self._removes: dict[tuple[str, str], tuple[str, ...]] = {}
        self._conditions: dict[tuple[str, str], dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._puts) + len(set(self._sets) | set(self._removes))

    def put(self, item: dict[str, Any], **condition: Any) -> None:
        key = (item["pk"], item["sk"])
        self._puts[key] = dict(item)
        self._put_conditions[key] = condition

    def update(self, pk: str, sk: str, fields: dict[str, Any], *,
               remove: tuple[str, ...] = (), **condition: Any) -> None:
        """SET `fields` and REMOVE `remove` on an item; merged into its put when the item
        is new in this batch (the put's own condition then applies)."""
        key = (pk, sk)
        if key in self._puts:
            item = self._puts[key]
            item.update(fields)
            for name in remove:
                item.pop(name, None)
            return
        self._sets.setdefault(key, {}).update(fields)
        if remove:
            self._removes[key] = (*self._removes.get(key, ()), *remove)
        if condition:
            self._conditions.setdefault(key, condition)

    def checkpoint(self) -> tuple[dict[Any, Any], ...]:
        import copy

        return copy.deepcopy((self._puts, self._put_conditions, self._sets, self._removes,
                              self._conditions))

    def restore(self, state: tuple[dict[Any, Any], ...]) -> None:
        (self._puts, self._put_conditions, self._sets, self._removes,
         self._conditions) = state

    def flush(self, *, guard: dict[str, Any] | None = None) -> bool:
        """Make every gathered write in one call; StateConflict (with per-item `reasons`
        for a transaction) when a condition failed, and then nothing was written.

        `guard` (UpdateItem arguments) joins the write; when only its condition fails,
        nothing is written, the gathered writes stay, and the answer is False."""
        kept = self.checkpoint() if guard is not None else None
        ops: list[tuple[str, dict[str, Any]]] = [
            ("Put", self.table.put_args(item, **self._put_conditions[key]))
            for key, item in self._puts.items()]
        for key in dict.fromkeys([*self._sets, *self._removes]):
            ops.append(("Update", self.table.update_args(
                key[0], key[1], self._sets.get(key, {}), remove=self._removes.get(key, ()),
                **self._conditions.get(key, {}))))
        if guard is not None:
            ops.append(("Update", guard))
        self._puts, self._put_conditions, self._sets, self._removes, self._conditions = (
            {}, {}, {}, {}, {})
        if not ops:
            return True
        try:
            if len(ops) == 1:
                kind, args = ops[0]
                self.table.call(f"{kind}Item", **args)
            else:
                self.table.call("TransactWriteItems", TransactItems=[
                    {kind: {"TableName": self.table.table, **args}} for kind, args in ops])
        except StateConflict as exc:
            only_guard = len(ops) == 1 or (exc.reasons[-1:] == ["ConditionalCheckFailed"]
                                           and set(exc.reasons[:-1]) <= {"None"})
            if kept is None or not only_guard:
                raise
            self.restore(kept)
            return False
        return True
