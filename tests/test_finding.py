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
