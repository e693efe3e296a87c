"""The deployable artifact: complete, importable on its own, template lint-clean."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.iam import (
    INVENTORY_ACTIONS,
    MEMBER_ROLE_FILE,
    WRITEBACK_ACTIONS,
    member_role_template,
    remediation_actions,
    render_member_role,
)

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py",
                    "jmespath")
# what the Powertools layer provides (it installs aws-lambda-powertools[all])
LAYER_PROVIDED = ("aws_lambda_powertools", "pydantic", "pydantic_core", "typing_extensions.py",
                  "annotated_types", "typing_inspection")


@pytest.fixture(scope="module")
def artifact(prod_artifact: Path) -> Path:
    return prod_artifact


@pytest.fixture(scope="module")
def names(artifact: Path) -> set[str]:
    with zipfile.ZipFile(artifact) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def template(artifact: Path) -> dict[str, Any]:
    return dict(json.loads(artifact.with_name("sam.json").read_text()))


def test_every_remediation_and_policy_is_inside(names: set[str]) -> None:
    for path in [*ROOT.glob("remediations/**/*.py"), ROOT / "remediations" / "index.json"]:
        assert path.relative_to(ROOT).as_posix() in names
    for path in ROOT.glob("policies/*.yaml"):
        assert f"policies/{path.name}" in names
    assert {"app.py", "chalicelib/pipeline.py", "chalicelib/event_patterns.json"} <= names


def test_bytecode_for_the_runtime_only_and_no_bundled_boto3_or_layer_packages(
        names: set[str], template: dict[str, Any]) -> None:
    # /var/task is read-only: every module comes with its bytecode, for the runtime's Python
    (runtime,) = {r["Properties"]["Runtime"] for r in template["Resources"].values()
                  if r["Type"] == "AWS::Serverless::Function"}
    tag = "cpython-" + runtime.removeprefix("python").replace(".", "")
    modules = {n for n in names if n.endswith(".py")}
    cached = {n for n in names if n.endswith(".pyc")}
    assert {n for n in cached if "/__pycache__/" not in f"/{n}" or f".{tag}." not in n} == set()
    for module in ("app.py", "chalicelib/pipeline.py", "remediations/base.py",
                   "chalice/app.py"):
        assert module in modules
        folder, _, name = module.rpartition("/")
        assert f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc" in cached
    provided = {"boto3", "botocore", "moto", "yaml", "_yaml", *LAYER_PROVIDED}
    assert not [n for n in names if n.split("/")[0] in provided]


def test_every_function_gets_the_layer_our_account_and_all_our_roles(
        template: dict[str, Any]) -> None:
    from importlib.metadata import version

    parameter = template["Parameters"]["PowertoolsLayerArn"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == ("/aws/service/powertools/python/x86_64/python3."
                                    f"{sys.version_info.minor}/"
                                    f"{version('aws-lambda-powertools')}")
    functions = [r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::Serverless::Function"]
    roles = {f["Role"]["Fn::GetAtt"][0] for f in functions}
    assert len(functions) >= 9 and len(roles) == len(functions)
    # the only other role is API Gateway's, for its logs: not one of ours that acts
    others = {k for k, r in template["Resources"].items()
              if r["Type"] == "AWS::IAM::Role"} - roles
    assert others == {"ApiGatewayLogsRole"}
    for props in functions:
        assert props["Layers"] == [{"Ref": "PowertoolsLayerArn"}]
        env = props["Environment"]["Variables"]
        assert env["REMEDIATION_ACCOUNT_ID"] == {"Ref": "AWS::AccountId"}
        joined = env["REMEDIATION_OWN_ROLES"]["Fn::Join"]
        assert joined[0] == "," and {r["Fn::GetAtt"][0] for r in joined[1]} == roles


def test_handler_imports_and_runs_from_the_unzipped_artifact(artifact: Path,
                                                             tmp_path: Path) -> None:
    unzipped = tmp_path / "task"
    with zipfile.ZipFile(artifact) as zf:
        zf.extractall(unzipped)
    # what Lambda provides besides the zip: the runtime's boto3 and the Powertools layer
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    import boto3

    site = Path(boto3.__file__).parents[1]
    for name in (*RUNTIME_PROVIDED, *LAYER_PROVIDED):
        if (site / name).exists():
            (runtime / name).symlink_to(site / name)
    event = json.loads((ROOT / "tests/events/config_compliant.json").read_text())
    code = f"""
import json, sys
sys.path[:0] = [{str(unzipped)!r}, {str(runtime)!r}]
import app
from remediations import load
from chalicelib.config import default_policy_dir
from chalicelib.policy import load_policies
from chalicelib.entry import handle_event
assert str(default_policy_dir()).startswith({str(unzipped)!r}), default_policy_dir()
print(json.dumps({{"remediations": sorted(load()),
                   "policies": len(load_policies(default_policy_dir())),
                   "result": handle_event(json.loads({json.dumps(event)!r})),
                   "imported": sorted(m for m in ("slack_sdk", "yaml") if m in sys.modules)}}))
"""
    # -S: no site-packages at all, only the stdlib, the zip, the layer and the runtime's boto3
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["remediations"] == sorted(remediation_actions())
    from chalicelib.policy import load_policies

    assert out["policies"] == len(load_policies(ROOT / "policies"))
    assert out["result"]["outcome"] == "ignored"
    assert out["imported"] == []  # a cold start without Slack work loads neither


def test_template_passes_cfn_lint(artifact: Path) -> None:
    proc = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")),
                           str(artifact.with_name("sam.json"))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_one_rule_per_source_on_each_bus_with_the_rendered_patterns(
        template: dict[str, Any]) -> None:
    patterns = json.loads((ROOT / "chalicelib/event_patterns.json").read_text())
    functions = {
        "GuarddutyFindings": "guardduty", "ConfigCompliance": "config",
        "CloudwatchAlarms": "cloudwatch", "CloudtrailCalls": "cloudtrail",
        "SecurityhubFindings": "securityhub"}
    dlq = {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    for resource, source in functions.items():
        props = template["Resources"][resource]["Properties"]
        default, central = props["Events"].values()  # the default bus, then the org bus
        assert default["Type"] == "CloudWatchEvent" and "EventBusName" not in default[
            "Properties"]
        assert central["Properties"]["EventBusName"] == {"Ref": "CentralBus"}
        for event in (default, central):
            assert event["Properties"]["Pattern"] == patterns[source]
            assert event["Properties"]["DeadLetterConfig"] == dlq
            assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
        # the function's own retries end in the same queue, which its role may write to
        # before the destination is configured
        assert "DeadLetterWrite" in template["Resources"][resource]["DependsOn"]
        invoke = props["EventInvokeConfig"]
        assert invoke["DestinationConfig"]["OnFailure"] == {"Type": "SQS",
                                                            "Destination": dlq["Arn"]}
    assert patterns["config"]["detail"]["newEvaluationResult"]["complianceType"] == [
        "NON_COMPLIANT"]


def test_the_central_bus_takes_events_from_the_organization_only(
        template: dict[str, Any]) -> None:
    res = template["Resources"]
    statement = res["CentralBusPolicy"]["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {
        "Ref": "OrganizationId"}}}
    assert template["Parameters"]["OrganizationId"]["AllowedPattern"].startswith("^o-")


def test_nothing_is_lost_unseen_and_logs_are_kept_six_years_encrypted(
        template: dict[str, Any]) -> None:
    res = template["Resources"]
    key = {"Ref": "EventKey"}
    assert res["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"] == key
    assert res["EventKey"]["Properties"]["EnableKeyRotation"] is True
    alarms = {k: r["Properties"] for k, r in res.items()
              if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms["DeadLetterDepth"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    for name in ("CloudtrailCalls", "ConfigCompliance", "GuarddutyFindings"):
        assert alarms[f"{name}Errors"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": name}}]
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopicArn"}] for a in alarms.values())
    functions = [k for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        logs = res[f"{name}Logs"]["Properties"]
        assert res[name]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}Logs"}}
        assert logs["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{name}"}
        assert logs["RetentionInDays"] >= 6 * 365
        assert logs["KmsKeyId"] == {"Fn::GetAtt": ["EventKey", "Arn"]}
    body = json.loads(res["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    titles = " ".join(w["properties"]["title"] for w in body["widgets"])
    assert "outcome" in titles and "fix" in titles and "pending" in titles.lower()


def test_our_own_resources_pass_our_own_rules(template: dict[str, Any]) -> None:
    """The state table in the stack (our key, PITR, deletion protection, kept), every
    function's environment on our key, the API's access log six years on our key."""
    from chalicelib.store.table import KEY_SCHEMA, TTL_ATTRIBUTE

    res = template["Resources"]
    key_arn = {"Fn::GetAtt": ["EventKey", "Arn"]}
    table = res["StateTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = table["Properties"]
    assert props["TableName"] == "autoremediate"  # the prod stage's: its policy grants it
    assert props["KeySchema"] == KEY_SCHEMA
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                         "KMSMasterKeyId": {"Ref": "EventKey"}}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE,
                                                "Enabled": True}
    functions = {k: r for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    for name, function in functions.items():
        fprops = function["Properties"]
        assert fprops["KmsKeyArn"] == key_arn, name
        env = fprops["Environment"]["Variables"]
        assert env["REMEDIATION_TABLE"] == {"Ref": "StateTable"}, name
        assert env["REMEDIATION_KMS_KEY"] == {"Ref": "DataKeyAlias"}, name
        assert "StateTableKey" in function["DependsOn"]
        assert res[f"{name}Errors"]["Properties"]["Dimensions"][0]["Value"] == {"Ref": name}
    # the roles may use the table's key through DynamoDB only
    (use,) = res["StateTableKey"]["Properties"]["PolicyDocument"]["Statement"]
    assert use["Resource"] == key_arn and "kms:ViaService" in use["Condition"]["StringEquals"]
    assert {r["Ref"] for r in res["StateTableKey"]["Properties"]["Roles"]} == {
        f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    api = res["RestAPI"]["Properties"]
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    assert "ApiGatewayAccount" in res["RestAPI"]["DependsOn"]
    logs = [r for r in res.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(logs) == len(functions) + 1
    for group in logs:
        assert group["Properties"]["RetentionInDays"] >= 2192
        assert group["Properties"]["KmsKeyId"] == key_arn
        assert group["DeletionPolicy"] == "Retain"
    # CloudWatch Logs gets what it uses, for our groups only; DescribeKey carries no
    # encryption context, so a grant of it under this condition could never apply
    (grant,) = [s for s in res["EventKey"]["Properties"]["KeyPolicy"]["Statement"]
                if s["Sid"] == "LogsEncryptOurLogGroups"]
    assert "kms:DescribeKey" not in grant["Action"]
    patterns = grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert all("${AWS::StackName}-*" in p["Fn::Sub"] for p in patterns)


def _statements(node: Any) -> list[dict[str, Any]]:
    """Every IAM-style statement anywhere in a template (roles, policies, key and
    queue and bus policies)."""
    found = []
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            found.append(node)
        for value in node.values():
            found += _statements(value)
    elif isinstance(node, list):
        for value in node:
            found += _statements(value)
    return found


def test_no_statement_in_any_template_allows_a_wildcard_action(
        template: dict[str, Any]) -> None:
    """Least privilege: every Allow names its actions. A Deny may say `s3:*` (plain HTTP to
    the evidence bucket is refused for every action): widening a deny only takes away."""
    from chalicelib.member import member_template

    for tpl in (template, member_template(), json.loads((ROOT / MEMBER_ROLE_FILE).read_text())):
        statements = _statements(tpl)
        assert statements
        for statement in statements:
            if statement["Effect"] == "Deny":
                continue
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert "*" not in action, statement


def test_route_knows_the_worker_and_roles_use_the_rendered_policy(
        template: dict[str, Any]) -> None:
    api = template["Resources"]["APIHandler"]["Properties"]
    assert api["Environment"]["Variables"]["REMEDIATION_WORKER"] == {"Ref": "ApprovalWorker"}
    committed = json.loads((ROOT / ".chalice/policy-prod.json").read_text())
    role = template["Resources"]["CloudtrailCallsRole"]["Properties"]
    (policy,) = role["Policies"]
    assert policy["PolicyDocument"] == committed


def test_member_role_is_fresh_lint_clean_and_least_privilege() -> None:
    assert (ROOT / MEMBER_ROLE_FILE).read_text() == render_member_role(), (
        "stale: python -m chalicelib.iam")
    statements = member_role_template()["Resources"]["MemberRole"]["Properties"][
        "Policies"][0]["PolicyDocument"]["Statement"]
    granted = {a for s in statements for a in s["Action"]}
    assert granted == {a for acts in remediation_actions().values() for a in acts} | set(
        INVENTORY_ACTIONS) | set(WRITEBACK_ACTIONS)
    assert not [a for a in granted if "*" in a]
    proc = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")),
                           str(ROOT / MEMBER_ROLE_FILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_member_stack_is_fresh_lint_clean_and_forwards_exactly_the_central_patterns(
        template: dict[str, Any], tmp_path: Path) -> None:
    from chalicelib.member import MEMBER_STACK_FILE, member_template, render_member_stack

    assert (ROOT / MEMBER_STACK_FILE).read_text() == render_member_stack(), (
        "stale: python -m chalicelib.iam")
    member = member_template()
    res = member["Resources"]
    rules = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Events::Rule"]
    forwarded = sorted(json.dumps(r["EventPattern"], sort_keys=True) for r in rules)
    central = sorted(json.dumps(e["Properties"]["Pattern"], sort_keys=True)
                     for r in template["Resources"].values()
                     if r["Type"] == "AWS::Serverless::Function"
                     for e in r["Properties"].get("Events", {}).values()
                     if e["Properties"].get("EventBusName") == {"Ref": "CentralBus"})
    assert forwarded == central and len(forwarded) == 5
    for rule in rules:
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": "CentralBusArn"}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and target["DeadLetterConfig"]
    # the forwarding role may only put events on the central bus
    (policy,) = res["ForwardRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": {"Ref": "CentralBusArn"}}]
    # IAM is global: the fixed-name member role is made in one region of each account
    assert res["MemberRole"]["Condition"] == "IsPrimaryRegion"
    # trusted by exactly the central roles when given, else by the name pattern
    trust = res["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    exact, pattern = trust["Condition"]["Fn::If"][1:]
    assert exact == {"ArnEquals": {"aws:PrincipalArn": {"Ref": "TrustedRoleArns"}}}
    assert "aws:PrincipalArn" in pattern["ArnLike"]
    roles = template["Outputs"]["FunctionRoleArns"]["Value"]["Fn::Join"][1]
    assert {r["Fn::GetAtt"][0] for r in roles} == {
        r["Properties"]["Role"]["Fn::GetAtt"][0] for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"}
    proc = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")),
                           str(ROOT / MEMBER_STACK_FILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    # and the CLI writes it for a StackSet
    from chalicelib.cli import main

    assert main(["package", "--member", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "member.json").read_text()) == member


def test_the_evidence_bucket_refuses_deletes_and_plain_http(template: dict[str, Any]) -> None:
    """The bucket policy moto cannot create (tests/test_own_stack.py shows the rest of the
    evidence store deployed): every delete and a lock change denied to every principal,
    every action over plain HTTP denied, on the bucket and its objects."""
    res = template["Resources"]
    statements = {s["Sid"]: s for s in res["EvidenceBucketPolicy"]["Properties"][
        "PolicyDocument"]["Statement"]}
    targets = [{"Fn::GetAtt": ["EvidenceBucket", "Arn"]}, {"Fn::Sub": "${EvidenceBucket.Arn}/*"}]
    never = statements["EvidenceIsNeverDeleted"]
    assert (never["Effect"], never["Principal"], never["Resource"]) == ("Deny", "*", targets)
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket",
            "s3:PutBucketObjectLockConfiguration"} <= set(never["Action"])
    tls = statements["TlsOnly"]
    assert (tls["Effect"], tls["Action"], tls["Resource"]) == ("Deny", "s3:*", targets)
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert res["EvidenceBucket"]["DeletionPolicy"] == "Retain"
    lock = res["EvidenceBucket"]["Properties"]["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 2192}
