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
from chalicelib.packaging import build

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py",
                    "jmespath")
# what the Powertools layer provides (it installs aws-lambda-powertools[all])
LAYER_PROVIDED = ("aws_lambda_powertools", "pydantic", "pydantic_core", "typing_extensions.py",
                  "annotated_types", "typing_inspection")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(stage="prod", out=tmp_path_factory.mktemp("dist") / "prod")


@pytest.fixture(scope="module")
def names(artifact: Path) -> set[str]:
    with zipfile.ZipFile(artifact) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def template(artifact: Path) -> dict[str, Any]:
    return dict(json.loads(artifact.with_name("sam.json").read_text()))


def test_every_remediation_and_policy_is_inside(names: set[str]) -> None:
    for path in ROOT.glob("remediations/*.py"):
        assert f"remediations/{path.name}" in names
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
    roles = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    functions = [r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) >= 9 and len(roles) == len(functions)
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
                   "result": handle_event(json.loads({json.dumps(event)!r}))}}))
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


def test_template_passes_cfn_lint(artifact: Path) -> None:
    proc = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")),
                           str(artifact.with_name("sam.json"))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_one_rule_per_source_with_the_rendered_patterns(template: dict[str, Any]) -> None:
    patterns = json.loads((ROOT / "chalicelib/event_patterns.json").read_text())
    functions = {
        "GuarddutyFindings": "guardduty", "ConfigCompliance": "config",
        "CloudwatchAlarms": "cloudwatch",
        "CloudtrailCalls": "cloudtrail"}
    for resource, source in functions.items():
        (event,) = template["Resources"][resource]["Properties"]["Events"].values()
        assert event["Type"] == "CloudWatchEvent"
        assert event["Properties"]["Pattern"] == patterns[source]
    assert patterns["config"]["detail"]["newEvaluationResult"]["complianceType"] == [
        "NON_COMPLIANT"]


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
