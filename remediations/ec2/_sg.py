"""What the security-group remediations share: a group's rules as content (rule ids change
when a rule is re-created, so rollback restores by content), the world-open test, and the
calls that revoke or re-authorize rules.

A rule's content: `{"IpProtocol", "FromPort", "ToPort"}` plus exactly one peer —
`CidrIpv4`, `CidrIpv6`, `PrefixListId` or `GroupId` (another security group) — and its
`Description` when it has one.
"""

from __future__ import annotations

from typing import Any

from chalicelib import preflight
from chalicelib.aws import translate
from chalicelib.finding import Resource
from remediations.base import ApiCall, P, State

WORLD = ("0.0.0.0/0", "::/0")
PORT_PROTOCOLS = ("tcp", "udp", "6", "17")
Rule = dict[str, Any]


def _content(rule: dict[str, Any]) -> Rule:
    out: Rule = {"IpProtocol": rule["IpProtocol"], "FromPort": rule.get("FromPort", -1),
                 "ToPort": rule.get("ToPort", -1)}
    for key in ("CidrIpv4", "CidrIpv6", "PrefixListId"):
        if rule.get(key):
            out[key] = rule[key]
    if (rule.get("ReferencedGroupInfo") or {}).get("GroupId"):
        out["GroupId"] = rule["ReferencedGroupInfo"]["GroupId"]
    if rule.get("Description"):
        out["Description"] = rule["Description"]
    return out


def _key(rule: Rule) -> tuple[str, ...]:
    return tuple(f"{k}={rule[k]}" for k in sorted(rule))


def sorted_rules(rules: list[Rule]) -> list[Rule]:
    return sorted(rules, key=_key)


def is_world_open(rule: Rule) -> bool:
    return rule.get("CidrIpv4") in WORLD or rule.get("CidrIpv6") in WORLD


def open_on_disallowed_port(rule: Rule, allowed: list[int]) -> bool:
    """All protocols (-1) always; TCP/UDP when the range holds any port not allowed."""
    if rule["IpProtocol"] == "-1":
        return True
    if str(rule["IpProtocol"]).lower() not in PORT_PROTOCOLS:
        return False  # ICMP and other protocols have no ports to judge
    low, high = int(rule["FromPort"]), int(rule["ToPort"])
    return any(port not in allowed for port in range(low, high + 1))


def _permission(rule: Rule) -> dict[str, Any]:
    """The IpPermissions entry that names exactly this rule."""
    perm: dict[str, Any] = {"IpProtocol": rule["IpProtocol"]}
    if rule["IpProtocol"] != "-1":
        perm.update(FromPort=rule["FromPort"], ToPort=rule["ToPort"])
    described = {"Description": rule["Description"]} if rule.get("Description") else {}
    if "CidrIpv4" in rule:
        perm["IpRanges"] = [{"CidrIp": rule["CidrIpv4"], **described}]
    elif "CidrIpv6" in rule:
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **described}]
    elif "PrefixListId" in rule:
        perm["PrefixListIds"] = [{"PrefixListId": rule["PrefixListId"], **described}]
    else:
        perm["UserIdGroupPairs"] = [{"GroupId": rule["GroupId"], **described}]
    return perm


# what the pre-flight check reads besides the rules (chalicelib.preflight)
PREFLIGHT_PERMISSIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeFlowLogs",
                         "ec2:GetManagedPrefixListEntries", "logs:FilterLogEvents")
DIRECTIONS = {"Ingress": "ingress", "Egress": "egress"}


class SecurityGroupRemediation(preflight.TrafficChecked[P]):
    """A remediation of one security group's rules; removing a rule can cut a connection,
    so the plan counts the flows it would stop (`traffic_scope`)."""

    resource_types = ("AWS::EC2::SecurityGroup",)

    @property
    def ec2(self) -> Any:
        return self.target.clients("ec2")

    @property
    def group_id(self) -> str:
        ref = self.target.resource.arn or self.target.resource.id
        return ref.rsplit("/", 1)[-1]

    def resolve(self) -> Resource:
        found = self.target.resource
        arn = (f"arn:aws:ec2:{self.target.region}:{self.target.account}:"
               f"security-group/{self.group_id}")
        self.target.resource = Resource(type=found.type, id=arn, arn=arn, tags=found.tags)
        return self.target.resource

    def rules(self, *, egress: bool) -> list[Rule]:
        """The group's ingress (or egress) rules, as content."""
        return self.rules_of([self.group_id], egress=egress).get(self.group_id, [])

    def rules_of(self, groups: list[str], *, egress: bool) -> dict[str, list[Rule]]:
        """Each group's ingress (or egress) rules, as content."""
        found: list[dict[str, Any]] = []
        if groups:
            with translate(f"reading the rules of {', '.join(groups)}"):
                pages = self.ec2.get_paginator("describe_security_group_rules").paginate(
                    Filters=[{"Name": "group-id", "Values": groups}])
                found = [r for page in pages for r in page["SecurityGroupRules"]]
        out: dict[str, list[Rule]] = {}
        for r in found:
            if bool(r["IsEgress"]) == egress:
                out.setdefault(r["GroupId"], []).append(_content(r))
        return {g: sorted_rules(rules) for g, rules in out.items()}

    # -- pre-flight ---------------------------------------------------------------------
    def traffic_scope(self, before: State, after: State) -> preflight.Scope:
        """The group's interfaces; the rules the plan removes; per interface, the rules
        that stay (this group's after the change, and those of its other groups)."""
        enis = preflight.enis(self.ec2, [{"Name": "group-id", "Values": [self.group_id]}])
        peers: dict[str, list[str]] = {}
        removed: dict[str, list[preflight.Allow]] = {}
        kept: dict[str, dict[str, list[preflight.Allow]]] = {e.id: {} for e in enis}
        for key, way in DIRECTIONS.items():
            if key not in before:
                continue
            staying = {_key(r) for r in after[key]}
            removed[way] = [self._allow(r, peers) for r in before[key]
                            if _key(r) not in staying]
            others = sorted({g for e in enis for g in e.groups} - {self.group_id})
            theirs = self.rules_of(others, egress=way == "egress")
            for eni in enis:
                rules = [*after[key], *(r for g in eni.groups if g != self.group_id
                                        for r in theirs.get(g, []))]
                kept[eni.id][way] = [self._allow(r, peers) for r in rules]
        vpc = next((e.vpc for e in enis if e.vpc), "")
        return preflight.Scope(vpc=vpc, enis=enis, cut=preflight.Cut(removed, kept))

    def _allow(self, rule: Rule, peers: dict[str, list[str]]) -> preflight.Allow:
        """What `rule` allows; a group or prefix-list peer resolved (once) to addresses."""
        ref = rule.get("GroupId") or rule.get("PrefixListId")
        if ref and ref not in peers:
            if "GroupId" in rule:
                peers[ref] = sorted(a for e in preflight.enis(
                    self.ec2, [{"Name": "group-id", "Values": [ref]}]) for a in e.addresses)
            else:
                with translate(f"reading prefix list {ref}"):
                    pages = self.ec2.get_paginator(
                        "get_managed_prefix_list_entries").paginate(PrefixListId=ref)
                    peers[ref] = [x["Cidr"] for page in pages for x in page["Entries"]]
        found = peers[ref] if ref else [rule.get("CidrIpv4") or rule["CidrIpv6"]]
        return preflight.allow(rule["IpProtocol"], rule["FromPort"], rule["ToPort"], found)

    def rule_calls(self, frm: list[Rule], to: list[Rule], *, egress: bool) -> list[ApiCall]:
        """Revoke the rules only in `frm`, authorize the ones only in `to` (by content)."""
        have, want = {_key(r): r for r in frm}, {_key(r): r for r in to}
        direction = "Egress" if egress else "Ingress"
        calls = []
        gone = [have[k] for k in sorted(have) if k not in want]
        added = [want[k] for k in sorted(want) if k not in have]
        if gone:
            calls.append(ApiCall(service="ec2", operation=f"RevokeSecurityGroup{direction}",
                                 params={"GroupId": self.group_id,
                                         "IpPermissions": [_permission(r) for r in gone]}))
        if added:
            calls.append(ApiCall(service="ec2", operation=f"AuthorizeSecurityGroup{direction}",
                                 params={"GroupId": self.group_id,
                                         "IpPermissions": [_permission(r) for r in added]}))
        return calls

    def tags(self) -> dict[str, str]:
        with translate(f"reading tags of {self.group_id}"):
            groups = self.ec2.describe_security_groups(GroupIds=[self.group_id])
        tags = groups["SecurityGroups"][0].get("Tags", []) if groups["SecurityGroups"] else []
        return {t["Key"]: t["Value"] for t in tags}
