"""Build the Lambda artifact: `remediate package --stage prod --out dist/prod`.

Chalice ships only `app.py`, `chalicelib/` and `vendor/` (whose contents land at the zip
root). So the build copies the project into a clean staging directory, puts
`remediations/` and `policies/` under `vendor/` there (they land at the zip root, where
`chalicelib.config.default_policy_dir()` finds them), leaves out caches, and runs
`chalice package`. boto3/botocore are not bundled: the Lambda runtime provides them
(requirements.txt says why).

Raises:
    PackagingError: chalice package failed; its output is in the message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
    return out / "deployment.zip"
