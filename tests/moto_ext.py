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


# moto's S3 request names (moto.s3.responses.ACTION_MAP, by query key) corrected to the IAM
# action AWS authorises the request with
S3_BUCKET_ACTIONS = {
    "HEAD": {"DEFAULT": "ListBucket"},
    "GET": {"publicAccessBlock": "GetBucketPublicAccessBlock",
            "encryption": "GetEncryptionConfiguration",
            "ownershipControls": "GetBucketOwnershipControls"},
    "PUT": {"publicAccessBlock": "PutBucketPublicAccessBlock",
            "encryption": "PutEncryptionConfiguration",
            "ownershipControls": "PutBucketOwnershipControls"},
    "DELETE": {"publicAccessBlock": "PutBucketPublicAccessBlock",
               "encryption": "PutEncryptionConfiguration",
               "ownershipControls": "PutBucketOwnershipControls"},
}
# actions moto asks for -> what AWS asks for; "s3": moto's S3 handler, "core": every other
AS_AWS_AUTHORISES = {
    "s3": {"s3:ListBuckets": "s3:ListAllMyBuckets"},
    "core": {"s3:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",  # S3 Control
             "s3:PutPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
             "s3:DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock"},
}


def enforce_iam_as_aws() -> None:
    """Two corrections to moto's IAM enforcement (`enable_iam_authentication`), so a test
    running as a principal sees what AWS would answer it. Idempotent.

    - DynamoDB `TransactWriteItems` is not an IAM action: AWS authorises each item of the
      transaction by its own action (`Put` -> dynamodb:PutItem, `Update` -> UpdateItem,
      `Delete` -> DeleteItem, `ConditionCheck` -> ConditionCheckItem), which is what our
      policy grants. moto asks for "dynamodb:TransactWriteItems"; here it asks for those.
    - moto names some S3 requests by a name no IAM policy grants, or by the wrong one: a
      bucket's public access block and default encryption (moto looks for the query key
      `public_access_block`, absent from every request, so they become s3:ListBucket /
      s3:CreateBucket), HeadBucket and ListBuckets, and S3 Control's account-level block
      (signed as service s3, named s3:GetPublicAccessBlock). Here they are named as the
      Service Authorization Reference does (`S3_BUCKET_ACTIONS`, `AS_AWS_AUTHORISES`).
    - SQS GetQueueUrl names its queue by `QueueName`, not `QueueUrl`: moto authorises it
      against "*" (which no queue-scoped statement grants); AWS against the queue's ARN.
    - AccessDenied is written in moto's query-protocol XML for every service; botocore
      cannot read it from a JSON-protocol service (the error code becomes "403") nor from
      S3 Control (""). AWS answers `AccessDeniedException` (JSON) and `AccessDenied`
      (S3 Control's XML): here too, so our error mapping is exercised as in AWS.
    """
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.core.responses import BaseResponse, get_service_model
    from moto.iam.access_control import IAMRequestBase

    if getattr(IAMRequestBase.check_action_permitted, "_as_aws", False):
        return
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.responses import ACTION_MAP

    for method, actions in S3_BUCKET_ACTIONS.items():
        ACTION_MAP["BUCKET"][method].update(actions)
    check = IAMRequestBase.check_action_permitted
    item_actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}

    def check_action_permitted(self: Any, resource: str) -> None:
        table = AS_AWS_AUTHORISES["s3" if isinstance(self, S3IAMRequest) else "core"]
        self._action = table.get(self._action, self._action)
        if self._action != "dynamodb:TransactWriteItems":
            return check(self, resource)
        import json

        ops = {op for item in json.loads(self._body or b"{}").get("TransactItems", [])
               for op in item}
        for op in sorted(ops):
            self._action = f"dynamodb:{item_actions.get(op, op)}"
            check(self, resource)
        self._action = "dynamodb:TransactWriteItems"
        return None

    check_action_permitted._as_aws = True  # type: ignore[attr-defined]
    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]

    class _JsonAccessDenied(JsonRESTError):
        code = 403

    class _RestXmlAccessDenied(AccessDeniedError):
        def __init__(self, message: str) -> None:
            super().__init__("", "")
            self.description = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                                f"AccessDenied</Code><Message>{message}</Message></Error>")

    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.responses import SQSResponse

    resource_of = SQSResponse._determine_resource

    def queue_resource(self: Any) -> str:
        name = self._get_param("QueueName")
        if self._get_action() == "GetQueueUrl" and name:
            try:
                return str(self.sqs_backend.get_queue(name).queue_arn)
            except QueueDoesNotExist:  # "*", as moto had it
                return "*"
        return str(resource_of(self))

    SQSResponse._determine_resource = queue_resource  # type: ignore[method-assign]

    authorize = BaseResponse._authenticate_and_authorize_normal_action

    def authorize_normal_action(self: Any, resource: str = "*") -> None:
        try:
            authorize(self, resource)
        except AccessDeniedError as exc:
            protocol = get_service_model(self.boto3_service_name).protocol
            if protocol in ("json", "rest-json"):
                raise _JsonAccessDenied("AccessDeniedException", exc.message) from exc
            if protocol == "rest-xml":
                raise _RestXmlAccessDenied(exc.message) from exc
            raise

    BaseResponse._authenticate_and_authorize_normal_action = (  # type: ignore[method-assign]
        authorize_normal_action)


def _after_cloudformation_create(cls: Any, apply: Any) -> None:
    """Run `apply(made, properties, account, region)` after moto creates a `cls` from a
    template (once per class)."""
    create = cls.create_from_cloudformation_json.__func__
    if getattr(create, "_completed", False):
        return

    def completed(klass: Any, resource_name: str, cloudformation_json: Any,
                  account_id: str, region_name: str, **kwargs: Any) -> Any:
        made = create(klass, resource_name, cloudformation_json, account_id, region_name,
                      **kwargs)
        apply(made, cloudformation_json.get("Properties", {}), account_id, region_name)
        return made

    completed._completed = True  # type: ignore[attr-defined]
    cls.create_from_cloudformation_json = classmethod(completed)


def cloudformation_as_aws() -> None:
    """Corrections to moto's CloudFormation so our central template deploys as it does in
    AWS (tests/test_own_stack.py). Idempotent.

    - `{"Ref": <AWS::Events::EventBus>}` is the bus's name in CloudFormation; moto's
      EventBus has no `physical_resource_id`, so the Ref gives the object itself and
      every rule on our bus fails to create.
    - An `AWS::KMS::Key`'s `KeyPolicy` is a JSON object in a template; moto keeps it as
      the object, and every later KMS call on the key fails reading it as a string. moto
      makes every template key symmetric: an asymmetric `KeySpec`/`KeyUsage` (our
      signing key) is created as the template says.
    - Properties moto's models drop: a log group's `KmsKeyId` (moto reads the API's
      `kmsKeyId`), a function's `KmsKeyArn`, a table's `PointInTimeRecoverySpecification`
      and its `SSESpecification` (CloudFormation's `SSEEnabled` is the API's `Enabled`;
      DynamoDB reports the key's ARN however the template named it), and every bucket
      property but encryption and tags (versioning, Object Lock, logging, public access
      block, ownership controls, lifecycle). Each is applied to what moto created, as
      CloudFormation does. moto has no model for `AWS::S3::BucketPolicy`, so a bucket's
      logging is recorded as S3 would after checking the log bucket's policy grant
      (that policy is in the template; tests/test_own_stack.py reads it there).
    """
    import json

    from moto.events.models import EventBus
    from moto.kms.models import Key

    create = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    if not getattr(create, "_policy_as_text", False):
        def create_key(cls: Any, resource_name: str, cloudformation_json: Any,
                       account_id: str, region_name: str, **kwargs: Any) -> Any:
            properties = cloudformation_json.get("Properties", {})
            if isinstance(properties.get("KeyPolicy"), dict):
                properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
            if properties.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                from moto.kms.models import kms_backends

                return kms_backends[account_id][region_name].create_key(
                    policy=properties["KeyPolicy"], key_usage=properties["KeyUsage"],
                    key_spec=properties["KeySpec"], description=properties.get(
                        "Description"), tags=properties.get("Tags", []))
            return create(cls, resource_name, cloudformation_json, account_id,
                          region_name, **kwargs)

        create_key._policy_as_text = True  # type: ignore[attr-defined]
        Key.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
            create_key)

    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table
    from moto.logs.models import LogGroup

    def log_group(made: Any, props: dict[str, Any], account: str, region: str) -> None:
        made.kms_key_id = props.get("KmsKeyId")

    def function(made: Any, props: dict[str, Any], account: str, region: str) -> None:
        made.kms_key_arn = props.get("KmsKeyArn")

    def table(made: Any, props: dict[str, Any], account: str, region: str) -> None:
        from moto.kms.models import kms_backends

        sse = props.get("SSESpecification") or {}
        if sse.get("SSEEnabled"):
            key = sse.get("KMSMasterKeyId")
            made.sse_specification = {
                "Enabled": True, "SSEType": sse.get("SSEType", "KMS"),
                "KMSMasterKeyId": kms_backends[account][region].describe_key(key).arn
                if key else None}
        spec = props.get("PointInTimeRecoverySpecification")
        if spec:
            dynamodb_backends[account][region].update_continuous_backups(made.name, spec)

    from moto.s3.models import FakeBucket, s3_backends

    def bucket(made: Any, props: dict[str, Any], account: str, region: str) -> None:
        backend = s3_backends[account]["aws"]
        if "VersioningConfiguration" in props:
            backend.put_bucket_versioning(made.name, props["VersioningConfiguration"]["Status"])
        lock = props.get("ObjectLockConfiguration")
        if props.get("ObjectLockEnabled") or lock:
            retention = (lock or {}).get("Rule", {}).get("DefaultRetention", {})
            backend.put_object_lock_configuration(
                # 0, not None, for the unit not given: moto adds both to the clock
                made.name, True, mode=retention.get("Mode"), days=retention.get("Days", 0),
                years=retention.get("Years", 0))
        logging = props.get("LoggingConfiguration")
        if logging:
            made.logging = {"TargetBucket": logging["DestinationBucketName"],
                            "TargetPrefix": logging.get("LogFilePrefix", "")}
        if "PublicAccessBlockConfiguration" in props:
            backend.put_public_access_block(made.name, props["PublicAccessBlockConfiguration"])
        for rule in props.get("OwnershipControls", {}).get("Rules", []):
            backend.put_bucket_ownership_controls(made.name, {
                "Rules": [{"ObjectOwnership": rule["ObjectOwnership"]}]})
        rules = props.get("LifecycleConfiguration", {}).get("Rules")
        if rules:
            backend.put_bucket_lifecycle(made.name, [{
                "ID": r.get("Id"), "Status": r["Status"], "Filter": {"Prefix": ""},
                **({"Expiration": {"Days": r["ExpirationInDays"]}}
                   if "ExpirationInDays" in r else {}),
                **({"NoncurrentVersionExpiration": {"NoncurrentDays": r[
                    "NoncurrentVersionExpiration"]["NoncurrentDays"]}}
                   if "NoncurrentVersionExpiration" in r else {})} for r in rules])

    for cls, apply in ((LogGroup, log_group), (LambdaFunction, function), (Table, table),
                       (FakeBucket, bucket)):
        _after_cloudformation_create(cls, apply)

    if not hasattr(EventBus, "physical_resource_id"):
        EventBus.physical_resource_id = property(  # type: ignore[attr-defined]
            lambda self: self.name)
