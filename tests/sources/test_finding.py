from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.errors import InvalidEvent
from chalicelib.finding import Finding, Ignored, Source, normalize, parse
from tests.helpers import load_event


def test_cloudtrail_event_names_bucket_actor_and_role() -> None:
    f = normalize(load_event("cloudtrail_put_bucket_policy"))
    assert isinstance(f, Finding)
    assert f.source is Source.CLOUDTRAIL and f.kind == "PutBucketPolicy"
    assert f.resource is not None and f.resource.arn == "arn:aws:s3:::phi-bucket"
    assert f.actor == "arn:aws:sts::123456789012:assumed-role/developer/alice"
    assert f.actor_role == "arn:aws:iam::123456789012:role/developer"
    assert (f.account, f.region) == ("123456789012", "us-east-1")


def test_cloudtrail_with_error_code_is_ignored() -> None:
    result = normalize(load_event("cloudtrail_access_denied"))
    assert isinstance(result, Ignored) and "AccessDenied" in result.reason


def test_config_noncompliant_names_resource_and_keeps_prefixed_rule() -> None:
    f = normalize(load_event("config_s3_encryption_noncompliant"))
    assert isinstance(f, Finding) and f.source is Source.CONFIG
    assert f.kind.startswith("securityhub-s3-bucket-server-side-encryption-enabled")
    assert f.resource is not None and f.resource.type == "AWS::S3::Bucket"


def test_config_compliant_is_ignored() -> None:
    assert isinstance(normalize(load_event("config_compliant")), Ignored)


def test_guardduty_uses_detail_account_and_resource_details() -> None:
    event = load_event("guardduty_s3_block_public_access_disabled")
    event["account"] = "999999999999"  # delivered to the GuardDuty admin account
    f = normalize(event)
    assert isinstance(f, Finding)
    assert f.account == "123456789012"
    assert f.resource is not None and f.resource.id == "phi-bucket"
    assert f.severity == 2.0


def test_guardduty_instance_finding() -> None:
    f = normalize(load_event("guardduty_ec2_ssh_bruteforce"))
    assert isinstance(f, Finding)
    assert f.resource is not None and f.resource.type == "AWS::EC2::Instance"


def test_unknown_source_is_ignored() -> None:
    event = load_event("cloudtrail_put_bucket_policy")
    event["detail-type"], event["source"] = "EC2 Instance State-change Notification", "aws.ec2"
    assert isinstance(normalize(event), Ignored)


@pytest.mark.parametrize("mutate, message", [
    (lambda e: e.pop("detail"), "detail"),
    (lambda e: e.pop("id"), "id"),
    (lambda e: e.__setitem__("time", "yesterday"), "time"),
    (lambda e: e["detail"].pop("eventName"), "eventName"),
    (lambda e: e.__setitem__("detail", "text"), "detail"),
])
def test_malformed_events_say_what_is_wrong(mutate: Any, message: str) -> None:
    event = load_event("cloudtrail_put_bucket_policy")
    mutate(event)
    with pytest.raises(InvalidEvent, match=message):
        normalize(event)


def test_guardduty_without_numeric_severity_is_invalid() -> None:
    event = load_event("guardduty_ec2_ssh_bruteforce")
    event["detail"]["severity"] = "high"
    with pytest.raises(InvalidEvent, match="severity"):
        normalize(event)


@pytest.mark.parametrize("text", [b"not json", b"[1, 2]", b"\xff\xfe", b"42"])
def test_parse_rejects_non_objects(text: bytes) -> None:
    with pytest.raises(InvalidEvent):
        parse(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=8))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_dict_gives_finding_ignored_or_invalid_event(event: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidEvent):
        assert isinstance(normalize(event), Finding | Ignored)


_BASES = [load_event(n, fresh_id=False) for n in (
    "cloudtrail_put_bucket_policy", "config_s3_encryption_noncompliant",
    "guardduty_ec2_ssh_bruteforce")]


@given(st.sampled_from(_BASES), st.lists(st.tuples(st.text(max_size=12), json_values),
                                         max_size=4), st.booleans())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_real_events_never_crash(base: dict[str, Any],
                                           edits: list[tuple[str, Any]],
                                           in_detail: bool) -> None:
    event = copy.deepcopy(base)
    target = event["detail"] if in_detail else event
    keys = list(target)
    for i, (key, value) in enumerate(edits):
        target[keys[i % len(keys)] if key == "" else key] = value
    try:
        result = normalize(json.loads(json.dumps(event)))
        assert isinstance(result, Finding | Ignored)
    except InvalidEvent:
        pass


# -- GuardDuty S3 findings from management events, and assumed-role keys ----------------
def test_s3_finding_from_management_events_is_about_the_bucket() -> None:
    f = normalize(load_event("guardduty_s3_anonymous_access_granted"))
    assert isinstance(f, Finding) and f.kind == "Policy:S3/BucketAnonymousAccessGranted"
    assert [r.arn for r in f.resources] == ["arn:aws:s3:::phi-bucket"]
    assert f.resource is not None and f.resource.type == "AWS::S3::Bucket"
    # the access key is the actor: the session, its role and the key id
    assert f.actor == "AROAEXAMPLEROLEID0001:alice"
    assert f.actor_role == "arn:aws:iam::123456789012:role/developer"
    assert f.actor_key == "ASIAEXAMPLEKEY000001"


def test_s3_finding_naming_several_buckets_gives_one_finding_each() -> None:
    event = load_event("guardduty_s3_anonymous_access_granted")
    details = event["detail"]["resource"]["s3BucketDetails"]
    details.append({**details[0], "name": "phi-bucket-2", "arn": "arn:aws:s3:::phi-bucket-2"})
    details.append(dict(details[0]))  # GuardDuty may repeat a bucket: once is enough
    f = normalize(event)
    assert isinstance(f, Finding)
    assert [one.resource.id for one in f.each() if one.resource] == ["phi-bucket",
                                                                     "phi-bucket-2"]
    assert all(len(one.resources) == 1 and one.event_id == f.event_id for one in f.each())


def test_s3_finding_from_data_events_keeps_its_tags() -> None:
    f = normalize(load_event("guardduty_s3_block_public_access_disabled"))
    assert isinstance(f, Finding) and f.resource is not None
    assert f.resource.tags == {"data": "patient-records"} and f.actor is None


def test_assumed_role_key_names_the_role_never_a_user() -> None:
    f = normalize(load_event("guardduty_credential_exfiltration"))
    assert isinstance(f, Finding) and f.resource is not None
    assert f.resource.type == "AWS::IAM::Role"
    assert f.resource.arn == "arn:aws:iam::123456789012:role/phi-ingest-instance-role"
    assert f.actor == "AROAEXAMPLEROLEID0002:i-0abc1234def567890"


def test_a_user_key_finding_is_about_that_key_with_the_user_as_actor() -> None:
    event = load_event("guardduty_credential_exfiltration")
    event["detail"]["resource"]["accessKeyDetails"].update(
        userName="bob", userType="IAMUser", accessKeyId="AKIAEXAMPLEKEY000003")
    f = normalize(event)
    assert isinstance(f, Finding) and f.resource is not None
    assert (f.resource.type, f.resource.id) == ("AWS::IAM::AccessKey",
                                                "bob/AKIAEXAMPLEKEY000003")
    assert f.actor == "arn:aws:iam::123456789012:user/bob"


@pytest.mark.parametrize("user_type, rtype, arn", [
    ("IAMUser", "AWS::IAM::User", "arn:aws:iam::123456789012:user/bob"),
    ("Root", "AWS::IAM::Root", "arn:aws:iam::123456789012:root"),
    ("FederatedUser", "AWS::STS::FederatedUser",
     "arn:aws:sts::123456789012:federated-user/bob"),
])
def test_access_key_findings_name_the_right_principal(user_type: str, rtype: str,
                                                      arn: str) -> None:
    event = load_event("guardduty_credential_exfiltration")
    event["detail"]["resource"]["accessKeyDetails"].update(userName="bob", userType=user_type)
    event["detail"]["resource"]["accessKeyDetails"].pop("accessKeyId")
    f = normalize(event)
    assert isinstance(f, Finding) and f.resource is not None
    assert (f.resource.type, f.resource.arn, f.actor) == (rtype, arn, arn)


# -- hostile input ----------------------------------------------------------------------
def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("edit, message", [
    (lambda e: e.__setitem__("region", "ü" * 5000), "region"),
    (lambda e: e.__setitem__("region", "us-east-1\n"), "region"),
    (lambda e: e.__setitem__("account", "12345"), "account"),
    # full-width digits: Unicode \d would take them, an account id never has them
    (lambda e: e.__setitem__("account", "\uff11" * 12), "account"),
    (lambda e: e["detail"].__setitem__("awsRegion", "Mars-1"), "region"),
    (lambda e: e["detail"].__setitem__("recipientAccountId", "x" * 12), "account"),
    (lambda e: e["detail"].__setitem__("deep", json.loads(_nested(200))), "deeper"),
    (lambda e: e["detail"].__setitem__("blob", "x" * (1024 * 1024 + 1)), "limit"),
    (lambda e: e["detail"].__setitem__("bad", "\ud800"), "Unicode"),
])
def test_hostile_envelopes_are_invalid_events(edit: Any, message: str) -> None:
    event = load_event("cloudtrail_put_bucket_policy")
    edit(event)
    with pytest.raises(InvalidEvent, match=message):
        normalize(event)


@pytest.mark.parametrize("data, message", [
    (_nested(100_000).encode(), "nested"),
    (b"{" + b" " * (1024 * 1024) + b"}", "limit"),
    ("{\"id\": \"é\"}".encode("latin-1"), "JSON"),
])
def test_parse_refuses_deep_huge_and_non_utf8(data: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse(data)
