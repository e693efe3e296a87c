"""Walk the registry and the tables: every remediation is complete, every mapping holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib import aws, errors
from chalicelib.config import default_policy_dir
from chalicelib.iam import PLATFORM_ACTIONS, lambda_policy, remediation_actions, render_stage
from chalicelib.patterns import RENDERED, render
from chalicelib.policy import load_policies
from remediations import load

ROOT = Path(__file__).resolve().parents[1]
NAMES = sorted(load())
# The actions our code may declare: AWS's own names for the services we use. A typo here
# or in a remediation fails the test instead of failing in production with AccessDenied.
KNOWN_ACTIONS = {
    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketTagging",
    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:GetBucketPolicy",
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketAcl", "s3:PutBucketAcl",
    "s3:ListBucket", "kms:DescribeKey",
    "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
    "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
    "iam:ListPolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
    "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:GetGroupPolicy",
    "iam:PutGroupPolicy", "iam:DeleteGroupPolicy", "iam:ListAttachedRolePolicies",
    "iam:DetachRolePolicy", "iam:AttachRolePolicy", "iam:ListAttachedUserPolicies",
    "iam:DetachUserPolicy", "iam:AttachUserPolicy", "iam:ListAttachedGroupPolicies",
    "iam:DetachGroupPolicy", "iam:AttachGroupPolicy", "iam:ListPolicyTags",
    "iam:ListRoleTags", "iam:ListUserTags", "iam:ListRolePolicies", "iam:ListUserPolicies",
    "iam:ListGroupPolicies",
    "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:StartLogging",
    "cloudtrail:StopLogging", "cloudtrail:UpdateTrail", "cloudtrail:ListTags",
    "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
    "kms:ListResourceTags", "kms:CancelKeyDeletion", "kms:EnableKey", "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
    "sqs:ListQueueTags", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
    "sns:ListTagsForResource",
    "logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
    "logs:ListTagsForResource", "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
    "config:DescribeConfigurationRecorderStatus", "config:StartConfigurationRecorder",
    "config:StopConfigurationRecorder", "guardduty:ListDetectors", "guardduty:GetDetector",
    "guardduty:CreateDetector", "guardduty:UpdateDetector",
    "ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault",
    "ec2:DisableEbsEncryptionByDefault",
    "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration",
    "lambda:ListTags",
    "ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
    "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupEgress",
    "ec2:DescribeSnapshots", "ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute",
    "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBSnapshotAttributes", "rds:DescribeDBClusterSnapshotAttributes",
    "rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute",
    "rds:ListTagsForResource", "rds:DescribeDBInstances", "rds:ModifyDBInstance",
    "ec2:DescribeVpcs", "ec2:DescribeFlowLogs", "ec2:CreateFlowLogs", "ec2:DeleteFlowLogs",
    "s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock",
    "iam:ListAccessKeys", "iam:UpdateAccessKey",
    # IAM hygiene (HIPAA pack)
    "iam:GetAccountPasswordPolicy", "iam:UpdateAccountPasswordPolicy",
    "iam:DeleteAccountPasswordPolicy",
    "iam:ListUsers", "iam:ListRoles", "iam:ListGroups",
    "iam:GetAccessKeyLastUsed",
    "iam:GetRole", "iam:CreatePolicy", "iam:DeletePolicy",
    "iam:GetUser", "iam:GetLoginProfile", "iam:DeleteLoginProfile",
    "iam:CreateLoginProfile",
    "s3:ListAllMyBuckets", "kms:ListKeys", "securityhub:BatchUpdateFindings",
    *PLATFORM_ACTIONS,
}


@pytest.mark.parametrize("name", NAMES)
def test_every_remediation_is_complete(name: str) -> None:
    cls = load()[name]
    assert cls.name == name and cls.summary and cls.resource_types
    assert cls.__doc__ and (cls.record_only or cls.permissions)
    assert (ROOT / "runbooks" / f"{name}.md").is_file(), f"runbooks/{name}.md missing"
    service = cls.__module__.split(".")[1]  # remediations.<service>.<name>
    assert cls.__module__ == f"remediations.{service}.{name}"
    tests = ROOT / "tests" / "remediations" / service / f"test_{name}.py"
    assert tests.is_file() or cls.record_only, f"{tests} missing"
    assert any(p.remediation == name for p in load_policies(default_policy_dir()))


@pytest.mark.parametrize("name", NAMES)
def test_declared_actions_are_real_and_never_wildcards(name: str) -> None:
    for action in load()[name].permissions:
        assert "*" not in action
        assert action in KNOWN_ACTIONS, f"{name} declares unknown IAM action {action}"


@pytest.mark.parametrize("code", sorted(aws.ERROR_MAP))
def test_every_mapped_error_code_becomes_its_class(code: str) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(aws.ERROR_MAP[code]) as info, aws.translate("doing a thing"):
        raise ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")
    assert isinstance(info.value, errors.AutoremediateError)
    assert aws.error_code(info.value) == code
    assert str(info.value).startswith(f"doing a thing: {code}")


def test_unmapped_error_codes_are_remediation_errors() -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(errors.RemediationError, match="Throttling"), aws.translate("x"):
        raise ClientError({"Error": {"Code": "Throttling", "Message": ""}}, "Op")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_committed_iam_policy_is_fresh_and_has_no_wildcard_action(stage: str) -> None:
    committed = (ROOT / ".chalice" / f"policy-{stage}.json").read_text()
    assert committed == render_stage(stage), (
        f"stale: run python -m chalicelib.iam {stage}")
    for statement in json.loads(committed)["Statement"]:
        for action in statement["Action"]:
            assert "*" not in action


def test_lambda_policy_grants_every_declared_action() -> None:
    granted = {a for s in lambda_policy(table="t")["Statement"] for a in s["Action"]}
    for actions in remediation_actions().values():
        assert set(actions) <= granted


def test_event_patterns_are_fresh() -> None:
    assert RENDERED.read_text() == render(), "stale: python -m chalicelib.patterns > ..."


def test_the_validated_policies_are_fresh_and_load_as_the_yaml_does(tmp_path: Path) -> None:
    from chalicelib.config import default_policy_dir
    from chalicelib.policy import VALIDATED, load_policies, render_validated

    shipped = default_policy_dir()
    assert VALIDATED.read_text() == render_validated(shipped), (
        "stale: python -m chalicelib.policy > chalicelib/policies.json")
    fast, slow = load_policies(shipped), load_policies(shipped, validated=False)
    assert [(p.model_dump(), p.file, p.line) for p in fast] == [
        (p.model_dump(), p.file, p.line) for p in slow]
    # a changed policy directory is read from its YAML, never from the stale copy
    for path in shipped.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text().replace(
            "name: s3-block-public-access", "name: s3-block-public-access-changed"))
    names = {p.name for p in load_policies(tmp_path)}
    assert "s3-block-public-access-changed" in names


def test_every_cloudtrail_kind_in_policies_is_in_the_rule() -> None:
    names = set(json.loads(RENDERED.read_text())["cloudtrail"]["detail"]["eventName"])
    for policy in load_policies(default_policy_dir()):
        for trigger in policy.trigger:
            if trigger.source.value == "cloudtrail":
                assert set(trigger.kinds) <= names


@pytest.mark.parametrize("name", NAMES)
def test_runbook_generated_part_is_fresh(name: str) -> None:
    from chalicelib.runbooks import rendered

    path = ROOT / "runbooks" / f"{name}.md"
    assert path.read_text() == rendered(name), "stale: python -m chalicelib.runbooks"


@pytest.mark.parametrize("name", NAMES)
def test_params_are_typed_once_and_settings_they_take_exist(name: str) -> None:
    """Each remediation's parameters are one pydantic model (defaults declared once); the
    operator settings that fill its unset fields are real Settings attributes."""
    import dataclasses

    from chalicelib.config import Settings
    from remediations.base import NoParams

    cls = load()[name]
    assert issubclass(cls.Params, NoParams)
    settings = {f.name for f in dataclasses.fields(Settings)}
    for fld, attr in cls.Params.SETTINGS.items():
        assert fld in cls.Params.model_fields and attr in settings, (fld, attr)
    cls.Params()  # every field has a default: a policy may leave them all unset


def test_the_remediation_index_is_fresh() -> None:
    """`remediations/index.json` (what `get`/`info` read at run time) is rendered from the
    modules: `python -m remediations` after adding or changing one."""
    from remediations import INDEX, render_index

    assert json.loads(INDEX.read_text()) == render_index(), "run: python -m remediations"


def test_an_event_imports_only_the_remediation_it_needs() -> None:
    """In a fresh interpreter, handling an S3 finding imports its remediations' modules and
    no other remediation module."""
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from moto import mock_aws\n"
        "from tests.conftest import make_context\n"
        "from tests.helpers import load_event\n"
        "with mock_aws():\n"
        "    import boto3\n"
        "    boto3.client('s3', region_name='us-east-1').create_bucket(Bucket='phi-bucket')\n"
        "    from chalicelib.pipeline import handle\n"
        "    ctx, _ = make_context(kms_key='alias/none')\n"
        "    handle(load_event('cloudtrail_put_public_access_block'), ctx)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.count('.') == 2\n"
        "                        and m.startswith('remediations.'))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert imported and all(m.startswith("remediations.s3.") for m in imported), imported
    assert len(imported) < len(load()) / 4, imported
