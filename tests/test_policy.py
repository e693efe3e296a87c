from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.config import default_policy_dir
from chalicelib.errors import PolicyError
from chalicelib.finding import Finding, normalize
from chalicelib.policy import config_rule_matches, load_policies, match
from tests.helpers import load_event


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def _matched(event: dict) -> list[str]:
    finding = normalize(event)
    assert isinstance(finding, Finding)
    return [p.name for p in match(finding, load_policies(default_policy_dir()))]


def test_shipped_policies_load_with_hipaa_references() -> None:
    policies = load_policies(default_policy_dir())
    names = [p.name for p in policies]
    first = ["s3-block-public-access", "s3-default-encryption", "iam-wildcard-policy",
             "s3-public-policy"]
    assert [n for n in names if n in first] == first  # file order: 10-, 20-, 30-, 40-
    fallbacks = [p.name for p in policies if p.fallback]
    assert fallbacks == ["guardduty-incident"]  # only when nothing else matched
    assert len(set(names)) == len(names)
    assert all(p.hipaa for p in policies)


def test_errors_name_file_line_policy_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", """policies:
  - name: ok-name
    trigger:
      - source: cloudtrail
        kinds: [PutBucketPolicy]
    remediation: s3_block_public_access
    mode: sometimes
    hipaa: ["164.312(a)(1)"]
""")
    with pytest.raises(PolicyError) as err:
        load_policies(tmp_path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{tmp_path / 'bad.yaml'}:7: policy 'ok-name': mode:")


def test_unknown_remediation_lists_valid_names(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", """policies:
  - name: typo
    trigger: [{source: cloudtrail, kinds: [PutBucketPolicy]}]
    remediation: s3_block_publik_access
    hipaa: ["164.312(a)(1)"]
""")
    with pytest.raises(PolicyError, match=r":4: policy 'typo': remediation: unknown .*"
                                          r"valid: .*s3_block_public_access"):
        load_policies(tmp_path)


def test_misspelt_key_unknown_control_and_bad_param_are_all_reported(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", """policies:
  - name: one
    trigerr: []
    trigger: [{source: cloudtrail, kinds: [X]}]
    remediation: open_incident
    hipaa: ["164.999"]
  - name: two
    trigger: [{source: cloudtrail, kinds: [X]}]
    remediation: s3_default_encryption
    params: {kms: alias/x}
    hipaa: ["164.312(b)"]
""")
    with pytest.raises(PolicyError) as err:
        load_policies(tmp_path)
    text = "\n".join(err.value.problems)
    assert ":3: policy 'one': trigerr: Extra inputs are not permitted" in text
    assert ":6: policy 'one': hipaa:" in text and "164.999" in text
    assert ":10: policy 'two': params.kms:" in text


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    body = """policies:
  - name: same
    trigger: [{source: guardduty, kinds: ["*"]}]
    remediation: open_incident
    hipaa: ["164.312(b)"]
"""
    _write(tmp_path, "a.yaml", body)
    _write(tmp_path, "b.yaml", body)
    with pytest.raises(PolicyError, match="duplicate of"):
        load_policies(tmp_path)


def test_invalid_yaml_and_missing_dir(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "policies: [\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policies(tmp_path)
    with pytest.raises(PolicyError, match="no such policy directory"):
        load_policies(tmp_path / "nope")


@pytest.mark.parametrize("name", [
    "s3-bucket-server-side-encryption-enabled",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "securityhub-s3-bucket-server-side-encryption-enabled-3a7f1c",
    "OrgConfigRule-s3-bucket-server-side-encryption-enabled-x1y2z3",
    "s3-bucket-server-side-encryption-enabled-conformance-pack-abcdef",
])
def test_config_rule_names_match_with_prefixes_and_suffixes(name: str) -> None:
    assert config_rule_matches(name, "s3-bucket-server-side-encryption-enabled")


def test_config_rule_does_not_match_a_longer_different_rule() -> None:
    assert not config_rule_matches("s3-bucket-public-read-prohibited-extra",
                                   "s3-bucket-public-write-prohibited")
    assert not config_rule_matches("xs3-default-encryption-kms", "s3-default-encryption-kms")


def test_put_public_access_block_triggers_only_when_a_flag_is_off() -> None:
    event = load_event("cloudtrail_put_public_access_block")
    assert _matched(event) == ["s3-block-public-access"]
    config = event["detail"]["requestParameters"]["PublicAccessBlockConfiguration"]
    config.update(BlockPublicAcls=True, BlockPublicPolicy=True)
    assert _matched(event) == []


def test_public_bucket_policy_triggers_both_fixes_in_file_order() -> None:
    event = load_event("cloudtrail_put_bucket_policy")
    assert _matched(event) == ["s3-block-public-access", "s3-public-policy"]
    event["detail"]["requestParameters"]["bucketPolicy"]["Statement"][0]["Principal"] = {
        "AWS": "arn:aws:iam::111122223333:root"}
    assert _matched(event) == ["s3-block-public-access"]


def test_admin_attachment_triggers_only_for_full_access_policies() -> None:
    event = load_event("cloudtrail_attach_role_policy")
    assert _matched(event) == ["iam-wildcard-policy"]
    event["detail"]["requestParameters"]["policyArn"] = (
        "arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert _matched(event) == []


def test_config_names_iam_policies_by_id() -> None:
    finding = normalize(load_event("config_iam_admin_access"))
    assert isinstance(finding, Finding)
    assert finding.resource is not None and finding.resource.type == "AWS::IAM::Policy"
    assert _matched(load_event("config_iam_admin_access")) == ["iam-wildcard-policy"]


def test_guardduty_fallback_only_when_nothing_else_matches() -> None:
    assert _matched(load_event("guardduty_s3_block_public_access_disabled")) == [
        "s3-block-public-access"]
    assert _matched(load_event("guardduty_ec2_ssh_bruteforce")) == ["guardduty-incident"]
    low = load_event("guardduty_ec2_ssh_bruteforce")
    low["detail"]["severity"] = 2
    assert _matched(low) == []


def test_a_condition_the_event_data_cannot_satisfy_does_not_fire() -> None:
    """A `when` that raises on odd data (contains() on a number) must not crash the event;
    the other policies still match it."""
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail"]["requestParameters"]["bucketPolicy"]["Statement"] = [
        {"Effect": "Allow", "Principal": {"AWS": 5}, "Action": "s3:GetObject"}]
    assert _matched(event) == ["s3-block-public-access"]


def test_resource_tags_and_exempt_accounts_are_validated_with_file_and_line(
        tmp_path: Path) -> None:
    from chalicelib.errors import PolicyError

    _write(tmp_path, "tags.yaml", """policies:
  - name: egress
    trigger: [{source: cloudtrail, kinds: [AuthorizeSecurityGroupEgress]}]
    remediation: sg_revoke_open_egress
    hipaa: ["164.312(e)(1)"]
    resource_tags: {data-classification: [phi]}
    exempt_accounts: ["12345"]
""")
    with pytest.raises(PolicyError) as caught:
        load_policies(tmp_path)
    text = "\n".join(caught.value.problems)
    assert "tags.yaml:6: policy 'egress': resource_tags.data-classification" in text
    assert "tags.yaml:7: policy 'egress': exempt_accounts.0" in text
