"""Pre-flight: would this change cut live traffic? Read the VPC's flow logs before a change
that can cut a connection, and count the accepted flows it would stop.

A remediation that declares `cuts_traffic` mixes in `TrafficChecked`: its plan names the
resource's network interfaces and a `Cut` (the rules the change removes, and per interface
the rules that stay), and `check` reads — never writes — the flow logs delivered to
CloudWatch Logs for the last `preflight_days`, at most `preflight_max_events` events:

    >>> traffic.figure()                                            # doctest: +SKIP
    'live traffic: 42 accepted flows from 7 sources to port 5432 in 14 days'

A flow counts when it was ACCEPTed, touches one of the resource's interfaces, is allowed
by a removed rule (protocol, port range, peer) and by no rule that stays. The figures are
addresses and ports only (never payload, never tags): they go into the plan's notes, its
`saved` evidence (`saved["preflight"]`), Slack and the timeline; `gate.preflight` turns an
automatic fix into an approval request when traffic on a port other than 22/3389 would be
cut.

Records are parsed by the flow log's own `LogFormat` (the default is the version 2
fields: version account-id interface-id srcaddr dstaddr srcport dstport protocol packets
bytes start end action log-status). Flow logs sent to S3 or Firehose are not read (noted).
Counts err towards holding: version 2 records carry no TCP flags, so a return flow of an
outbound connection counts when a removed rule's range holds its ephemeral port.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, Field

from chalicelib.aws import translate
from remediations.base import NoParams, P, Plan, Remediation, State

KEY = "preflight"  # in Plan.saved
ADMIN_PORTS = (22, 3389)  # cut regardless of traffic: the approver of nothing, only noted
DEFAULT_FORMAT = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} "
                  "${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} "
                  "${log-status}")
NEEDED = ("interface-id", "srcaddr", "dstaddr", "dstport", "protocol", "action")
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
PORTED = (6, 17)  # protocols whose rules have port ranges
PAGE = 10_000  # FilterLogEvents' largest page
MAX_CALLS = 500  # FilterLogEvents calls per check (empty pages still cost time)
PATTERN_CHARS = 1000  # a filter pattern holds at most 1024 characters
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
WORLD = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/0", "::/0"))
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Mode(StrEnum):
    HOLD = "hold_if_traffic"  # an automatic fix that would cut live traffic asks first
    NOTE = "note"  # read and note the figures; never hold
    OFF = "off"  # do not read


class TrafficParams(NoParams):
    """The parameters every traffic-cutting remediation takes (`preflight` and
    `preflight_days` are filled from the policy's options of those names)."""

    SETTINGS: ClassVar[dict[str, str]] = {"preflight_max_events": "preflight_max_events"}

    preflight: Mode = Field(default=Mode.HOLD, description=(
        "the policy's `preflight` option (hold_if_traffic | note | off)"))
    preflight_days: int = Field(default=14, ge=1, le=90, description=(
        "the policy's `preflight_days`: how far back the flow logs are read"))
    preflight_max_events: int = Field(default=100_000, ge=1, description=(
        "at most this many flow-log events are read; REMEDIATION_PREFLIGHT_MAX_EVENTS"))


# -- what a change cuts -------------------------------------------------------------------
class Flow(NamedTuple):
    eni: str
    src: str
    dst: str
    dstport: int
    protocol: int


def parse(message: str, fields: tuple[str, ...]) -> Flow | None:
    """An ACCEPTed flow from one record in the format `fields`; None for anything else
    (rejected, NODATA/SKIPDATA, a record of another shape)."""
    values = message.split()
    if len(values) != len(fields):
        return None
    rec = dict(zip(fields, values, strict=True))
    if rec["action"] != "ACCEPT" or rec.get("log-status", "OK") != "OK":
        return None
    try:
        return Flow(rec["interface-id"], rec["srcaddr"], rec["dstaddr"], int(rec["dstport"]),
                    int(rec["protocol"]))
    except ValueError:
        return None


def protocol_number(value: str | int) -> int | None:
    """A rule's IpProtocol as a number; None for all protocols (-1)."""
    text = str(value).lower()
    if text == "-1":
        return None
    return PROTOCOLS.get(text, int(text) if text.isdigit() else -2)


@dataclass(frozen=True)
class Allow:
    """What one rule allows: a protocol (None: all), a port range, peers."""

    protocol: int | None
    low: int
    high: int
    peers: tuple[Network, ...]

    def covers(self, flow: Flow, peer: str) -> bool:
        if self.protocol is not None and flow.protocol != self.protocol:
            return False
        if self.protocol in PORTED and not self.low <= flow.dstport <= self.high:
            return False
        addr = ipaddress.ip_address(peer)
        return any(addr.version == net.version and addr in net for net in self.peers)


def allow(protocol: str | int, low: int, high: int, peers: Iterable[str]) -> Allow:
    nets = tuple(ipaddress.ip_network(p, strict=False) for p in peers)
    return Allow(protocol_number(protocol), int(low), int(high), nets)


@dataclass(frozen=True)
class Eni:
    id: str
    addresses: frozenset[str]
    subnet: str = ""
    vpc: str = ""
    groups: tuple[str, ...] = ()


@dataclass
class Cut:
    """The planned change, as flows: `removed` rules by direction (`ingress`: flows to an
    interface, peer = source; `egress`: flows from it, peer = destination) and, per
    interface, the rules of each direction that stay (this group's and its other groups')."""

    removed: dict[str, list[Allow]]
    kept: dict[str, dict[str, list[Allow]]] = field(default_factory=dict)

    def direction(self, flow: Flow, eni: Eni) -> tuple[str, str] | None:
        """(direction, peer) of a flow the change cuts, else None."""
        if flow.dst in eni.addresses:
            way, peer = "ingress", flow.src
        elif flow.src in eni.addresses:
            way, peer = "egress", flow.dst
        else:
            return None
        try:
            if not any(a.covers(flow, peer) for a in self.removed.get(way, [])):
                return None
            if any(a.covers(flow, peer) for a in self.kept.get(eni.id, {}).get(way, [])):
                return None
        except ValueError:  # "-" or a malformed address
            return None
        return way, peer


@dataclass
class Scope:
    """Where to look: the VPC, the resource's interfaces, and what the change cuts."""

    vpc: str
    enis: list[Eni]
    cut: Cut
    unknown: str = ""  # why the interfaces cannot be known (then nothing is read)


# -- the result ---------------------------------------------------------------------------
class Tally(BaseModel):
    flows: int = 0
    peers: int = 0
    enis: int = 0
    ports: dict[str, int] = Field(default_factory=dict, description="port -> flows")
    top: list[str] = Field(default_factory=list, description="top peers (/24, /64) and flows")


class Traffic(BaseModel):
    """What the pre-flight found (addresses and ports only)."""

    checked: bool
    days: int
    note: str = Field(default="", description="why traffic was not checked, or a caveat")
    directions: list[str] = Field(default_factory=list)
    events: int = Field(default=0, description="flow-log events read")
    truncated: bool = False
    cut: Tally = Field(default_factory=Tally, description="flows the change would cut")
    held: Tally = Field(default_factory=Tally, description=(
        "the same, on ports other than the admin ports 22/3389 (those are cut regardless)"))

    def figure(self, tally: Tally | None = None) -> str:
        """`live traffic: 42 accepted flows from 7 sources to port 5432 in 14 days`."""
        t = tally or self.cut
        ports = sorted(t.ports, key=lambda p: (-t.ports[p], int(p)))
        where = f"port{'s' if len(ports) > 1 else ''} {', '.join(ports)}"
        if self.directions == ["ingress"]:
            how = f"from {t.peers:,} source{_s(t.peers)} to {where}"
        elif self.directions == ["egress"]:
            how = f"to {t.peers:,} destination{_s(t.peers)} on {where}"
        else:
            how = f"with {t.peers:,} peer{_s(t.peers)} on {where}"
        return (f"live traffic: {t.flows:,} accepted flow{_s(t.flows)} {how} in "
                f"{self.days} days")

    def notes(self) -> list[str]:
        if not self.checked:
            return [f"pre-flight: {self.note}"]
        if not self.cut.flows:
            out = [f"pre-flight: no accepted flows in the last {self.days} days that this "
                   f"change would cut ({self.events:,} flow-log events read)"]
        else:
            t = self.cut
            out = [f"pre-flight: {self.figure()} on {t.enis} ENI{_s(t.enis)}; top "
                   f"{'sources' if self.directions == ['ingress'] else 'peers'} "
                   f"{', '.join(t.top)}; per port "
                   f"{', '.join(f'{p}: {n:,}' for p, n in sorted(t.ports.items()))}"]
        if self.truncated:
            out.append(f"pre-flight: stopped after {self.events:,} flow-log events "
                       "(REMEDIATION_PREFLIGHT_MAX_EVENTS): older traffic was not read")
        if self.note:
            out.append(f"pre-flight: {self.note}")
        return out


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def skipped(reason: str, days: int) -> Traffic:
    return Traffic(checked=False, days=days, note=reason)


def _block(addr: str) -> str:
    ip = ipaddress.ip_address(addr)
    return str(ipaddress.ip_network(f"{addr}/{24 if ip.version == 4 else 64}", strict=False))


def _tally(flows: list[tuple[Flow, str]]) -> Tally:
    if not flows:
        return Tally()
    blocks = Counter(_block(peer) for _, peer in flows)
    return Tally(flows=len(flows), peers=len({peer for _, peer in flows}),
                 enis=len({f.eni for f, _ in flows}),
                 ports=dict(Counter(str(f.dstport) for f, _ in flows)),
                 top=[f"{b} ({n:,})" for b, n in blocks.most_common(3)])


# -- reading ------------------------------------------------------------------------------
def enis(ec2: Any, filters: list[dict[str, Any]]) -> list[Eni]:
    """The network interfaces `filters` select (DescribeNetworkInterfaces)."""
    with translate("reading network interfaces for the pre-flight check"):
        pages = ec2.get_paginator("describe_network_interfaces").paginate(Filters=filters)
        found = [n for page in pages for n in page["NetworkInterfaces"]]
    out = []
    for n in found:
        addrs = {a["PrivateIpAddress"] for a in n.get("PrivateIpAddresses", [])}
        addrs |= {a["Ipv6Address"] for a in n.get("Ipv6Addresses", [])}
        if n.get("PrivateIpAddress"):
            addrs.add(n["PrivateIpAddress"])
        out.append(Eni(n["NetworkInterfaceId"], frozenset(addrs), n.get("SubnetId", ""),
                       n.get("VpcId", ""), tuple(g["GroupId"] for g in n.get("Groups", []))))
    return sorted(out, key=lambda e: e.id)


def _fields(log_format: str | None) -> tuple[str, ...]:
    return tuple(part.strip("${}") for part in (log_format or DEFAULT_FORMAT).split())


def _destinations(ec2: Any, scope: Scope) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """CloudWatch log groups of the flow logs covering the scope (group -> record fields),
    and notes on the ones that cannot be read."""
    ids = sorted({scope.vpc, *(e.subnet for e in scope.enis if e.subnet),
                  *(e.id for e in scope.enis)})
    with translate(f"reading the flow logs of {scope.vpc}"):
        pages = ec2.get_paginator("describe_flow_logs").paginate(
            Filters=[{"Name": "resource-id", "Values": ids}])
        logs = [f for page in pages for f in page["FlowLogs"]]
    groups: dict[str, tuple[str, ...]] = {}
    other: list[str] = []
    for log in logs:
        kind = log.get("LogDestinationType", "cloud-watch-logs")
        fields = _fields(log.get("LogFormat"))
        if kind != "cloud-watch-logs":
            other.append(f"flow logs go to {'S3' if kind == 's3' else kind}: traffic not "
                         "checked")
        elif log.get("TrafficType") == "REJECT":
            other.append(f"flow log {log['FlowLogId']} records rejected traffic only")
        elif missing := [f for f in NEEDED if f not in fields]:
            other.append(f"flow log {log['FlowLogId']} lacks {', '.join(missing)}")
        elif log.get("LogGroupName"):
            groups[log["LogGroupName"]] = fields
    return groups, sorted(set(other))


def _patterns(ids: list[str]) -> list[str]:
    """Filter patterns matching events of any of `ids` (quoted terms; `?` is OR)."""
    out: list[str] = []
    current: list[str] = []
    for eni in ids:
        if current and len(" ".join(current)) + len(eni) + 4 > PATTERN_CHARS:
            out.append(" ".join(current))
            current = []
        current.append(f'?"{eni}"')
    if current:
        out.append(" ".join(current) if len(current) > 1 else current[0].lstrip("?"))
    return out


def check(clients: Callable[[str], Any], scope: Scope, *, days: int, max_events: int,
          now: dt.datetime) -> Traffic:
    """Count the accepted flows of the last `days` that `scope.cut` would stop. Read-only:
    DescribeFlowLogs, FilterLogEvents."""
    if scope.unknown:
        return skipped(scope.unknown, days)
    if not scope.enis:
        return Traffic(checked=True, days=days, note="no network interface is affected")
    groups, other = _destinations(clients("ec2"), scope)
    if not groups:
        return skipped("; ".join(other) or "no flow logs: traffic not checked", days)
    by_id = {e.id: e for e in scope.enis}
    end = int(now.timestamp() * 1000)
    start = int((now - dt.timedelta(days=days)).timestamp() * 1000)
    logs = clients("logs")
    read, calls, truncated = 0, 0, False
    seen: set[tuple[str, str]] = set()
    cut: list[tuple[Flow, str, str]] = []
    for group, fields in sorted(groups.items()):
        for pattern in _patterns(sorted(by_id)):
            token: str | None = None
            while not truncated:
                if read >= max_events or calls >= MAX_CALLS:
                    truncated = True
                    break
                args: dict[str, Any] = {"logGroupName": group, "startTime": start,
                                        "endTime": end, "filterPattern": pattern,
                                        "limit": min(PAGE, max_events - read)}
                if token:
                    args["nextToken"] = token
                with translate(f"reading flow-log group {group}"):
                    page = logs.filter_log_events(**args)
                calls += 1
                for event in page.get("events", []):
                    read += 1
                    ident = (event.get("logStreamName", ""), event.get("eventId", ""))
                    if ident in seen and ident != ("", ""):
                        continue
                    seen.add(ident)
                    flow = parse(event.get("message", ""), fields)
                    eni = by_id.get(flow.eni) if flow else None
                    hit = scope.cut.direction(flow, eni) if flow and eni else None
                    if flow and hit:
                        cut.append((flow, *hit))
                token = page.get("nextToken")
                if not token:
                    break
    pairs = [(f, peer) for f, _, peer in cut]
    return Traffic(
        checked=True, days=days, events=read, truncated=truncated,
        directions=sorted({way for _, way, _ in cut}) or sorted(scope.cut.removed),
        note="; ".join(other), cut=_tally(pairs),
        held=_tally([(f, p) for f, p in pairs if f.dstport not in ADMIN_PORTS]))


def held_ports(traffic: Traffic) -> list[int]:
    """Ports other than 22/3389 on which the change would cut live traffic."""
    return sorted(int(p) for p, n in traffic.held.ports.items() if n)


# -- the wiring a traffic-cutting remediation mixes in ------------------------------------
class TrafficChecked(Remediation[P]):
    """A remediation whose change can cut a connection: its plan carries the pre-flight's
    figures (notes, and `saved["preflight"]` for the gate). Fill in `traffic_scope`."""

    def traffic_scope(self, before: State, after: State) -> Scope:
        raise NotImplementedError

    def plan(self) -> Plan:
        plan = super().plan()
        if not plan.calls:
            return plan
        traffic = self.preflight(plan)
        return plan.model_copy(update={
            "notes": [*plan.notes, *traffic.notes()],
            "saved": {**plan.saved, KEY: traffic.model_dump(mode="json")}})

    def preflight(self, plan: Plan) -> Traffic:
        params = self.params
        assert isinstance(params, TrafficParams)
        days = params.preflight_days
        if params.preflight is Mode.OFF:
            return skipped("off for this policy: traffic not checked", days)
        if self.target.staged is not None:
            return skipped("a drill reads no flow logs: traffic not checked", days)
        scope = self.traffic_scope(plan.before, plan.after)
        return check(self.target.clients, scope, days=days,
                     max_events=params.preflight_max_events, now=self.target.clock())
