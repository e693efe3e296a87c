"""checkov, the field's IaC scanner, on every template we ship: the central template (as
`remediate package` writes it), the member stack and the member role. No check may fail;
a check may only be skipped in the template itself (`Metadata: checkov: skip:`), each
skip with its reason.

checkov pins an old boto3, so it lives in a venv of its own (`.venv-scan`, from
pyproject's `scan` extra); `./run test` makes it and sets CHECKOV to its executable.
Without CHECKOV the test is skipped, except in CI (env CI set), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.iam import MEMBER_ROLE_FILE
from chalicelib.member import MEMBER_STACK_FILE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkov() -> str:
    path = os.environ.get("CHECKOV")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CHECKOV is not set in CI: ./run test makes .venv-scan and sets it")
        pytest.skip("CHECKOV is not set (./run test sets it: checkov in .venv-scan)")
    if not Path(path).is_file():
        pytest.fail(f"CHECKOV={path} does not exist")
    return path


@pytest.fixture(scope="module")
def central(prod_artifact: Path) -> Path:
    return prod_artifact.with_name("sam.json")


def _template(name: str, central: Path) -> Path:
    return central if name == "central" else ROOT / name


def _skips(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every (resource, check id, reason) the template skips."""
    return [(name, entry.get("id", ""), str(entry.get("comment", "")).strip())
            for name, resource in template["Resources"].items()
            for entry in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]


def scan(checkov: str, template: Path) -> tuple[dict[str, Any], float]:
    """checkov's JSON report on one template, and how long it took (seconds)."""
    started = time.monotonic()
    # --skip-download: no call to Prisma Cloud for guidelines (offline, and faster)
    proc = subprocess.run([checkov, "-f", str(template), "-o", "json", "--framework",
                           "cloudformation", "--skip-download", "--compact"],
                          capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert proc.stdout.strip(), f"checkov wrote nothing (exit {proc.returncode}):\n{proc.stderr}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    (only,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    return dict(only), elapsed


@pytest.mark.parametrize("name", [
    "central",
    MEMBER_STACK_FILE,
    MEMBER_ROLE_FILE,
])
def test_checkov_passes_with_only_reasoned_skips(name: str, checkov: str, central: Path,
                                                  record_property: Any) -> None:
    path = _template(name, central)
    template = json.loads(path.read_text())
    report, elapsed = scan(checkov, path)
    record_property("checkov_seconds", round(elapsed, 1))
    summary = report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] > 0, summary
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}"
              for c in report["results"]["failed_checks"]]
    assert not failed, "checkov failed (fix it, or skip it in the template with the "\
        "reason):\n" + "\n".join(failed)
    # every skip is one the template wrote, with its reason
    skipped = report["results"]["skipped_checks"]
    assert all(str(c["check_result"].get("suppress_comment", "")).strip() for c in skipped)
    written = _skips(template)
    assert all(reason for _, _, reason in written), written
    assert {(c["resource"].split(".", 1)[1], c["check_id"]) for c in skipped} <= {
        (resource, check) for resource, check, _ in written}
