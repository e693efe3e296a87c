"""Small moto extensions for calls moto does not implement, so remediations that use them
are tested end to end against the same emulator as the rest (in-process and server).

- CloudWatch Logs `AssociateKmsKey` / `DisassociateKmsKey`: set / clear the group's key,
  which `DescribeLogGroups` then reports as `kmsKeyId` (what real CloudWatch Logs does;
  it also checks that the key policy allows the logs service principal, which moto
  cannot).
- Lambda `UpdateFunctionConfiguration` with `KMSKeyArn`: moto ignores it; real Lambda sets
  the key that encrypts the environment variables ("" removes it).
- EC2 `CreateFlowLogs` to an S3 destination with a prefix (`arn:aws:s3:::bucket/prefix/`):
  moto looks for a bucket named `bucket/prefix/` and fails; real EC2 checks the bucket and
  keeps the prefix.
- CloudTrail `PutEventSelectors`: a trail has basic *or* advanced event selectors, and
  real CloudTrail replaces the one kind with the other; moto keeps the advanced ones when
  basic ones are put (a rollback from advanced to basic selectors would read both).
- Security Hub `BatchUpdateFindings` (`chalicelib.emulator.add_securityhub_batch_update`,
  shipped because the demo's emulator needs it too): workflow status and note of stored
  findings, `FindingNotFound` for unknown ones. Real Security Hub also emits a "Security
  Hub Findings - Imported" event for the update, which moto does not: the tests feed that
  echo to the pipeline themselves.
- DynamoDB `TransactWriteItems` rollback: moto deep-copies every table a transaction
  touches before running it (to restore it on a cancelled transaction), so each
  transaction costs time in proportion to the whole table: 80% of a warm event's time in
  the benchmark, and it grows with every incident a test writes. The patch keeps moto's
  behaviour (all or nothing, same errors) but saves and restores only the items the
  transaction names. Saving, running and restoring happen under `LOCK`, the one lock
  `serialize_dynamodb` takes for every item write, so no other write can land between a
  save and its restore (it would be undone).
- KMS `Sign` / `Verify` with `MessageType` `DIGEST`: moto ignores it and hashes the
  digest again; real KMS signs the given SHA-256 as it is (what `openssl dgst -sha256
  -verify` over the message checks). The patch signs and verifies prehashed digests.
- `serialize_dynamodb()`: real DynamoDB evaluates a write's condition and applies it
  atomically; moto does not (it reads, evaluates and writes with no lock), so two
  threads can both pass one condition. Tests and benchmarks that race threads need
  DynamoDB's guarantee, not moto's gap: moto's item writes take `LOCK` (in-process
  `mock_aws` and the in-process moto server). Reads (and UpdateItem's returned values)
  take it too: moto serialises the live item after its backend returned, which fails
  ("dictionary changed size during iteration") when a transaction writes it meanwhile.
"""


from __future__ import annotations

import threading
from typing import Any

LOCK = threading.RLock()


def install() -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    def _group(self: Any) -> Any:
        name = self._get_param("logGroupName")
        if name not in self.logs_backend.groups:
            raise ResourceNotFoundException()
        return self.logs_backend.groups[name]

    def associate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = self._get_param("kmsKeyId")
        return ""

    def disassociate_kms_key(self: Any) -> str:
        _group(self).kms_key_id = None
        return ""

    from moto.awslambda.models import LambdaFunction
    from moto.ec2.models.flow_logs import FlowLogsBackend

    if not getattr(FlowLogsBackend.create_flow_logs, "_takes_prefix", False):
        create = FlowLogsBackend.create_flow_logs

        def create_flow_logs(self: Any, **kwargs: Any) -> Any:
            destination = kwargs.get("log_destination")
            if (kwargs.get("log_destination_type") == "s3" and destination
                    and "/" in destination.split(":", 5)[5]):
                kwargs["log_destination"] = destination.split("/", 1)[0]  # the bucket
            made, failed = create(self, **kwargs)
            for flow_log in made:
                flow_log.log_destination = destination
            return made, failed

        create_flow_logs._takes_prefix = True  # type: ignore[attr-defined]
        FlowLogsBackend.create_flow_logs = create_flow_logs  # type: ignore[method-assign]

    if not getattr(LambdaFunction.update_configuration, "_takes_kms_key", False):
        original = LambdaFunction.update_configuration

        def update_configuration(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
            if "KMSKeyArn" in updates:
                self.kms_key_arn = updates["KMSKeyArn"] or None
            return dict(original(self, updates))

        update_configuration._takes_kms_key = True  # type: ignore[attr-defined]
        LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]

    _install_cloudtrail_selectors()
    _install_securityhub()
    _install_kms_digest()
    _install_item_level_transaction_rollback()

    if not hasattr(LogsResponse, "associate_kms_key"):
        LogsResponse.associate_kms_key = associate_kms_key  # type: ignore[attr-defined]
        LogsResponse.disassociate_kms_key = disassociate_kms_key  # type: ignore[attr-defined]


def _install_cloudtrail_selectors() -> None:
    from moto.cloudtrail.models import Trail

    if getattr(Trail.put_event_selectors, "_one_kind", False):
        return

    def put_event_selectors(self: Any, event_selectors: list[dict[str, Any]],
                            advanced_event_selectors: list[dict[str, Any]]) -> None:
        if event_selectors:
            self.event_selectors, self.advanced_event_selectors = event_selectors, []
        elif advanced_event_selectors:
            self.event_selectors = []
            self.advanced_event_selectors = advanced_event_selectors

    put_event_selectors._one_kind = True  # type: ignore[attr-defined]
    Trail.put_event_selectors = put_event_selectors  # type: ignore[method-assign]


def _install_kms_digest() -> None:
    import base64
    import json

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
    from moto.kms.responses import KmsResponse

    if getattr(KmsResponse.sign, "_digest", False):
        return
    sign, verify = KmsResponse.sign, KmsResponse.verify

    def _scheme(algorithm: str) -> tuple[Any, ...]:
        prehashed = utils.Prehashed(hashes.SHA256())
        if algorithm.startswith("ECDSA"):
            return (ec.ECDSA(prehashed),)
        if algorithm.startswith("RSASSA_PSS"):
            return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), prehashed
        return padding.PKCS1v15(), prehashed

    def _blob(value: Any) -> bytes:  # moto hands blobs over decoded, or as base64 text
        return value if isinstance(value, bytes) else base64.b64decode(value)

    def _key(self: Any) -> Any:
        return self.kms_backend.describe_key(self._get_param("KeyId"))

    def digest_sign(self: Any) -> str:
        if self._get_param("MessageType") != "DIGEST":
            return str(sign(self))
        key, algorithm = _key(self), self._get_param("SigningAlgorithm")
        message = _blob(self._get_param("Message"))
        signature = key.private_key.private_key.sign(message, *_scheme(algorithm))
        return json.dumps({"KeyId": key.arn, "SigningAlgorithm": algorithm,
                           "Signature": base64.b64encode(signature).decode()})

    def digest_verify(self: Any) -> str:
        if self._get_param("MessageType") != "DIGEST":
            return str(verify(self))
        key, algorithm = _key(self), self._get_param("SigningAlgorithm")
        public = key.private_key.private_key.public_key()
        try:
            public.verify(_blob(self._get_param("Signature")),
                          _blob(self._get_param("Message")), *_scheme(algorithm))
            valid = True
        except InvalidSignature:
            valid = False
        return json.dumps({"KeyId": key.arn, "SignatureValid": valid,
                           "SigningAlgorithm": algorithm})

    digest_sign._digest = True  # type: ignore[attr-defined]
    KmsResponse.sign = digest_sign  # type: ignore[method-assign]
    KmsResponse.verify = digest_verify  # type: ignore[method-assign]


def _install_securityhub() -> None:
    from chalicelib.emulator import add_securityhub_batch_update

    add_securityhub_batch_update()  # shipped: the demo's emulator needs it too


def _install_item_level_transaction_rollback() -> None:
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_item_level", False):
        return
    original = backend.transact_write_items

    class _TableCopyIsTheTable:
        """`copy` for moto's models module: a Table "copy" is the table itself (its touched
        items are saved by the wrapper below), anything else is copied as before."""

        @staticmethod
        def deepcopy(obj: Any, memo: Any = None) -> Any:
            return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    models.copy = _TableCopyIsTheTable()  # type: ignore[assignment]

    def slot(table: Any, key: dict[str, Any]) -> tuple[dict[Any, Any], Any] | None:
        """(container, key) where moto keeps the item with `key`, or None if malformed."""
        try:
            hash_value = DynamoType(key[table.hash_key_attr])
            if table.range_key_attr is None:
                return table.items, hash_value
            return table.items[hash_value], DynamoType(key[table.range_key_attr])
        except (KeyError, TypeError):
            return None

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with LOCK:
            _run(self, transact_items)

    def _run(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            for op in entry.values():
                table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                if table is None:
                    continue
                where = slot(table, op.get("Key") or op.get("Item") or {})
                if where is not None:
                    container, key = where
                    saved.append((container, key, key in container,
                                  copy.deepcopy(container.get(key))))
        try:
            original(self, transact_items)
        except Exception:
            for container, key, existed, item in reversed(saved):
                if existed:
                    container[key] = item
                else:
                    container.pop(key, None)
            raise

    transact_write_items._item_level = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB item writes and reads atomic under `LOCK` (see the module
    docstring). Idempotent."""
    import functools

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for cls, names in ((DynamoDBBackend, ("put_item", "update_item", "delete_item",
                                          "transact_write_items")),
                       # a read serialises the live item after the backend returned it
                       (DynamoHandler, ("get_item", "query", "scan", "update_item"))):
        for name in names:
            original = getattr(cls, name)
            if getattr(original, "_serialized", False):
                continue

            @functools.wraps(original)
            def atomic(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                with LOCK:
                    return _original(self, *args, **kwargs)

            atomic._serialized = True  # type: ignore[attr-defined]
            setattr(cls, name, atomic)
