"""Trails for the cloudtrail tests of the HIPAA pack (a bucket each, in its region)."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.finding import Resource

GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:trail-events:*"
ROLE = "arn:aws:iam::123456789012:role/cloudtrail-to-logs"


def make_trail(name: str = "phi-audit-trail", region: str = "us-east-1",
               **settings: Any) -> str:
    """A trail homed in `region` (its bucket `<name>-logs-<region>`); its ARN."""
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=f"{name}-logs-{region}", **({} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}))
    ct = boto3.client("cloudtrail", region_name=region)
    return str(ct.create_trail(Name=name, S3BucketName=f"{name}-logs-{region}",
                               **settings)["TrailARN"])


def get_trail(arn: str) -> dict[str, Any]:
    return dict(boto3.client("cloudtrail", region_name=arn.split(":")[3]).get_trail(
        Name=arn)["Trail"])


def trail_resource(arn: str) -> Resource:
    return Resource(type="AWS::CloudTrail::Trail", id=arn, arn=arn)


def org_trail_stub(build: Any, name: str, **params: Any) -> tuple[Any, Any]:
    """The remediation `name` for an organization trail of another account (moto cannot
    make one: a Stubber answers DescribeTrails), and the stub."""
    from botocore.stub import Stubber

    org = "arn:aws:cloudtrail:us-east-1:999999999999:trail/org-trail"
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("describe_trails", {"trailList": [
        {"Name": "org-trail", "TrailARN": org, "HomeRegion": "us-east-1",
         "IsOrganizationTrail": True}]})
    rem = build(name, resource=trail_resource(org), **params)
    rem.target.clients = lambda service: client
    rem.target.clients_in = None
    return rem, stub
