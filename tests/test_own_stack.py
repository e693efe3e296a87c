"""We run our own checks on ourselves (#22 item 4).

The central template (`chalicelib.packaging.build`, dev stage) goes through the SAM
transform of `aws-sam-translator` (AWS's own library, offline: no managed policy is looked
up) and is deployed into moto's CloudFormation; then `remediate evidence --snapshot`'s
logic (`chalicelib.snapshot`) reads that deployment and our own key, log groups, queue and
functions must come out compliant with our own policies, and the state table must be as
the template declares it.

What the deployment differs in from AWS (docs/architecture.md, "Our own stack in the
emulator"): moto's CloudFormation has no model for the types in `NOT_LISTED` (it skips
them with a warning); it cannot create the API (`CANNOT_CREATE`: a RestApi defined by its
OpenAPI `Body` alone, without `Name`), which is removed with what refers to it; the
functions' code is uploaded to an S3 bucket as `aws cloudformation package` would; the
Powertools layer parameter's default (a public SSM parameter AWS provides, which moto
reserves) points at a parameter the test puts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import Aws
from chalicelib.config import Settings
from chalicelib.context import Context
from tests import moto_ext

moto_ext.cloudformation_as_aws()

ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "autoremediate"
ARTIFACTS = "autoremediate-artifacts"
LAYER_PARAMETER = "/test/powertools-layer"
LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7"
# types in the transformed template moto's stack does not list as created: no model (moto
# skips them with a warning), or, for AWS::Lambda::Permission, no physical id
NOT_LISTED = {"AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy", "AWS::ApiGateway::Account",
              "AWS::S3::BucketPolicy",
              "AWS::Lambda::EventInvokeConfig", "AWS::Events::EventBusPolicy",
              "AWS::Lambda::Permission"}
# types moto models but cannot create from our template (removed, with their dependents)
CANNOT_CREATE = {"AWS::ApiGateway::RestApi"}


class _NoManagedPolicies:
    """The translator's managed-policy loader, offline: our template names none."""

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(sam: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    return dict(transform(sam, {}, _NoManagedPolicies()))


def _refs(node: Any) -> set[str]:
    """Logical ids `node` refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    import re

    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
            found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def without(template: dict[str, Any], types: set[str]) -> tuple[dict[str, Any], list[str]]:
    """`template` without the resources of `types` and everything that refers to them
    (transitively; outputs too); returns it and the logical ids removed."""
    out = json.loads(json.dumps(template))
    resources = out["Resources"]
    gone = {k for k, r in resources.items() if r["Type"] in types}
    while True:
        more = {k for k, r in resources.items() if k not in gone
                and (_refs(r) | set(_as_list(r.get("DependsOn")))) & gone}
        if not more:
            break
        gone |= more
    for key in gone:
        del resources[key]
    out["Outputs"] = {k: v for k, v in out.get("Outputs", {}).items() if not _refs(v) & gone}
    return out, sorted(gone)


def _as_list(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


@dataclass
class Deployed:
    template: dict[str, Any]  # as deployed
    removed: list[str]  # logical ids, from `transformed`
    transformed: dict[str, Any]  # the SAM transform's output
    status: str
    physical: dict[str, str]  # logical id -> physical id, of what moto created
    ctx: Context

    def of_type(self, rtype: str) -> list[str]:
        return sorted(self.physical[k] for k, r in self.template["Resources"].items()
                      if r["Type"] == rtype and k in self.physical)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from moto import mock_aws

    from chalicelib.packaging import build

    out = tmp_path_factory.mktemp("own") / "dev"
    zip_path = build(stage="dev", out=out)
    sam = json.loads((out / "sam.json").read_text())
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/deployment.zip"
    sam["Parameters"]["PowertoolsLayerArn"]["Default"] = LAYER_PARAMETER
    transformed = sam_transform(sam)
    template, removed = without(transformed, CANNOT_CREATE)
    with mock_aws():
        _prepare(zip_path)
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(template),
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                         Parameters=[
                             {"ParameterKey": "OrganizationId", "ParameterValue": "o-abcdefghij"},
                             {"ParameterKey": "AlarmTopicArn",
                              "ParameterValue": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"}])
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                    for r in cfn.list_stack_resources(StackName=STACK)[
                        "StackResourceSummaries"] if r.get("PhysicalResourceId")}
        yield Deployed(template=template, removed=removed, transformed=transformed,
                       status=status, physical=physical,
                       ctx=_context_of(template, physical))


def _prepare(zip_path: Path) -> None:
    """What exists before the stack: the packaged code, the layer parameter, and the
    member stack's data key (the security account is a member too)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    s3.upload_file(str(zip_path), ARTIFACTS, "deployment.zip")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=LAYER_PARAMETER, Type="String", Value=LAYER)
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="member data key")["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key)
    kms.create_alias(AliasName="alias/phi-data", TargetKeyId=key)


def _context_of(template: dict[str, Any], physical: dict[str, str]) -> Context:
    """Our settings as a deployed function reads them (its environment, resolved)."""
    env = next(r["Properties"]["Environment"]["Variables"]
               for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    settings = Settings(table=physical["StateTable"], kms_key=env["REMEDIATION_KMS_KEY"]
                        if isinstance(env["REMEDIATION_KMS_KEY"], str) else "alias/phi-data",
                        account_id=ACCOUNT, role_name=env["REMEDIATION_ROLE_NAME"])
    return Context(settings=settings, aws=Aws(role_name=settings.role_name,
                                              account_id=ACCOUNT))


def _ours(deployed: Deployed) -> dict[str, str]:
    """Our own watched resources as the snapshot names them -> their logical id."""
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    out = {f"{arn}{name}": k for k, name in deployed.physical.items()
           if deployed.template["Resources"][k]["Type"] == "AWS::Logs::LogGroup"}
    key = deployed.physical["EventKey"]
    out[f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"] = "EventKey"
    return out


def test_the_stack_deploys_except_what_moto_cannot_create(deployed: Deployed) -> None:
    resources = deployed.template["Resources"]
    types = {r["Type"] for r in resources.values()}
    created = {r["Type"] for k, r in resources.items() if k in deployed.physical}
    assert deployed.status == "CREATE_COMPLETE"
    assert types - created == NOT_LISTED  # docs/architecture.md names exactly these
    removed_types = {deployed.transformed["Resources"][k]["Type"] for k in deployed.removed}
    assert removed_types == {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Deployment",
                             "AWS::ApiGateway::Stage", "AWS::Lambda::Permission"}
    essential = {"StateTable", "EventKey", "EventKeyAlias", "DeadLetterQueue", "CentralBus"}
    assert essential <= set(deployed.physical)
    assert len(deployed.of_type("AWS::Lambda::Function")) == 10  # + the evidence digest
    assert len(deployed.of_type("AWS::Logs::LogGroup")) == 11


def test_our_key_and_log_groups_pass_our_own_snapshot(deployed: Deployed) -> None:
    from chalicelib.snapshot import take

    ours = _ours(deployed)
    rows = [r for r in take(deployed.ctx, accounts=[ACCOUNT], regions=[REGION])
            if r["resource"] in ours]
    judged = {(r["remediation"], ours[r["resource"]]) for r in rows}
    groups = [k for k in ours.values() if k != "EventKey"]
    assert judged == {("kms_enable_rotation", "EventKey"),
                      *{(rem, g) for g in groups
                        for rem in ("logs_retention", "logs_kms_encryption")}}
    failing = [(r["remediation"], r["resource"], r["state"], r["note"]) for r in rows
               if r["compliant"] is not True]
    assert not failing


@pytest.mark.parametrize(("policy", "rtype", "logical_type"), [
    ("sqs-kms", "AWS::SQS::Queue", "AWS::SQS::Queue"),
    ("lambda-env-kms", "AWS::Lambda::Function", "AWS::Lambda::Function"),
])
def test_our_queue_and_functions_pass_the_fixes_that_watch_them(
        deployed: Deployed, policy: str, rtype: str, logical_type: str) -> None:
    """The snapshot lists no queues or functions; each of ours is judged as the snapshot
    judges a resource (`snapshot._item`: the watching remediation's plan is a no-op)."""
    from chalicelib.finding import make_resource
    from chalicelib.snapshot import _item

    (watching,) = [p for p in deployed.ctx.policies if p.name == policy]
    names = deployed.of_type(logical_type)
    assert names
    for name in names:
        resource = make_resource(rtype, name, ACCOUNT, REGION)
        assert resource is not None
        row = _item(deployed.ctx, watching, resource, ACCOUNT, REGION)
        assert row["compliant"] is True, (name, row["state"], row["note"])


def test_the_state_table_is_as_declared(deployed: Deployed) -> None:
    db = boto3.client("dynamodb", region_name=REGION)
    table = db.describe_table(TableName=deployed.physical["StateTable"])["Table"]
    key = boto3.client("kms", region_name=REGION).describe_key(
        KeyId=deployed.physical["EventKey"])["KeyMetadata"]["Arn"]
    assert table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key
    assert table["DeletionProtectionEnabled"] is True
    backups = db.describe_continuous_backups(TableName=deployed.physical["StateTable"])
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_evidence_store_is_as_declared(deployed: Deployed) -> None:
    """The signed digests' bucket is versioned, locked in COMPLIANCE mode for six years by
    default, encrypted with our key, logged, private; the signing key is asymmetric. moto
    has no model for bucket policies (NOT_LISTED): the deny-delete and TLS-only statements
    are checked in the template by tests/test_packaging.py, and Object Lock's refusal to
    delete a locked version is shown here on what moto created."""
    s3 = boto3.client("s3", region_name=REGION)
    kms = boto3.client("kms", region_name=REGION)
    bucket, logs = deployed.physical["EvidenceBucket"], deployed.physical["EvidenceAccessLogs"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]  # moto adds "Years": 0 (AWS gives one unit)
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 2192)
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"]
    event_key = kms.describe_key(KeyId=deployed.physical["EventKey"])["KeyMetadata"]["Arn"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": event_key}
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
        "TargetBucket": logs, "TargetPrefix": "evidence/"}
    for name in (bucket, logs):
        assert all(s3.get_public_access_block(Bucket=name)[
            "PublicAccessBlockConfiguration"].values())
    signing = kms.describe_key(KeyId=deployed.physical["SigningKey"])["KeyMetadata"]
    assert (signing["KeySpec"], signing["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    version = s3.put_object(Bucket=bucket, Key="digests/x.json", Body=b"{}")["VersionId"]
    with pytest.raises(s3.exceptions.ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key="digests/x.json", VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    digest = next(r for r in deployed.template["Resources"].values()
                  if r["Type"] == "AWS::Lambda::Function"
                  and "REMEDIATION_EVIDENCE_BUCKET" in r["Properties"]["Environment"]["Variables"])
    variables = digest["Properties"]["Environment"]["Variables"]
    assert variables["REMEDIATION_EVIDENCE_BUCKET"] == {"Ref": "EvidenceBucket"}
    assert variables["REMEDIATION_SIGNING_KEY"] == {"Fn::GetAtt": ["SigningKey", "Arn"]}
