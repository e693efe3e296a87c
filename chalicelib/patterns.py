"""EventBridge patterns derived from the loaded policies, so a new policy cannot silently
miss its trigger. `app.py` reads the rendered copy (`event_patterns.json`) to keep the
cold start free of YAML and pydantic; a test fails when that copy is stale.

    python -m chalicelib.patterns > chalicelib/event_patterns.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chalicelib.config import default_policy_dir
from chalicelib.finding import Source
from chalicelib.policy import Policy, load_policies
from chalicelib.sources import envelope
from chalicelib.sources import securityhub_controls as _controls

RENDERED = Path(__file__).with_name("event_patterns.json")


def event_patterns(policies: list[Policy]) -> dict[str, dict[str, Any]]:
    """One EventBridge pattern per source that any policy triggers on."""
    kinds: dict[Source, set[str]] = {}
    for policy in policies:
        for trigger in policy.trigger:
            kinds.setdefault(trigger.source, set()).update(trigger.kinds)
    out: dict[str, dict[str, Any]] = {}
    if Source.GUARDDUTY in kinds:
        # GuardDuty types are matched (with globs) in the pipeline; the rule takes them all
        out["guardduty"] = envelope("guardduty")
    if Source.CONFIG in kinds:
        # rule names carry conformance-pack prefixes/suffixes: filter on compliance only
        out["config"] = {
            **envelope("config"),
            "detail": {"messageType": ["ComplianceChangeNotification"],
                       "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}}}
    if Source.CLOUDWATCH in kinds:
        # alarm names by prefix where every policy names a prefix ("hipaa-*"), else all
        names = sorted(kinds[Source.CLOUDWATCH])
        detail: dict[str, Any] = {"state": {"value": ["ALARM", "OK"]}}
        if all(k.endswith("*") and not any(c in k[:-1] for c in "*?[") for k in names):
            detail["alarmName"] = [{"prefix": k[:-1]} for k in names]
        out["cloudwatch"] = {**envelope("cloudwatch"), "detail": detail}
    if Source.SECURITYHUB in kinds:
        out["securityhub"] = _securityhub(policies)
    if Source.CLOUDTRAIL in kinds:
        out["cloudtrail"] = {**envelope("cloudtrail"),
                             "detail": {"eventName": sorted(kinds[Source.CLOUDTRAIL])}}
    return out


_CONTROL_ID = re.compile(r"^[A-Za-z0-9]+\.[0-9]+$")


def _securityhub(policies: list[Policy]) -> dict[str, Any]:
    """Active findings not yet resolved or suppressed; narrowed to the named controls and
    products when every trigger names only those, else every finding (GeneratorId globs
    are matched in the pipeline). A control is matched under each name it has: the
    consolidated `Compliance.SecurityControlId`, the per-standard `ProductFields.ControlId`
    (FSBP and NIST use the security control id; CIS v1.4.0+ and PCI DSS their own) and
    CIS v1.2.0's `ProductFields.RuleId`, from the table the source resolves them with. A
    CIS id names different controls in different versions (`2.1.1`): a value that names
    one of our controls in one version lets another version's finding through, and the
    source, which resolves it by its standard, ends it `ignored`."""
    controls: set[str] = set()
    products: set[str] = set()
    narrow = True
    for policy in policies:
        for trigger in policy.trigger:
            if trigger.source is not Source.SECURITYHUB:
                continue
            if trigger.products:
                products.update(trigger.products)
            elif all(_CONTROL_ID.match(k) for k in trigger.kinds):
                controls.update(trigger.kinds)
            else:
                narrow = False
    findings: dict[str, Any] = {"RecordState": ["ACTIVE"],
                                "Workflow": {"Status": ["NEW", "NOTIFIED"]}}
    if narrow:
        either: list[dict[str, Any]] = []
        if controls:
            either += [{"Compliance": {"SecurityControlId": _sorted_ids(controls)}},
                       {"ProductFields": {"ControlId": _sorted_ids(
                           controls | _aliases(controls, ruleset=False))}}]
            if rule_ids := _aliases(controls, ruleset=True):
                either.append({"ProductFields": {"RuleId": _sorted_ids(rule_ids)}})
        if products:
            either.append({"ProductName": sorted(products)})
        findings["$or"] = either
    return {**envelope("securityhub"),
            "detail": {"findings": findings}}


_CIS_V120 = "cis-aws-foundations-benchmark/v/1.2.0"  # the one standard that uses RuleId


def _aliases(controls: set[str], *, ruleset: bool) -> set[str]:
    """The per-standard ids of `controls`: CIS v1.2.0's rule ids (`ruleset`), else every
    other standard's control ids."""
    return {own for standard, ids in _controls.table()["standards"].items()
            if (standard == _CIS_V120) is ruleset
            for own, security in ids.items() if security in controls}


# a group of ids (`IAM.`, `PCI.S3.`, CIS `1.`) with at least this many members is matched
# by its prefix: EventBridge allows 2048 characters per pattern by default, and the HIPAA
# pack names most IAM and S3 controls. A control of such a group that no policy names gets
# through the rule and ends `ignored` ("no policy matches") in the pipeline.
PREFIX_GROUP = 6


def _sorted_ids(ids: set[str]) -> list[Any]:
    """Sorted as people number them (`2.2` before `2.10`, `EC2.2` before `EC2.13`), each
    group of PREFIX_GROUP or more ids as one `{"prefix": "IAM."}`."""
    groups: dict[str, set[str]] = {}
    for i in ids:
        groups.setdefault(i.rsplit(".", 1)[0] + "." if "." in i else i, set()).add(i)
    out: list[Any] = []
    for group in sorted(groups, key=_number):
        members = groups[group]
        if len(members) >= PREFIX_GROUP and group.endswith("."):
            out.append({"prefix": group})
        else:
            out += sorted(members, key=_number)
    return out


def _number(i: str) -> list[tuple[int, str]]:
    return [(int(p), "") if p.isdigit() else (-1, p) for p in i.rstrip(".").split(".")]


def render(policy_dir: Path | None = None) -> str:
    return json.dumps(event_patterns(load_policies(policy_dir or default_policy_dir())),
                      indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
