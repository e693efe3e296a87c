"""The member-account stack, deployed by a StackSet to every account and region of the
organization (`remediate package --member`, committed as `deploy/member-stack.json`):

- the member role (`chalicelib.iam.member_role_template`: permissions rendered from the
  remediations' declarations), trusted only by the central stack's function roles
  (`TrustedRoleArns`, its `FunctionRoleArns` output; without it, by security-account
  roles matching `TrustedRoleNamePattern`), in the `PrimaryRegion` only, since IAM is
  global and the role has a fixed name;
- in every region, one EventBridge rule per source we handle, with exactly the patterns
  the central rules use (`chalicelib/event_patterns.json`, rendered from the policies),
  forwarding to the central bus with a role that may only `events:PutEvents` there;
  each target retries for 24 hours and then lands in a dead-letter queue in that region,
  encrypted with a customer-managed key whose policy lets EventBridge write to it (SSE-SQS
  is what our own `sqs_kms_encryption` replaces);
- in every region, unless `CreateDataKey` is false, the account's data key: the
  customer-managed key the encryption fixes (S3.4, SNS.1, SQS.1, CloudWatch Logs, Lambda
  environments) use there, under `DataKeyAlias` (default `alias/phi-data`, what the central
  stack names as REMEDIATION_KMS_KEY), so a new account works on day one. It is kept when
  the stack goes (what it encrypted stays readable). The dead-letter queue uses it; with
  `CreateDataKey` false the stack makes a key for the queue alone. One key per account and
  region either way.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from chalicelib.iam import REMEDIATION_ROLE_SKIPS, member_role_template, skip_checks
from chalicelib.stack import BUS, DATA_KEY_ALIAS, KEY_ADMIN, QUEUE_RETENTION_SECONDS, RETRY

MEMBER_STACK_FILE = "deploy/member-stack.json"


def forwarded_patterns() -> dict[str, Any]:
    from chalicelib.patterns import RENDERED

    return dict(json.loads(RENDERED.read_text()))


def _rule_name(source: str) -> str:
    return "Forward" + "".join(part.title() for part in source.split("_"))


_WORKLOAD_USE = ("kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo")


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _member_key(description: str, *, data: bool) -> dict[str, Any]:
    """A customer-managed key of the member account: the account administers it (IAM
    policies there grant its use); EventBridge may write the forwarding dead-letter queue
    with it. The data key also lets the services that write to encrypted topics, queues
    and log groups of the account use it (the fixes put those on it)."""
    account = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # AWS services publishing to an SNS topic or sending to an SQS queue on this key
    # (alarms, EventBridge, S3 notifications, SNS to SQS): their documented grant
    writers = (["cloudwatch.amazonaws.com", "events.amazonaws.com", "s3.amazonaws.com",
                "sns.amazonaws.com"] if data else ["events.amazonaws.com"])
    statements: list[dict[str, Any]] = [
        {"Sid": "AccountAdministers", "Effect": "Allow",
         "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
         # the account's own workloads use the data key through their IAM policies
         "Action": sorted({*KEY_ADMIN, *_WORKLOAD_USE}) if data else KEY_ADMIN,
         "Resource": "*"}]
    statements.append({
        "Sid": "AwsServicesWriteEncryptedQueuesAndTopics", "Effect": "Allow",
        "Principal": {"Service": writers}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*", "Condition": {"StringEquals": account}})
    if data:
        groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
        statements.append({
            "Sid": "LogsEncryptTheAccountsLogGroups", "Effect": "Allow",
            "Principal": {"Service": _sub("logs.${AWS::Region}.amazonaws.com")},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                       "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom",
                       "kms:ReEncryptTo"],
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": _sub(groups)}}})
    return {"Type": "AWS::KMS::Key", "Properties": {
        "Description": description, "EnableKeyRotation": True,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}}


def member_template(*, role_name: str = "autoremediate-member") -> dict[str, Any]:
    template = copy.deepcopy(member_role_template(role_name=role_name))
    template["Description"] = ("autoremediate member-account stack for a StackSet: the "
                               "member role and event forwarding to the central bus "
                               "(rendered by python -m chalicelib.iam; do not edit)")
    template["Parameters"].update({
        "CentralBusArn": {
            "Type": "String",
            "AllowedPattern": f"^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{{12}}:event-bus/{BUS}$",
            "Description": "the central stack's CentralBusArn output"},
        "PrimaryRegion": {
            "Type": "String", "Default": "us-east-1", "AllowedPattern": "^[a-z]{2}(-[a-z]+)+-\\d$",
            "Description": "the one region where the (global) member role is created"},
        "CreateDataKey": {
            "Type": "String", "Default": "true", "AllowedValues": ["true", "false"],
            "Description": "create this account's data key in each region under DataKeyAlias "
                           "(false: the account brings its own key under that alias)"},
        "DataKeyAlias": {
            "Type": "String", "Default": DATA_KEY_ALIAS,
            "AllowedPattern": "^alias/(?!aws/)[a-zA-Z0-9/_-]+$",
            "Description": "the alias the encryption fixes look up here: the central "
                           "stack's DataKeyAlias (REMEDIATION_KMS_KEY)"}})
    template["Parameters"]["TrustedRoleArns"] = {
        "Type": "CommaDelimitedList", "Default": "",
        "Description": "the central stack's FunctionRoleArns output: only these roles may "
                       "assume the member role (empty: any security-account role matching "
                       "TrustedRoleNamePattern)"}
    template["Conditions"] = {
        "IsPrimaryRegion": {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "PrimaryRegion"}]},
        "TrustExactRoles": {"Fn::Not": [{"Fn::Equals": [
            {"Fn::Join": ["", {"Ref": "TrustedRoleArns"}]}, ""]}]},
        "CreateDataKey": {"Fn::Equals": [{"Ref": "CreateDataKey"}, "true"]},
        "NoDataKey": {"Fn::Equals": [{"Ref": "CreateDataKey"}, "false"]}}
    res = template["Resources"]
    res["MemberRole"]["Condition"] = "IsPrimaryRegion"
    skip_checks(res["MemberRole"], REMEDIATION_ROLE_SKIPS)
    (trust,) = res["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    trust["Condition"] = {"Fn::If": [
        "TrustExactRoles", {"ArnEquals": {"aws:PrincipalArn": {"Ref": "TrustedRoleArns"}}},
        trust["Condition"]]}
    template["Outputs"]["RoleArn"]["Condition"] = "IsPrimaryRegion"
    res["ForwardRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "Description": "lets this region's autoremediate rules put events on the central bus",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
        "Policies": [{"PolicyName": "put-events-on-the-central-bus", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["events:PutEvents"],
                "Resource": {"Ref": "CentralBusArn"}}]}}]}}
    res["DataKey"] = {
        **_member_key("autoremediate: this account's data key (REMEDIATION_KMS_KEY), for "
                      "the encryption fixes and the forwarding dead-letter queue", data=True),
        "Condition": "CreateDataKey",
        # what it encrypted must stay readable after the stack is gone
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    res["DataAlias"] = {"Type": "AWS::KMS::Alias", "Condition": "CreateDataKey",
                           "Properties": {"AliasName": {"Ref": "DataKeyAlias"},
                                          "TargetKeyId": {"Ref": "DataKey"}}}
    res["ForwardKey"] = {
        **_member_key("autoremediate: the forwarding dead-letter queue (the account brings "
                      "its own data key)", data=False),
        "Condition": "NoDataKey"}
    res["ForwardDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "KmsMasterKeyId": {"Fn::If": ["CreateDataKey", {"Ref": "DataKey"},
                                      {"Ref": "ForwardKey"}]},
        "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS}}
    rules = []
    for source, pattern in sorted(forwarded_patterns().items()):
        name = _rule_name(source)
        rules.append(name)
        res[name] = {"Type": "AWS::Events::Rule", "Properties": {
            "Description": f"autoremediate: forward {source} events to the central bus",
            "EventPattern": pattern, "State": "ENABLED",
            "Targets": [{
                "Id": "central-bus", "Arn": {"Ref": "CentralBusArn"},
                "RoleArn": {"Fn::GetAtt": ["ForwardRole", "Arn"]},
                "RetryPolicy": dict(RETRY),
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["ForwardDeadLetterQueue",
                                                            "Arn"]}}}]}}
    res["ForwardDeadLetterQueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
        "Queues": [{"Ref": "ForwardDeadLetterQueue"}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "OurForwardingRulesDeadLetter", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["ForwardDeadLetterQueue", "Arn"]},
            "Condition": {"ArnEquals": {"aws:SourceArn": [
                {"Fn::GetAtt": [r, "Arn"]} for r in rules]}}}]}}}
    template["Outputs"]["ForwardDeadLetterQueueUrl"] = {
        "Description": "events this region could not forward to the central bus "
                       "(docs/deploy.md: put them back on the bus)",
        "Value": {"Ref": "ForwardDeadLetterQueue"}}
    template["Outputs"]["DataKeyArn"] = {
        "Condition": "CreateDataKey",
        "Description": "this account's data key in this region (REMEDIATION_KMS_KEY's alias "
                       "names it)",
        "Value": {"Fn::GetAtt": ["DataKey", "Arn"]}}
    return template


def render_member_stack() -> str:
    return json.dumps(member_template(), indent=2) + "\n"
