"""Security Hub findings in each standard's own shape reach the remediation their security
control has, on moto; the rendered EventBridge pattern lets each of them through.

The per-standard fixtures (tests/events/securityhub_<standard>_*.json) follow AWS's sample
control findings with consolidated control findings off. All but the CIS v5.0.0 one lack
`Compliance.SecurityControlId`, as findings do in GovCloud and China and as the
per-standard findings of issue #23 did, so they resolve through the shipped table; AWS's
v5.0.0 sample carries it, and the test drops it once to prove the table alone suffices.

moto's `EventPattern` does not match object patterns against arrays of objects (Security
Hub's `detail.findings[]`, see PLATFORM-NOTES), so `_matches` below evaluates the
EventBridge pattern subset our patterns use: exact values, nested objects, `$or`,
`prefix`, and arrays in the event matching when any element does.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.config import default_policy_dir
from chalicelib.context import Context
from chalicelib.finding import Finding, Ignored, normalize
from chalicelib.outcome import Outcome
from chalicelib.patterns import RENDERED
from chalicelib.pipeline import handle
from chalicelib.policy import load_policies, match
from chalicelib.record import EntryKind
from chalicelib.sources import securityhub_controls as controls
from tests.helpers import ACCOUNT, ALL_ON, EVENTS, REGION, load_event, public_access_block

WEAK = dict.fromkeys(ALL_ON, False)


# -- the AWS state each case breaks and reads back -------------------------------------
def _kms_key(existing: str | None) -> str:
    kms = boto3.client("kms", region_name=REGION)
    if existing is not None:
        kms.disable_key_rotation(KeyId=existing)
        return existing
    return str(kms.create_key(Description="phi")["KeyMetadata"]["Arn"])  # rotation off


def _rotation_on(resource: str | None) -> bool:
    kms = boto3.client("kms", region_name=REGION)
    return bool(kms.get_key_rotation_status(KeyId=resource)["KeyRotationEnabled"])


def _bucket(_: Any) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    if "phi-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="phi-bucket")
    else:
        s3.delete_public_access_block(Bucket="phi-bucket")


def _bucket_blocked(_: str | None) -> bool:
    return public_access_block(boto3.client("s3", region_name=REGION), "phi-bucket") == ALL_ON


def _ebs_default_off(_: Any) -> None:
    boto3.client("ec2", region_name=REGION).disable_ebs_encryption_by_default()


def _ebs_default_on(_: str | None) -> bool:
    ec2 = boto3.client("ec2", region_name=REGION)
    return bool(ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"])


def _account_block_weak(_: Any) -> None:
    boto3.client("s3control", region_name=REGION).put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration=WEAK)


def _account_blocked(_: str | None) -> bool:
    got = boto3.client("s3control", region_name=REGION).get_public_access_block(
        AccountId=ACCOUNT)["PublicAccessBlockConfiguration"]
    return dict(got) == ALL_ON


@dataclass(frozen=True)
class Case:
    fixture: str
    carried: str                 # the id as the standard gives it
    control: str                 # the security control id it resolves to
    remediation: str
    breaks: Callable[[Any], str | None]   # makes the resource non-compliant; its id if new
    fixed: Callable[[str | None], bool]


CASES = [
    Case("securityhub_cis_1_2_0_rule_2_8_failed", "2.8", "KMS.4", "kms_enable_rotation",
         _kms_key, _rotation_on),
    Case("securityhub_cis_1_4_0_2_1_5_2_failed", "2.1.5.2", "S3.8", "s3_block_public_access",
         _bucket, _bucket_blocked),
    Case("securityhub_cis_3_0_0_2_2_1_failed", "2.2.1", "EC2.7", "ebs_default_encryption",
         _ebs_default_off, _ebs_default_on),
    Case("securityhub_cis_5_0_0_5_1_1_failed", "5.1.1", "EC2.7", "ebs_default_encryption",
         _ebs_default_off, _ebs_default_on),
    Case("securityhub_pci_dss_3_2_1_pci_s3_6_failed", "PCI.S3.6", "S3.1",
         "s3_account_block_public_access", _account_block_weak, _account_blocked),
    Case("securityhub_nist_800_53_5_0_0_s3_8_failed", "S3.8", "S3.8", "s3_block_public_access",
         _bucket, _bucket_blocked),
]


def _asff(event: dict[str, Any]) -> dict[str, Any]:
    finding: dict[str, Any] = event["detail"]["findings"][0]
    return finding


def _on(event: dict[str, Any], resource: str | None) -> dict[str, Any]:
    """The event naming `resource` (a key made for the test) instead of the sample's."""
    if resource is not None:
        _asff(event)["Resources"][0]["Id"] = resource
    return event


def _consolidated(event: dict[str, Any], control: str) -> dict[str, Any]:
    """The same finding as Security Hub sends it with consolidated control findings on (the
    shape of the FSBP fixture): one security control id, no per-standard ids."""
    out = copy.deepcopy(event)
    out["id"] = str(uuid.uuid4())  # another event, as Security Hub would send it
    asff = _asff(out)
    asff["GeneratorId"] = f"security-control/{control}"
    asff["Id"] = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:security-control/{control}/finding/1"
    asff["Compliance"]["SecurityControlId"] = control
    for field in ("ControlId", "RuleId", "StandardsArn", "StandardsGuideArn"):
        asff["ProductFields"].pop(field, None)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_a_standards_finding_reaches_the_same_fix_as_the_consolidated_one(
        ctx: Context, case: Case) -> None:
    resource = case.breaks(None)
    event = _on(load_event(case.fixture), resource)
    finding = normalize(event)
    assert isinstance(finding, Finding) and finding.kind == case.control
    assert case.carried in str(finding.generator)  # the standard's own id stays visible
    (own,) = handle(event, ctx)
    assert (own.outcome, own.remediation) == (Outcome.REMEDIATED, case.remediation)
    assert case.fixed(resource)
    detected = [e for e in ctx.store.entries(str(own.incident_id))
                if e.kind is EntryKind.DETECTED]
    assert _asff(detected[0].detail["event"])["GeneratorId"] == _asff(event)["GeneratorId"]

    case.breaks(resource)  # drifts again; the consolidated finding for it does the same
    assert not case.fixed(resource)
    (same,) = handle(_consolidated(event, case.control), ctx)
    assert (same.outcome, same.policy, same.remediation) == (
        Outcome.REMEDIATED, own.policy, own.remediation)
    assert same.incident_id == own.incident_id and case.fixed(resource)


def test_the_v5_finding_resolves_through_the_table_without_its_security_control_id() -> None:
    event = load_event("securityhub_cis_5_0_0_5_1_1_failed")
    del _asff(event)["Compliance"]["SecurityControlId"]
    assert normalize(event).kind == "EC2.7"  # type: ignore[union-attr]


def test_the_cis_v1_2_0_finding_resolves_by_rule_id_alone() -> None:
    event = load_event("securityhub_cis_1_2_0_rule_2_8_failed")
    _asff(event)["GeneratorId"] = "some-other-generator"
    assert normalize(event).kind == "KMS.4"  # type: ignore[union-attr]


@pytest.mark.parametrize(("fixture", "field", "value", "said"), [
    ("securityhub_pci_dss_3_2_1_pci_s3_6_failed", "ControlId", "PCI.Foo.9", "PCI.Foo.9"),
    ("securityhub_cis_1_2_0_rule_2_8_failed", "RuleId", "9.9", "9.9"),
    # a CIS v1.4.0 id that CIS v3.0.0 does not have: the version matters
    ("securityhub_cis_3_0_0_2_2_1_failed", "ControlId", "2.1.5.2", "2.1.5.2"),
])
def test_a_control_we_do_not_know_is_ignored_naming_the_id(
        ctx: Context, fixture: str, field: str, value: str, said: str) -> None:
    event = load_event(fixture)
    asff = _asff(event)
    asff["ProductFields"][field] = value
    asff["GeneratorId"] = asff["GeneratorId"].rsplit("/", 1)[0] + f"/{value}"
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.IGNORED
    assert f"Security Hub control {said} " in str(r.reason)
    assert "is not one we handle" in str(r.reason)


def test_compliance_warning_is_ignored_and_changes_nothing(ctx: Context) -> None:
    _bucket(None)
    event = load_event("securityhub_s3_8_failed")
    _asff(event)["Compliance"]["Status"] = "WARNING"
    (r,) = handle(event, ctx)
    assert r.outcome is Outcome.IGNORED
    assert "WARNING" in str(r.reason) and "could not decide" in str(r.reason)
    assert public_access_block(boto3.client("s3", region_name=REGION), "phi-bucket") is None


@pytest.mark.parametrize(("status", "said"), [
    ("PASSED", "Security Hub control S3.8 has compliance PASSED"),
    ("NOT_AVAILABLE", "Security Hub control S3.8 has compliance NOT_AVAILABLE")])
def test_reasons_name_the_service_once(status: str, said: str) -> None:
    event = load_event("securityhub_s3_8_failed")
    _asff(event)["Compliance"]["Status"] = status
    got = normalize(event)
    assert isinstance(got, Ignored) and got.reason == said
    bare = load_event("securityhub_s3_8_failed")  # no control fields at all
    asff = _asff(bare)
    asff["GeneratorId"] = "custom/check"
    asff["Compliance"] = {"Status": status}
    assert normalize(bare).reason == f"Security Hub finding has compliance {status}"  # type: ignore[union-attr]


# -- the table -------------------------------------------------------------------------
def _handled() -> set[str]:
    return {k for p in load_policies(default_policy_dir()) for t in p.trigger
            if t.source.value == "securityhub" and not t.products for k in t.kinds}


def test_every_control_we_handle_is_mapped_or_listed_as_a_gap_per_standard() -> None:
    handled = _handled()
    table = controls.table()
    for standard, ids in table["standards"].items():
        if standard in table["same_ids"]:
            continue
        mapped = set(ids.values()) & handled
        gaps = set(table["gaps"][standard])
        unmapped = set(table["unmapped"].get(standard, []))  # not yet checked: say so
        assert mapped | gaps | unmapped == handled, standard
        assert not mapped & gaps and not mapped & unmapped and not gaps & unmapped, standard
        assert table["_source"][standard], f"{standard}: say where the mapping comes from"


def test_the_issues_ids_resolve_as_aws_documents_them() -> None:
    pci = "pci-dss/v/3.2.1"
    assert [controls.to_security_control(pci, f"PCI.{c}") for c in (
        "S3.6", "CloudTrail.3", "KMS.1", "EC2.5")] == ["S3.1", "CloudTrail.4", "KMS.4", "EC2.13"]
    cis = "cis-aws-foundations-benchmark/v/"
    assert controls.to_security_control(f"{cis}1.2.0", "2.2") == "CloudTrail.4"
    assert controls.to_security_control(f"{cis}1.4.0", "3.2") == "CloudTrail.4"
    assert controls.to_security_control(f"{cis}3.0.0", "3.3") == "Config.1"
    assert controls.to_security_control("nist-800-53/v/5.0.0", "SQS.1") == "SQS.1"
    assert controls.to_security_control(
        "aws-foundational-security-best-practices/v/1.0.0", "ELBv2.1") == "ELB.1"


# -- the EventBridge pattern -----------------------------------------------------------
def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge's rule semantics for the subset our patterns use."""
    if isinstance(pattern, list):
        values = value if isinstance(value, list) else [value]
        return any(_leaf(p, v) for p in pattern for v in values)
    if isinstance(value, list):
        return any(_matches(pattern, v) for v in value)
    if not isinstance(value, dict):
        return False
    for key, sub in pattern.items():
        if key == "$or":
            if not any(_matches(alt, value) for alt in sub):
                return False
        elif key not in value or not _matches(sub, value[key]):
            return False
    return True


def _leaf(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, str) and value.startswith(pattern["prefix"])
    return bool(pattern == value)


SECURITYHUB = json.loads(RENDERED.read_text())["securityhub"]


def test_the_evaluator_says_no_when_eventbridge_would() -> None:
    event = load_event("securityhub_s3_8_failed")
    assert _matches(SECURITYHUB, event)
    _asff(event)["RecordState"] = "ARCHIVED"
    assert not _matches(SECURITYHUB, event)
    assert _matches({"a": [{"prefix": "hip"}]}, {"a": "hipaa-x"})
    assert not _matches({"a": {"b": ["x"]}}, {"a": [{"b": "y"}, {"c": "x"}]})


@pytest.mark.parametrize("name", sorted(p.stem for p in EVENTS.glob("securityhub_*.json")))
def test_the_rendered_pattern_matches_every_security_hub_fixture(name: str) -> None:
    assert _matches(SECURITYHUB, load_event(name))


@pytest.mark.parametrize(("fixture", "field", "value"), [
    ("securityhub_pci_dss_3_2_1_pci_s3_6_failed", "ControlId", "PCI.Lambda.1"),  # Lambda.1
    ("securityhub_cis_1_2_0_rule_2_8_failed", "RuleId", "3.1"),  # CloudWatch.2
])
def test_the_pattern_leaves_out_controls_no_policy_names(fixture: str, field: str,
                                                          value: str) -> None:
    event = load_event(fixture)
    _asff(event)["ProductFields"][field] = value
    assert not _matches(SECURITYHUB, event)


def test_every_pattern_fits_eventbridges_default_size_limit() -> None:
    # EventBridge's default quota for an event pattern is 2048 characters (raisable to 4096)
    for name, pattern in json.loads(RENDERED.read_text()).items():
        assert len(json.dumps(pattern)) <= 2048, name


def test_a_control_of_a_prefix_matched_group_that_no_policy_names_is_ignored() -> None:
    """The pattern matches a group (IAM.) by prefix to stay within 2048 characters; the
    pipeline's match leaves out the group's controls no policy names, with the reason."""
    event = load_event("securityhub_s3_8_failed")
    _asff(event)["Compliance"]["SecurityControlId"] = "S3.6"
    assert _matches(SECURITYHUB, event)
    found = normalize(event)
    assert not isinstance(found, Ignored) and found.kind == "S3.6"
    assert match(found, load_policies(default_policy_dir())) == []
