"""What the central (security-account) template adds to Chalice's SAM template so one
deployment serves a whole AWS Organization and loses no event (`remediate package`):

- an EventBridge bus `autoremediate` whose resource policy accepts `PutEvents` from the
  organization only (`aws:PrincipalOrgID` = the `OrganizationId` parameter); every
  pipeline function gets a rule with its pattern on that bus as well as on the default
  bus (member accounts forward there: `chalicelib.member`);
- no event lost: every rule target has a retry policy and the dead-letter queue (SQS,
  encrypted with our KMS key); each pipeline function's asynchronous invocations retry
  twice and then go to the same queue (on-failure destination). `remediate redrive`
  re-handles what lands there;
- alarms on the queue's depth and on each pipeline function's errors, to the SNS topic
  given as `AlarmTopicArn`;
- every function's log group, and the API's access log group, kept 6 years (2192 days:
  HIPAA's documentation retention) and encrypted with the same key, the rules we enforce
  on others; every function's environment variables encrypted with it too (`KmsKeyArn`);
- the state table (`StateTable`: incidents, timelines, approvals, the audit evidence),
  encrypted with the same key, point-in-time recovery and deletion protection on, kept
  when the stack goes (`Retain`); its TTL only removes housekeeping items
  (`chalicelib.store.table.TTL_ATTRIBUTE`). The functions get its name by `Ref`;
- the evidence store (`chalicelib.integrity`): an asymmetric signing key (`SigningKey`,
  ECC_NIST_P256, SIGN_VERIFY) and a bucket (`EvidenceBucket`) with versioning, S3 Object
  Lock in COMPLIANCE mode for six years by default, our key, a policy that denies deletes
  and plain HTTP, and server access logs to `EvidenceAccessLogs` — CloudTrail's log-file
  validation pattern (docs/architecture.md, "Tamper-evident evidence"). The digest
  function gets both by reference (REMEDIATION_SIGNING_KEY, REMEDIATION_EVIDENCE_BUCKET);
- a CloudWatch dashboard of the pipeline's metrics (`chalicelib.metrics`);
- checkov's skips, each with its reason, in the resources' `Metadata`
  (tests/test_checkov.py runs checkov on every template we ship: no other failure).

Everything is derived from the template Chalice wrote: the functions with an EventBridge
trigger are the pipeline functions.
"""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.iam import REMEDIATION_ROLE_SKIPS, skip_checks

BUS = "autoremediate"
LOG_RETENTION_DAYS = 2192  # 6 years, a value CloudWatch Logs allows
RETRY = {"MaximumRetryAttempts": 24, "MaximumEventAgeInSeconds": 86400}
QUEUE_RETENTION_SECONDS = 1209600  # 14 days, SQS's longest
# the customer-managed key the encryption fixes use in each account (REMEDIATION_KMS_KEY):
# the member stack creates it under this alias, the central stack names it to the functions
DATA_KEY_ALIAS = "alias/phi-data"
# API Gateway access log lines: who called what, when, with which answer; never a body
ACCESS_LOG_FORMAT = ('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                     '"requestTime":"$context.requestTime","method":"$context.httpMethod",'
                     '"path":"$context.resourcePath","status":"$context.status",'
                     '"responseLength":"$context.responseLength",'
                     '"integrationError":"$context.integrationErrorMessage"}')

KEY_ADMIN = ["kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant",
              "kms:Decrypt", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
              "kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt",
              "kms:GenerateDataKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
              "kms:ListGrants", "kms:ListResourceTags", "kms:PutKeyPolicy",
              "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
              "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription"]
_KEY_USE = ["kms:Decrypt", "kms:GenerateDataKey"]
# what a principal reading and writing a table encrypted with a customer-managed key needs,
# through DynamoDB only (kms:ViaService)
_TABLE_KEY_USE = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]

_NO_VPC = ("calls only AWS APIs and Slack over TLS and reaches nothing inside a VPC; a VPC "
           "would add NAT and endpoints to reach the same public endpoints")
_NO_DLQ_PIPELINE = ("its asynchronous invocations retry twice, then go to the dead-letter "
                    "queue through an on-failure destination (EventInvokeConfig, whose record "
                    "`remediate redrive` reads); a DeadLetterConfig too would deliver every "
                    "failure twice")
_NO_DLQ_SCHEDULE = ("a schedule tick carries no work to keep: the next run does the same, "
                    "and a failure raises the function's Errors alarm")
_NO_DLQ = {
    "APIHandler": "invoked synchronously by API Gateway: the caller gets the error, nothing "
                  "is queued that could be kept",
    "ApprovalWorker": "its handler never raises (chalicelib.slack.run_job logs every failure "
                      "and the approval stays decidable): no event would reach a queue; a "
                      "failure of the runtime itself raises the Errors alarm",
}
# the function that writes the hourly digest (app.py's evidence_digest, as Chalice names it)
DIGEST_FUNCTION = "EvidenceDigest"
EVIDENCE_RETENTION_DAYS = 2192  # 164.316(b)(2): six years
_S3_KEY_USE = ["kms:Decrypt", "kms:GenerateDataKey"]  # SSE-KMS put and get, through S3
_ACCESS_LOGS_SKIPS = {
    "CKV_AWS_18": "the evidence bucket's access-log bucket: logging it into itself would "
                  "loop, and logging it elsewhere only moves the question",
    "CKV_AWS_145": "S3 server access logs are delivered only to buckets encrypted with "
                   "SSE-S3 (AES256), not SSE-KMS",
}
_SIGNING_KEY_SKIPS = {
    "CKV_AWS_7": "an asymmetric (SIGN_VERIFY) key cannot rotate automatically; a digest names "
                 "the key that signed it, so a new key can replace this one without "
                 "invalidating older digests",
}
_API_SKIPS = {
    "CKV_AWS_120": "every request is a Slack decision or a timeline read that must reach "
                   "the function: a cached answer would be stale, or skip a decision",
}


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def pipeline_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The functions an EventBridge rule triggers (logical id -> resource)."""
    return {name: r for name, r in template["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"
            and any(e["Type"] in ("CloudWatchEvent", "EventBridgeRule")
                    for e in r["Properties"].get("Events", {}).values())}


def _key() -> dict[str, Any]:
    root = _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {
            "Description": "autoremediate: state table, dead-letter queue, log groups and "
                           "function environments",
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow",
                 "Principal": {"AWS": root}, "Action": KEY_ADMIN, "Resource": "*"},
                {"Sid": "EventBridgeWritesTheDeadLetterQueue", "Effect": "Allow",
                 "Principal": {"Service": "events.amazonaws.com"}, "Action": _KEY_USE,
                 "Resource": "*",
                 "Condition": {"StringEquals": {"aws:SourceAccount": {
                     "Ref": "AWS::AccountId"}}}},
                # CloudWatch Logs' documented grant, for our groups only (the encryption
                # context names the group). No kms:DescribeKey: its requests carry no
                # encryption context, so under this condition it could never apply
                {"Sid": "LogsEncryptOurLogGroups", "Effect": "Allow",
                 "Principal": {"Service": _sub("logs.${AWS::Region}.amazonaws.com")},
                 "Action": ["kms:Decrypt", "kms:Encrypt",
                            "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                            "kms:ReEncryptFrom", "kms:ReEncryptTo"],
                 "Resource": "*",
                 "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": [
                     _sub(groups + "/aws/lambda/${AWS::StackName}-*"),
                     _sub(groups + "/aws/apigateway/${AWS::StackName}-*")]}}}]}}}


def _table(name: Any) -> dict[str, Any]:
    """The state table, made as `remediate bootstrap` makes it (chalicelib.store.table)."""
    from chalicelib.store.table import ATTRIBUTES, KEY_SCHEMA, TTL_ATTRIBUTE

    return {
        "Type": "AWS::DynamoDB::Table",
        # the audit evidence outlives the stack: deleting or replacing the stack keeps it
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": copy.deepcopy(ATTRIBUTES),
            "KeySchema": copy.deepcopy(KEY_SCHEMA),
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS",
                                 "KMSMasterKeyId": {"Ref": "EventKey"}},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
            "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}}}


def _log_group(name: str) -> dict[str, Any]:
    """A log group kept six years, encrypted with our key, kept when the stack goes."""
    return {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain", "Properties": {
                "LogGroupName": _sub(name), "RetentionInDays": LOG_RETENTION_DAYS,
                "KmsKeyId": {"Fn::GetAtt": ["EventKey", "Arn"]}}}


def _table_name(functions: dict[str, dict[str, Any]]) -> str:
    """The stage's table name, as Chalice gave every function (REMEDIATION_TABLE): the
    stage's IAM policy (chalicelib.iam) grants exactly that table."""
    from chalicelib.packaging import PackagingError

    names = {f["Properties"].get("Environment", {}).get("Variables", {}).get(
        "REMEDIATION_TABLE") for f in functions.values()}
    if len(names) != 1 or not all(isinstance(n, str) and n for n in names):
        raise PackagingError(f"one REMEDIATION_TABLE expected on every function, not {names}")
    return str(names.pop())


def add_central(template: dict[str, Any]) -> dict[str, Any]:
    """Add the organization bus, dead-letter queue, state table, alarms, log groups,
    dashboard and checkov's reasoned skips."""
    from chalicelib.metrics import dashboard

    out = copy.deepcopy(template)
    res = out["Resources"]
    params = out.setdefault("Parameters", {})
    params["OrganizationId"] = {
        "Type": "String", "AllowedPattern": "^o-[a-z0-9]{10,32}$",
        "Description": "Your AWS Organization's id: only its accounts may put events on "
                       "the central bus"}
    params["AlarmTopicArn"] = {
        "Type": "String", "AllowedPattern": "^arn:aws[a-z-]*:sns:[a-z0-9-]+:\\d{12}:.+$",
        "Description": "SNS topic the dead-letter and error alarms notify"}
    params["DataKeyAlias"] = {
        "Type": "String", "Default": DATA_KEY_ALIAS,
        "AllowedPattern": "^alias/(?!aws/)[a-zA-Z0-9/_-]+$",
        "Description": "the customer-managed key the encryption fixes use in each account "
                       "(REMEDIATION_KMS_KEY): the member stack creates it under this alias"}
    functions = pipeline_functions(out)
    every = {k: r for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    dlq_arn = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    key_arn = {"Fn::GetAtt": ["EventKey", "Arn"]}

    res["EventKey"] = _key()
    res["EventKeyAlias"] = {"Type": "AWS::KMS::Alias", "Properties": {
        "AliasName": _sub("alias/autoremediate-${AWS::StackName}"),
        "TargetKeyId": {"Ref": "EventKey"}}}
    res["StateTable"] = _table(_table_name(every))
    res["DeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "KmsMasterKeyId": {"Ref": "EventKey"},
        "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
        "VisibilityTimeout": 300}}
    res["DeadLetterQueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
        "Queues": [{"Ref": "DeadLetterQueue"}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "OurRulesDeadLetter", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": dlq_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": _sub(
                "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*")}}}]}}}
    res["CentralBus"] = {"Type": "AWS::Events::EventBus", "Properties": {"Name": BUS}}
    res["CentralBusPolicy"] = {"Type": "AWS::Events::EventBusPolicy", "Properties": {
        "EventBusName": {"Ref": "CentralBus"}, "StatementId": "OrganizationPutEvents",
        "Statement": {
            "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
            "Resource": {"Fn::GetAtt": ["CentralBus", "Arn"]},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": {
                "Ref": "OrganizationId"}}}}}}
    for name, function in functions.items():
        props = function["Properties"]
        events = props["Events"]
        for event in list(events.values()):
            event["Properties"]["RetryPolicy"] = dict(RETRY)
            event["Properties"]["DeadLetterConfig"] = {"Arn": dlq_arn}
        (first,) = list(events.values())[:1]
        events[f"{name}OrgEvent"] = {"Type": "EventBridgeRule", "Properties": {
            **copy.deepcopy(first["Properties"]), "EventBusName": {"Ref": "CentralBus"}}}
        props["EventInvokeConfig"] = {
            "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": dlq_arn}}}
        # Lambda checks the role may send to the destination when the config is made
        function["DependsOn"] = sorted({*_as_list(function.get("DependsOn")),
                                        "DeadLetterWrite"})
    for name, function in every.items():
        props = function["Properties"]
        variables = props.setdefault("Environment", {}).setdefault("Variables", {})
        variables["REMEDIATION_TABLE"] = {"Ref": "StateTable"}
        variables.setdefault("REMEDIATION_KMS_KEY", {"Ref": "DataKeyAlias"})
        props["KmsKeyArn"] = key_arn  # the environment, encrypted with our key
        # the function logs to this group (LoggingConfig), so the group exists, with its
        # retention and key, before the function's first line; named after the stack so
        # our logging permission (log-group:/aws/lambda/autoremediate-*) covers it
        res[f"{name}Logs"] = _log_group(f"/aws/lambda/${{AWS::StackName}}-{name}")
        props["LoggingConfig"] = {"LogGroup": {"Ref": f"{name}Logs"}}
        function["DependsOn"] = sorted({*_as_list(function.get("DependsOn")),
                                        "StateTableKey"})
        res[f"{name}Errors"] = _alarm(
            f"{name} raised" + (": the event is retried, then goes to the dead-letter queue"
                                if name in functions else ""),
            namespace="AWS/Lambda", metric="Errors",
            dimensions=[{"Name": "FunctionName", "Value": {"Ref": name}}])
        skip_checks(function, {"CKV_AWS_117": _NO_VPC,
                               "CKV_AWS_116": _no_dlq_reason(name, function, functions)})
    function_roles = sorted({f["Properties"]["Role"]["Fn::GetAtt"][0] for f in every.values()})
    for role in function_roles:
        skip_checks(res[role], REMEDIATION_ROLE_SKIPS)
    roles = sorted({f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()})
    res["DeadLetterWrite"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "dead-letter-write", "Roles": [{"Ref": r} for r in roles],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "OnFailureDestination", "Effect": "Allow",
             "Action": ["sqs:SendMessage"], "Resource": dlq_arn},
            {"Sid": "EncryptedQueue", "Effect": "Allow", "Action": _KEY_USE,
             "Resource": key_arn}]}}}
    res["StateTableKey"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "state-table-key", "Roles": [{"Ref": r} for r in function_roles],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "EncryptedStateTable", "Effect": "Allow", "Action": _TABLE_KEY_USE,
             "Resource": key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": _sub(
                 "dynamodb.${AWS::Region}.amazonaws.com")}}}]}}}
    if "RestAPI" in res:
        _api_access_logs(res)
    _evidence_store(res, every)
    res["DeadLetterDepth"] = _alarm(
        "events failed every attempt: run `remediate redrive` on the dead-letter queue",
        namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible",
        dimensions=[{"Name": "QueueName",
                     "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}],
        statistic="Maximum")
    res["Dashboard"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": _sub("autoremediate-${AWS::StackName}"),
        "DashboardBody": {"Fn::Sub": dashboard()}}}
    out.setdefault("Outputs", {}).update({
        "CentralBusArn": {"Description": "member accounts forward events here",
                          "Value": {"Fn::GetAtt": ["CentralBus", "Arn"]}},
        "DeadLetterQueueUrl": {"Description": "remediate redrive QUEUE_URL",
                               "Value": {"Ref": "DeadLetterQueue"}},
        "StateTableName": {"Description": "REMEDIATION_TABLE for the remediate CLI",
                           "Value": {"Ref": "StateTable"}},
        "EvidenceBucketName": {"Description": "REMEDIATION_EVIDENCE_BUCKET for the remediate "
                                              "CLI: where the signed digests are",
                               "Value": {"Ref": "EvidenceBucket"}},
        "SigningKeyArn": {"Description": "REMEDIATION_SIGNING_KEY for the remediate CLI: "
                                         "`aws kms get-public-key` verifies the digests",
                          "Value": {"Fn::GetAtt": ["SigningKey", "Arn"]}},
        "FunctionRoleArns": {
            "Description": "the member stack's TrustedRoleArns: only these may act there",
            "Value": {"Fn::Join": [",", [{"Fn::GetAtt": [r, "Arn"]}
                                         for r in function_roles]]}}})
    return out


def _evidence_store(res: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
    """The signing key, the locked evidence bucket and its access-log bucket; the digest
    function is told both and may use our key through S3 for the bucket's encryption."""
    from chalicelib.packaging import PackagingError

    if DIGEST_FUNCTION not in functions:
        raise PackagingError(f"no {DIGEST_FUNCTION} function: the evidence digest is what "
                             "the evidence bucket and signing key are for")
    role = functions[DIGEST_FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0]
    root = _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    evidence_arn = {"Fn::GetAtt": ["EvidenceBucket", "Arn"]}
    res["SigningKey"] = skip_checks({
        "Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": "autoremediate: signs the evidence digests (kms:Sign); anyone may "
                           "check them with its public key",
            "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": root},
                 "Action": [a for a in KEY_ADMIN if a not in (
                     "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                     "kms:EnableKeyRotation", "kms:GetKeyRotationStatus")],
                 "Resource": "*"},
                # signing and verifying as IAM allows: the digest function's policy grants
                # kms:Sign (chalicelib.iam, EvidenceDigest), an auditor's role
                # kms:GetPublicKey or kms:Verify; no one else is named here
                {"Sid": "AccountSignsAndVerifiesAsIamAllows", "Effect": "Allow",
                 "Principal": {"AWS": root},
                 "Action": ["kms:GetPublicKey", "kms:Sign", "kms:Verify"],
                 "Resource": "*"}]}}},
        _SIGNING_KEY_SKIPS)
    res["SigningKeyAlias"] = {"Type": "AWS::KMS::Alias", "Properties": {
        "AliasName": _sub("alias/autoremediate-${AWS::StackName}-evidence"),
        "TargetKeyId": {"Ref": "SigningKey"}}}
    res["EvidenceAccessLogs"] = skip_checks({
        "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": _ALL_BLOCKED,
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "six-years", "Status": "Enabled",
                "ExpirationInDays": EVIDENCE_RETENTION_DAYS,
                "NoncurrentVersionExpiration": {"NoncurrentDays": EVIDENCE_RETENTION_DAYS}}]}}},
        _ACCESS_LOGS_SKIPS)
    res["EvidenceAccessLogsPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": {"Ref": "EvidenceAccessLogs"},
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "S3ServerAccessLogs", "Effect": "Allow",
             "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": _sub("${EvidenceAccessLogs.Arn}/*"),
             # the account, not the bucket's ARN: S3 checks this grant when the evidence
             # bucket's logging is set, so the evidence bucket depends on this policy
             "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}},
            _insecure_transport_denied("EvidenceAccessLogs")]}}}
    res["EvidenceBucket"] = {
        "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "DependsOn": ["EvidenceAccessLogsPolicy"],
        "Properties": {
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {
                "DefaultRetention": {"Mode": "COMPLIANCE", "Days": EVIDENCE_RETENTION_DAYS}}},
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": {"Fn::GetAtt": ["EventKey", "Arn"]}},
                "BucketKeyEnabled": True}]},
            "PublicAccessBlockConfiguration": _ALL_BLOCKED,
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": "EvidenceAccessLogs"},
                                     "LogFilePrefix": "evidence/"}}}
    res["EvidenceBucketPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": {"Ref": "EvidenceBucket"},
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            # Object Lock (COMPLIANCE) already refuses deleting a locked version, even to
            # root; this refuses every delete, and a lock configuration change, outright
            {"Sid": "EvidenceIsNeverDeleted", "Effect": "Deny", "Principal": "*",
             "Action": ["s3:DeleteBucket", "s3:DeleteObject", "s3:DeleteObjectVersion",
                        "s3:PutBucketObjectLockConfiguration",
                        "s3:PutLifecycleConfiguration"],
             "Resource": [evidence_arn, _sub("${EvidenceBucket.Arn}/*")]},
            _insecure_transport_denied("EvidenceBucket")]}}}
    res["EvidenceBucketKey"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "evidence-bucket-key", "Roles": [{"Ref": role}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "EncryptedEvidenceBucket", "Effect": "Allow", "Action": _S3_KEY_USE,
             "Resource": {"Fn::GetAtt": ["EventKey", "Arn"]},
             "Condition": {"StringEquals": {"kms:ViaService": _sub(
                 "s3.${AWS::Region}.amazonaws.com")}}}]}}}
    digest = functions[DIGEST_FUNCTION]
    variables = digest["Properties"].setdefault("Environment", {}).setdefault("Variables", {})
    variables["REMEDIATION_SIGNING_KEY"] = {"Fn::GetAtt": ["SigningKey", "Arn"]}
    variables["REMEDIATION_EVIDENCE_BUCKET"] = {"Ref": "EvidenceBucket"}
    digest["DependsOn"] = sorted({*_as_list(digest.get("DependsOn")), "EvidenceBucketKey"})


_ALL_BLOCKED = {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


def _insecure_transport_denied(bucket: str) -> dict[str, Any]:
    return {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": [bucket, "Arn"]}, _sub(f"${{{bucket}.Arn}}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def _no_dlq_reason(name: str, function: dict[str, Any],
                   pipeline: dict[str, dict[str, Any]]) -> str:
    """Why `function` has no DeadLetterConfig (checkov CKV_AWS_116); a function we have
    not thought about is a packaging error, not a silent skip."""
    from chalicelib.packaging import PackagingError

    if name in pipeline:
        return _NO_DLQ_PIPELINE
    triggers = {e["Type"] for e in function["Properties"].get("Events", {}).values()}
    if triggers == {"Schedule"}:
        return _NO_DLQ_SCHEDULE
    if name in _NO_DLQ:
        return _NO_DLQ[name]
    raise PackagingError(f"{name}: say in chalicelib.stack where its failed asynchronous "
                         "invocations go (no dead-letter queue reason)")


def _api_access_logs(res: dict[str, Any]) -> None:
    """The API's access log (six years, our key), X-Ray tracing, and the account setting
    API Gateway needs before any stage may log: its CloudWatch Logs role."""
    res["ApiAccessLogs"] = _log_group("/aws/apigateway/${AWS::StackName}-access")
    # one setting per account and region; kept when the stack goes, so the account's other
    # APIs keep logging (docs/deploy.md)
    res["ApiGatewayLogsRole"] = {
        "Type": "AWS::IAM::Role", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": "lets API Gateway write this account's API logs to CloudWatch Logs",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {
                    "Ref": "AWS::AccountId"}}}}]},
            "ManagedPolicyArns": [_sub("arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                       "AmazonAPIGatewayPushToCloudWatchLogs")]}}
    res["ApiGatewayAccount"] = {
        "Type": "AWS::ApiGateway::Account", "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}}}
    api = res["RestAPI"]
    api["DependsOn"] = sorted({*_as_list(api.get("DependsOn")), "ApiGatewayAccount"})
    api["Properties"]["TracingEnabled"] = True
    api["Properties"]["AccessLogSetting"] = {
        "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]},
        "Format": ACCESS_LOG_FORMAT}
    skip_checks(api, _API_SKIPS)


def _as_list(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _alarm(description: str, *, namespace: str, metric: str,
           dimensions: list[dict[str, Any]], statistic: str = "Sum") -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": dimensions, "Statistic": statistic, "Period": 300,
        "EvaluationPeriods": 1, "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "AlarmTopicArn"}], "OKActions": [{"Ref": "AlarmTopicArn"}]}}
