"""CloudTrail management events ("AWS API Call via CloudTrail") as `Finding`s.

Where the resource lives in each kind of event is a JMESPath table (`RESOURCE_PATHS`),
not a chain of ifs. A call that failed (`errorCode`) changed nothing: `Ignored`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.finding import (
    ACCOUNT,
    ALARM,
    CLUSTER_SNAPSHOT,
    DB_INSTANCE,
    DB_SNAPSHOT,
    DETECTOR,
    EBS_SNAPSHOT,
    FUNCTION,
    KMS_KEY,
    LOG_GROUP,
    QUEUE,
    RECORDER,
    S3_BUCKET,
    S3_NAME,
    SECURITY_GROUP,
    TOPIC,
    TRAIL,
    VPC,
    Envelope,
    Finding,
    Ignored,
    Source,
    make_resource,
    require,
    search,
    text,
)

# eventName -> (resource type, JMESPath to the resource id)
REQ, RESP = "detail.requestParameters.", "detail.responseElements."
RESOURCE_PATHS: dict[str, tuple[str, str]] = {
    "PutBucketPolicy": (S3_BUCKET, S3_NAME),
    "DeleteBucketPolicy": (S3_BUCKET, S3_NAME),
    "PutBucketAcl": (S3_BUCKET, S3_NAME),
    "PutBucketPublicAccessBlock": (S3_BUCKET, S3_NAME),
    "DeleteBucketPublicAccessBlock": (S3_BUCKET, S3_NAME),
    "PutBucketEncryption": (S3_BUCKET, S3_NAME),
    "DeleteBucketEncryption": (S3_BUCKET, S3_NAME),
    "CreateBucket": (S3_BUCKET, S3_NAME),
    # calls that undo a HIPAA-pack bucket control (policies/22-hipaa-s3.yaml)
    "PutBucketVersioning": (S3_BUCKET, S3_NAME),
    "PutBucketLifecycle": (S3_BUCKET, S3_NAME),
    "DeleteBucketLifecycle": (S3_BUCKET, S3_NAME),
    "PutBucketLogging": (S3_BUCKET, S3_NAME),
    "PutBucketNotification": (S3_BUCKET, S3_NAME),
    "PutBucketOwnershipControls": (S3_BUCKET, S3_NAME),
    "DeleteBucketOwnershipControls": (S3_BUCKET, S3_NAME),
    "PutObjectLockConfiguration": (S3_BUCKET, S3_NAME),
    "CreatePolicy": ("AWS::IAM::Policy", RESP + "policy.arn"),
    "CreatePolicyVersion": ("AWS::IAM::Policy",
                                                 REQ + "policyArn"),
    "PutRolePolicy": ("AWS::IAM::Role", REQ + "roleName"),
    "PutUserPolicy": ("AWS::IAM::User", REQ + "userName"),
    "PutGroupPolicy": ("AWS::IAM::Group",
                                            REQ + "groupName"),
    "AttachRolePolicy": ("AWS::IAM::Role",
                                              REQ + "roleName"),
    "AttachUserPolicy": ("AWS::IAM::User",
                                              REQ + "userName"),
    "AttachGroupPolicy": ("AWS::IAM::Group",
                                               REQ + "groupName"),
    # the audit trail
    "StopLogging": (TRAIL, REQ + "name"),
    "UpdateTrail": (TRAIL, REQ + "name"),
    "DeleteTrail": (TRAIL, REQ + "name"),
    "StopConfigurationRecorder": (
        RECORDER, REQ + "configurationRecorderName"),
    "DeleteDetector": (DETECTOR, REQ + "detectorId"),
    "UpdateDetector": (DETECTOR, REQ + "detectorId"),
    "DisableSecurityHub": (ACCOUNT, "detail.recipientAccountId"),
    "PutEventSelectors": (TRAIL, REQ + "trailName"),
    "PutMetricAlarm": (ALARM, REQ + "alarmName"),
    "PutRetentionPolicy": (LOG_GROUP, REQ + "logGroupName"),
    "CreateLogGroup": (LOG_GROUP, REQ + "logGroupName"),
    "DisassociateKmsKey": (LOG_GROUP, REQ + "logGroupName"),
    # keys and encryption at rest
    "DisableKeyRotation": (KMS_KEY, REQ + "keyId"),
    "ScheduleKeyDeletion": (KMS_KEY, REQ + "keyId"),
    "DisableKey": (KMS_KEY, REQ + "keyId"),
    "CreateKey": (KMS_KEY, RESP + "keyMetadata.arn"),
    "DisableEbsEncryptionByDefault": (ACCOUNT, "detail.recipientAccountId"),
    "CreateQueue": (QUEUE, RESP + "queueUrl"),
    "SetQueueAttributes": (QUEUE, REQ + "queueUrl"),
    "CreateTopic": (TOPIC, RESP + "topicArn"),
    "SetTopicAttributes": (TOPIC, REQ + "topicArn"),
    "CreateFunction20150331": (FUNCTION,
                                                    RESP + "functionArn"),
    "UpdateFunctionConfiguration20150331v2": (
        FUNCTION, REQ + "functionName"),
    "CreateCacheCluster": ("AWS::ElastiCache::CacheCluster",
                                                REQ + "cacheClusterId"),
    "CreateReplicationGroup": (
        "AWS::ElastiCache::ReplicationGroup", REQ + "replicationGroupId"),
    # network paths and public copies
    "AuthorizeSecurityGroupIngress": (SECURITY_GROUP, REQ + "groupId"),
    "AuthorizeSecurityGroupEgress": (SECURITY_GROUP, REQ + "groupId"),
    "CreateVpc": (VPC, RESP + "vpc.vpcId"),
    "DeleteFlowLogs": (ACCOUNT, "detail.recipientAccountId"),
    "ModifySnapshotAttribute": (EBS_SNAPSHOT,
                                                     REQ + "snapshotId"),
    "ModifyDBSnapshotAttribute": (
        DB_SNAPSHOT, REQ + "dBSnapshotIdentifier"),
    "ModifyDBClusterSnapshotAttribute": (
        CLUSTER_SNAPSHOT, REQ + "dBClusterSnapshotIdentifier"),
    "ModifyDBInstance": (DB_INSTANCE, REQ + "dBInstanceIdentifier"),
    "CreateDBInstance": (DB_INSTANCE, REQ + "dBInstanceIdentifier"),
    "PutAccountPublicAccessBlock": (ACCOUNT, "detail.recipientAccountId"),
    "DeleteAccountPublicAccessBlock": (ACCOUNT,
                                                            "detail.recipientAccountId"),
    # IAM hygiene (HIPAA pack): calls that undo the account's password policy
    "UpdateAccountPasswordPolicy": (ACCOUNT, "detail.recipientAccountId"),
    "DeleteAccountPasswordPolicy": (ACCOUNT, "detail.recipientAccountId"),
}


def normalize(env: Envelope, event: dict[str, Any]) -> Finding | Ignored:
    name = require(env, "detail.eventName", event)
    error = text(search("detail.errorCode", event))
    if error is not None:
        return Ignored(event_id=env.id, reason=f"{name} failed with {error}: nothing changed")
    account = text(search("detail.recipientAccountId", event)) or env.account
    region = text(search("detail.awsRegion", event)) or env.region
    resource = None
    if name in RESOURCE_PATHS:
        rtype, path = RESOURCE_PATHS[name]
        resource = make_resource(rtype, search(path, event), account, region)
    trail_id = text(search("detail.eventID", event))
    return Finding(source=Source.CLOUDTRAIL, event_id=env.id, time=env.time, account=account,
                   region=region, kind=name, resources=(resource,) if resource else (),
                   actor=text(search("detail.userIdentity.arn", event)),
                   actor_role=text(search(
                       "detail.userIdentity.sessionContext.sessionIssuer.arn", event)),
                   source_ids=(trail_id,) if trail_id else (), raw=event)

