"""Build the Lambda artifact: `remediate package --stage prod --out dist/prod`.

Chalice ships only `app.py`, `chalicelib/` and `vendor/` (whose contents land at the zip
root). So the build copies the project into a clean staging directory, puts
`remediations/` and `policies/` under `vendor/` there (they land at the zip root, where
`chalicelib.config.default_policy_dir()` finds them), renders the validated copy of those
policies (so PyYAML stays out of the artifact), leaves out caches, and runs
`chalice package`. boto3/botocore are not bundled: the Lambda runtime provides them
(requirements.txt says why). Powertools and pydantic are not bundled either: every
function gets the official Powertools layer (which carries pydantic), its ARN resolved
per region from the public SSM parameter Powertools publishes for the version we test
with. The template then tells each function our account and every role our functions
run as, so a cold start needs no STS call and a change made by any of our functions is
recognised as ours by the others.

Raises:
    PackagingError: chalice package failed; its output is in the message.
    PolicyError: a shipped policy is invalid (every problem listed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from chalicelib.errors import AutoremediateError

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class PackagingError(AutoremediateError):
    """Raised when `chalice package` fails."""


def stage_project(into: Path) -> Path:
    """Copy what the artifact needs into `into` (a fresh Chalice project dir)."""
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "app.py", into / "app.py")
    shutil.copy2(ROOT / "requirements.txt", into / "requirements.txt")
    shutil.copytree(ROOT / ".chalice", into / ".chalice", ignore=shutil.ignore_patterns(
        "deployments", "venv", "*.pyc", "__pycache__"), dirs_exist_ok=True)
    shutil.copytree(ROOT / "chalicelib", into / "chalicelib", ignore=IGNORE,
                    dirs_exist_ok=True)
    for package in ("remediations", "policies"):
        shutil.copytree(ROOT / package, into / "vendor" / package, ignore=IGNORE,
                        dirs_exist_ok=True)
    # the validated copy of exactly the policies shipped (an invalid policy fails the
    # build here, with every problem listed): the function never needs PyYAML
    from chalicelib.policy import VALIDATED, render_validated

    (into / "chalicelib" / VALIDATED.name).write_text(render_validated(ROOT / "policies"),
                                                      encoding="utf-8")
    return into


def build(*, stage: str, out: Path) -> Path:
    """Run `chalice package` for `stage` into `out`; returns the deployment zip's path."""
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice)] if chalice.exists() else [sys.executable, "-m", "chalice.cli"]
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="autoremediate-build-") as tmp:
        project = stage_project(Path(tmp) / "project")
        env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION")
               or os.environ.get("AWS_REGION") or "us-east-1"}
        # the merge template names the worker Lambda (CloudFormation generates its name)
        merge = project / ".chalice" / "merge-template.json"
        proc = subprocess.run([*command, "--project-dir", str(project), "package",
                               "--stage", stage, "--merge-template", str(merge), str(out)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise PackagingError(f"chalice package failed ({proc.returncode}):\n"
                                 f"{proc.stdout}{proc.stderr}")
    from chalicelib.stack import add_central

    sam = out / "sam.json"
    template = add_central(finish_template(json.loads(sam.read_text())))
    sam.write_text(json.dumps(template, indent=2) + "\n")
    add_bytecode(out / "deployment.zip", runtime=_runtime(template))
    return out / "deployment.zip"


def _runtime(template: dict[str, Any]) -> str:
    """The one runtime Chalice gave every function (it is the building Python's)."""
    runtimes = {r["Properties"]["Runtime"] for r in template["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"}
    if len(runtimes) != 1:
        raise PackagingError(f"one runtime expected, not {sorted(runtimes)}")
    return str(runtimes.pop())


def role_arns(template: dict[str, Any]) -> dict[str, Any]:
    """Every role of the template, as one comma-joined list of ARNs (intrinsic)."""
    roles = sorted(k for k, r in template["Resources"].items()
                   if r["Type"] == "AWS::IAM::Role")
    return {"Fn::Join": [",", [{"Fn::GetAtt": [role, "Arn"]} for role in roles]]}


# what every cold start imports; slack_sdk (0.6 MiB of bytecode, more than the rest of the
# zip) is imported only to post to Slack, so it compiles then, and keeps the zip small
COMPILED = ("app.py", "chalicelib", "remediations", "chalice")


def add_bytecode(artifact: Path, *, runtime: str) -> None:
    """Compile the modules every cold start imports (COMPILED) for the runtime's Python
    and add the bytecode to the zip.

    Lambda unpacks the zip into a read-only /var/task, so Python can neither find nor
    write a cache there: without this, every cold start compiles each module it imports.
    The caches are unchecked-hash pycs (PEP 552): valid whatever the files' timestamps
    after unpacking, and never re-checked, which is right for an artifact that never
    changes. Chalice picks the runtime from the building Python, so the versions match.
    """
    import compileall
    import py_compile
    import zipfile

    if runtime != f"python{sys.version_info.major}.{sys.version_info.minor}":
        raise PackagingError(f"cannot compile for {runtime} with Python {sys.version}")
    with tempfile.TemporaryDirectory(prefix="autoremediate-pyc-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(artifact) as zf:
            infos = zf.infolist()
            zf.extractall(root)
        mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
        for name in COMPILED:
            path = root / name
            ok = (compileall.compile_file(path, quiet=2, invalidation_mode=mode)
                  if path.is_file() else
                  compileall.compile_dir(path, quiet=2, workers=1, invalidation_mode=mode))
            if not ok:
                raise PackagingError(f"{name} in the artifact does not compile")
        with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED) as zf:
            for info in infos:
                zf.writestr(info, (root / info.filename).read_bytes()
                            if not info.is_dir() else b"")
            for pyc in sorted(root.rglob("__pycache__/*.pyc")):
                zf.write(pyc, pyc.relative_to(root).as_posix())


POWERTOOLS_PARAMETER = "/aws/service/powertools/python/{arch}/{runtime}/{version}"


def finish_template(template: dict[str, Any]) -> dict[str, Any]:
    """Add the Powertools layer, our account and our roles to every function."""
    from importlib.metadata import version

    functions = [r for r in template["Resources"].values()
                 if r["Type"] == "AWS::Serverless::Function"]
    arch = {a for f in functions for a in f["Properties"].get("Architectures", [])}
    if len(arch) > 1:
        raise PackagingError(f"one architecture expected, not {sorted(arch)}")
    template.setdefault("Parameters", {})["PowertoolsLayerArn"] = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": POWERTOOLS_PARAMETER.format(
            arch=(arch or {"x86_64"}).pop(), runtime=_runtime(template),
            version=version("aws-lambda-powertools")),
        "Description": "Powertools for AWS Lambda (Python) layer: the public SSM parameter "
                       "that holds its ARN in this region (docs/deploy.md)"}
    for function in functions:
        props = function["Properties"]
        props["Layers"] = [{"Ref": "PowertoolsLayerArn"}]
        props.setdefault("Environment", {}).setdefault("Variables", {}).update({
            "REMEDIATION_ACCOUNT_ID": {"Ref": "AWS::AccountId"},
            "REMEDIATION_OWN_ROLES": role_arns(template)})
    return template
