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
  each target retries for 24 hours and then lands in a dead-letter queue in that region
  (SQS-managed encryption: a customer-managed key in every account and region would
  cost more than the queue is worth; the central queue uses our key).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from chalicelib.iam import member_role_template
from chalicelib.stack import BUS, QUEUE_RETENTION_SECONDS, RETRY

MEMBER_STACK_FILE = "deploy/member-stack.json"


def forwarded_patterns() -> dict[str, Any]:
    from chalicelib.patterns import RENDERED

    return dict(json.loads(RENDERED.read_text()))


def _rule_name(source: str) -> str:
    return "Forward" + "".join(part.title() for part in source.split("_"))


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
            "Description": "the one region where the (global) member role is created"}})
    template["Parameters"]["TrustedRoleArns"] = {
        "Type": "CommaDelimitedList", "Default": "",
        "Description": "the central stack's FunctionRoleArns output: only these roles may "
                       "assume the member role (empty: any security-account role matching "
                       "TrustedRoleNamePattern)"}
    template["Conditions"] = {
        "IsPrimaryRegion": {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "PrimaryRegion"}]},
        "TrustExactRoles": {"Fn::Not": [{"Fn::Equals": [
            {"Fn::Join": ["", {"Ref": "TrustedRoleArns"}]}, ""]}]}}
    res = template["Resources"]
    res["MemberRole"]["Condition"] = "IsPrimaryRegion"
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
    res["ForwardDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "SqsManagedSseEnabled": True, "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS}}
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
    return template


def render_member_stack() -> str:
    return json.dumps(member_template(), indent=2) + "\n"
