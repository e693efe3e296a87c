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
- every function's log group, kept 6 years (2192 days: HIPAA's documentation retention)
  and encrypted with the same key, the rules we enforce on others;
- a CloudWatch dashboard of the pipeline's metrics (`chalicelib.metrics`).

Everything is derived from the template Chalice wrote: the functions with an EventBridge
trigger are the pipeline functions.
"""

from __future__ import annotations

import copy
from typing import Any

BUS = "autoremediate"
LOG_RETENTION_DAYS = 2192  # 6 years, a value CloudWatch Logs allows
RETRY = {"MaximumRetryAttempts": 24, "MaximumEventAgeInSeconds": 86400}
QUEUE_RETENTION_SECONDS = 1209600  # 14 days, SQS's longest

_KEY_ADMIN = ["kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant",
              "kms:Decrypt", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
              "kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt",
              "kms:GenerateDataKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
              "kms:ListGrants", "kms:ListResourceTags", "kms:PutKeyPolicy",
              "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
              "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription"]
_KEY_USE = ["kms:Decrypt", "kms:GenerateDataKey"]


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
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {
            "Description": "autoremediate: dead-letter queue and log groups",
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow",
                 "Principal": {"AWS": root}, "Action": _KEY_ADMIN, "Resource": "*"},
                {"Sid": "EventBridgeWritesTheDeadLetterQueue", "Effect": "Allow",
                 "Principal": {"Service": "events.amazonaws.com"}, "Action": _KEY_USE,
                 "Resource": "*",
                 "Condition": {"StringEquals": {"aws:SourceAccount": {
                     "Ref": "AWS::AccountId"}}}},
                {"Sid": "LogsEncryptOurLogGroups", "Effect": "Allow",
                 "Principal": {"Service": _sub("logs.${AWS::Region}.amazonaws.com")},
                 "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
                            "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                            "kms:ReEncryptFrom", "kms:ReEncryptTo"],
                 "Resource": "*",
                 "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": _sub(
                     "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                     ":log-group:/aws/lambda/*")}}}]}}}


def add_central(template: dict[str, Any]) -> dict[str, Any]:
    """Add the organization bus, dead-letter queue, alarms, log groups and dashboard."""
    from chalicelib.metrics import dashboard
    from chalicelib.packaging import role_arns

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
    functions = pipeline_functions(out)
    dlq_arn = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}

    res["EventKey"] = _key()
    res["EventKeyAlias"] = {"Type": "AWS::KMS::Alias", "Properties": {
        "AliasName": _sub("alias/autoremediate-${AWS::StackName}"),
        "TargetKeyId": {"Ref": "EventKey"}}}
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
        res[f"{name}Errors"] = _alarm(
            f"{name} raised: the event is retried, then goes to the dead-letter queue",
            namespace="AWS/Lambda", metric="Errors",
            dimensions=[{"Name": "FunctionName", "Value": {"Ref": name}}])
    every = {k: r for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    for name, function in every.items():
        # the function logs to this group (LoggingConfig), so the group exists, with its
        # retention and key, before the function's first line; named after the stack so
        # our logging permission (log-group:/aws/lambda/autoremediate-*) covers it
        res[f"{name}Logs"] = {
            "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain", "Properties": {
                "LogGroupName": _sub(f"/aws/lambda/${{AWS::StackName}}-{name}"),
                "RetentionInDays": LOG_RETENTION_DAYS,
                "KmsKeyId": {"Fn::GetAtt": ["EventKey", "Arn"]}}}
        function["Properties"]["LoggingConfig"] = {"LogGroup": {"Ref": f"{name}Logs"}}
    roles = sorted({f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()})
    res["DeadLetterWrite"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "dead-letter-write", "Roles": [{"Ref": r} for r in roles],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "OnFailureDestination", "Effect": "Allow",
             "Action": ["sqs:SendMessage"], "Resource": dlq_arn},
            {"Sid": "EncryptedQueue", "Effect": "Allow", "Action": _KEY_USE,
             "Resource": {"Fn::GetAtt": ["EventKey", "Arn"]}}]}}}
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
        "FunctionRoleArns": {
            "Description": "the member stack's TrustedRoleArns: only these may act there",
            "Value": role_arns(out)}})
    return out


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
