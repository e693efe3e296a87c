"""The configuration snapshot of `remediate evidence --snapshot`: every watched resource's
state now, judged by the remediation that watches it, so the snapshot and the fixes agree
on what compliant means.

For each account and region, each policy whose remediation has an inventory below lists
its resources (reads only, paginated); the remediation's own `plan()` reads the state:
no calls planned is compliant, `NotApplicable` is not applicable, any error is "could not
read: reason" for that item or listing (never a crash). An open incident is linked, and an
exemption in force is shown with its reason and, when tagged, since when
(`autoremediate:exempt-reason`, `autoremediate:exempt-since`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.act import build
from chalicelib.aws import translate
from chalicelib.context import Context
from chalicelib.errors import AutoremediateError, NotApplicable
from chalicelib.finding import DETECTOR, Resource, account_resource, make_resource
from chalicelib.gate import Decision, decide
from chalicelib.policy import Policy

Clients = Callable[[str], Any]
Inventory = Callable[[Clients, str, str], list[Resource]]


def _paged(clients: Clients, service: str, operation: str, key: str,
           **kwargs: Any) -> list[Any]:
    with translate(f"listing {service} {operation}"):
        pages = clients(service).get_paginator(operation).paginate(**kwargs)
        return [item for page in pages for item in page[key]]


def _buckets(clients: Clients, account: str, region: str) -> list[Resource]:
    with translate("listing S3 buckets"):
        found = clients("s3").list_buckets()["Buckets"]
    return [r for b in found if (r := make_resource("AWS::S3::Bucket", b["Name"], account,
                                                    region))]


def _keys(clients: Clients, account: str, region: str) -> list[Resource]:
    keys = _paged(clients, "kms", "list_keys", "Keys")
    return [Resource(type="AWS::KMS::Key", id=k["KeyArn"], arn=k["KeyArn"]) for k in keys]


def _groups(clients: Clients, account: str, region: str) -> list[Resource]:
    groups = _paged(clients, "ec2", "describe_security_groups", "SecurityGroups")
    return [r for g in groups
            if (r := make_resource("AWS::EC2::SecurityGroup", g["GroupId"], account, region))]


def _log_groups(clients: Clients, account: str, region: str) -> list[Resource]:
    groups = _paged(clients, "logs", "describe_log_groups", "logGroups")
    return [r for g in groups
            if (r := make_resource("AWS::Logs::LogGroup", g["logGroupName"], account, region))]


def _recorders(clients: Clients, account: str, region: str) -> list[Resource]:
    with translate("listing configuration recorders"):
        found = clients("config").describe_configuration_recorder_status()[
            "ConfigurationRecordersStatus"]
    return [r for c in found if (r := make_resource(
        "AWS::Config::ConfigurationRecorder", c["name"], account, region))]


def _alarms(clients: Clients, account: str, region: str) -> list[Resource]:
    alarms = _paged(clients, "cloudwatch", "describe_alarms", "MetricAlarms")
    return [r for a in alarms
            if (r := make_resource("AWS::CloudWatch::Alarm", a["AlarmName"], account, region))]


def _account(clients: Clients, account: str, region: str) -> list[Resource]:
    return [account_resource(account, region)]


def _iam_users(clients: Clients, account: str, region: str) -> list[Resource]:
    users = _paged(clients, "iam", "list_users", "Users")
    return [Resource(type="AWS::IAM::User", id=u["UserName"], arn=u["Arn"]) for u in users]


def _iam_principals(clients: Clients, account: str, region: str) -> list[Resource]:
    found = _iam_users(clients, account, region)
    for kind in ("Role", "Group"):
        for item in _paged(clients, "iam", f"list_{kind.lower()}s", f"{kind}s"):
            found.append(Resource(type=f"AWS::IAM::{kind}", id=item[f"{kind}Name"],
                                  arn=item["Arn"]))
    return found


def _iam_policies_and_principals(clients: Clients, account: str,
                                 region: str) -> list[Resource]:
    policies = _paged(clients, "iam", "list_policies", "Policies", Scope="Local")
    return [Resource(type="AWS::IAM::Policy", id=p["Arn"], arn=p["Arn"]) for p in policies
            ] + _iam_principals(clients, account, region)


def _region_detectors(clients: Clients, account: str, region: str) -> list[Resource]:
    return [Resource(type=DETECTOR, id=f"{account}/{region}")]  # read lists the detectors


INVENTORY: dict[str, Inventory] = {
    "s3_block_public_access": _buckets,
    "s3_default_encryption": _buckets,
    "s3_disable_acls": _buckets,
    "s3_enable_access_logging": _buckets,
    "s3_enable_versioning": _buckets,
    "s3_event_notifications": _buckets,
    "s3_object_lock_default": _buckets,
    "s3_require_ssl": _buckets,
    "s3_version_lifecycle": _buckets,
    "s3_account_block_public_access": _account,
    "cloudtrail_restore": _account,        # every trail homed in the region
    "ebs_default_encryption": _account,
    "vpc_flow_logs": _account,             # every VPC in the region
    "ebs_snapshot_private": _account,      # every public snapshot in the region
    "kms_enable_rotation": _keys,
    "sg_revoke_open_ingress": _groups,
    "logs_retention": _log_groups,
    "logs_kms_encryption": _log_groups,
    "config_recorder_restart": _recorders,
    "guardduty_enable": _region_detectors,
    # the HIPAA pack, detection and logging (alphabetic)
    "cloudtrail_cloudwatch_logs": _account,  # every own trail homed in the region
    "cloudtrail_kms_encryption": _account,
    "cloudtrail_s3_data_events": _account,   # the configured trail
    "cloudwatch_alarm_actions": _alarms,
    "securityhub_enable": _account,
    # IAM hygiene (HIPAA pack); IAM is global: listed again for each region asked
    "iam_password_policy": _account,
    "iam_deactivate_stale_keys": _iam_users,
    "iam_disable_unused_credentials": _iam_users,
    "iam_inline_to_managed": _iam_principals,
    "iam_revoke_blocked_kms_actions": _iam_policies_and_principals,
}


def _item(ctx: Context, policy: Policy, resource: Resource, account: str,
          region: str) -> dict[str, Any]:
    row: dict[str, Any] = {"policy": policy.name, "remediation": policy.remediation,
                           "controls": list(policy.hipaa), "account": account,
                           "region": region, "resource": resource.display,
                           "compliant": None, "state": None, "incident_id": None,
                           "exempt": None, "note": None}
    try:
        rem = build(ctx, policy.remediation, resource, account=account, region=region,
                    params=policy.params)
        tags = rem.tags()
        decision = decide(policy, tags, dry_run=False, account=account)
        if decision.decision is Decision.EXEMPT:  # in force: reason and since, if tagged
            row["exempt"] = {"reason": tags.get(f"{policy.exempt_tag}-reason")
                             or decision.reason,
                             "since": tags.get(f"{policy.exempt_tag}-since")}
        plan = rem.plan()
        row.update(compliant=plan.is_noop, state=plan.before)
    except NotApplicable as exc:
        row["note"] = f"not applicable: {exc}"
    except AutoremediateError as exc:
        row["note"] = f"could not read: {exc}"
    incident = ctx.store.open_incident(account, resource.display, policy.name)
    row["incident_id"] = incident.incident_id if incident else None
    return row


def take(ctx: Context, *, accounts: list[str], regions: list[str]) -> list[dict[str, Any]]:
    """One row per watched resource (or per listing that could not be read)."""
    rows: list[dict[str, Any]] = []
    for account in accounts:
        for region in regions:
            clients = ctx.aws.client_factory(account=account, region=region)
            for policy in ctx.policies:
                inventory = INVENTORY.get(policy.remediation)
                if inventory is None or policy.fallback:
                    continue
                try:
                    resources = inventory(clients, account, region)
                except AutoremediateError as exc:
                    rows.append({"policy": policy.name, "remediation": policy.remediation,
                                 "controls": list(policy.hipaa), "account": account,
                                 "region": region, "resource": None, "compliant": None,
                                 "state": None, "incident_id": None,
                                 "note": f"could not read: {exc}"})
                    continue
                rows.extend(_item(ctx, policy, r, account, region) for r in resources)
    return rows
