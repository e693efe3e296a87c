"""Each resource type is known where it must be: a remediation's types have an ARN builder
whose ARNs are ones AWS's Service Authorization Reference defines (so the IAM we render
scopes them), and every CloudTrail call a policy names says where its resource is."""

from __future__ import annotations

import re

import pytest

from chalicelib.config import default_policy_dir
from chalicelib.finding import _ARNS, ACCOUNT, Source, make_resource
from chalicelib.iam import arn_formats
from chalicelib.policy import load_policies
from chalicelib.sources.cloudtrail import RESOURCE_PATHS
from remediations import load

# types that never need a builder, and why
NO_BUILDER = {
    "*": "open_incident takes any resource, as its source named it",
    ACCOUNT: "an account-level setting in one region: account_resource(), no ARN",
    "AWS::IAM::Policy": "sources name customer-managed policies by ARN, Config by id "
                        "(iam_revoke_wildcard resolves the id to the ARN)",
    "AWS::IAM::AccessKey": "an access key has no ARN; iam_deactivate_access_key acts on "
                           "its user",
}
# built ARNs that differ from the Reference's format, and why that is right
NOT_IN_THE_REFERENCE = {
    "AWS::Config::ConfigurationRecorder": (
        "events name a recorder by name only; its real ARN (configuration-recorder/NAME/ID) "
        "needs the id only DescribeConfigurationRecorders returns. The built ARN is the "
        "incident's identity; the IAM grant uses the Reference's own pattern"),
}
TYPES = sorted({t for cls in load().values() for t in cls.resource_types})


def _pattern(arn_format: str) -> re.Pattern[str]:
    """An ARN format of the Reference as a regex: each ${Variable} matches anything."""
    parts = re.split(r"\$\{\w+\}", arn_format)
    return re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$")


@pytest.mark.parametrize("rtype", TYPES)
def test_every_resource_type_a_remediation_takes_has_an_arn_builder(rtype: str) -> None:
    assert rtype in _ARNS or rtype in NO_BUILDER, (
        f"{rtype}: add its ARN format to chalicelib.finding._ARNS")


@pytest.mark.parametrize("rtype", sorted(_ARNS))
def test_every_built_arn_is_one_the_iam_reference_defines(rtype: str) -> None:
    resource = make_resource(rtype, "example-1", "123456789012", "us-east-1")
    assert resource is not None and resource.arn
    service = resource.arn.split(":")[2]
    if rtype in NOT_IN_THE_REFERENCE:
        return
    formats = arn_formats(service)
    # the partition is always aws here; the Reference writes ${Partition}
    matching = [t for t, f in formats.items() if _pattern(f).match(resource.arn)]
    assert matching, f"{rtype}: {resource.arn} matches no {service} ARN format: {formats}"


def test_every_cloudtrail_call_a_policy_names_has_a_resource_path() -> None:
    named = {kind for policy in load_policies(default_policy_dir())
             for trigger in policy.trigger if trigger.source is Source.CLOUDTRAIL
             for kind in trigger.kinds}
    missing = sorted(named - set(RESOURCE_PATHS))
    assert missing == [], f"CloudTrail calls without a RESOURCE_PATHS entry: {missing}"
