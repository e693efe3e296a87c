"""Security Hub's per-standard control ids resolved to security control ids.

With consolidated control findings off (and in GovCloud and China), Security Hub sends one
finding per enabled standard, each naming the control as that standard numbers it:
CIS v1.2.0 in `ProductFields.RuleId` and a `ruleset/…/rule/2.2` GeneratorId, the other
standards in `ProductFields.ControlId` and a `<standard>/v/<version>/<id>` GeneratorId
(`pci-dss/v/3.2.1/PCI.S3.6`, `cis-aws-foundations-benchmark/v/1.4.0/3.2`). Policies name
security control ids (`S3.1`), so a finding is resolved first: its
`Compliance.SecurityControlId` when present, else its standard's id through the shipped
table `securityhub_controls.json` (where each mapping comes from is written in it).

    >>> resolve({"GeneratorId": "pci-dss/v/3.2.1/PCI.S3.6"}).security_control
    'S3.1'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.finding import search, text

TABLE = Path(__file__).with_name("securityhub_controls.json")
_CIS_120_RULESET = "arn:aws:securityhub:::ruleset/"
_STANDARD_ARN = ":standards/"
_SECURITY_CONTROL = "security-control/"
_SECURITY_CONTROL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*\.[0-9]+$")  # S3.8, CloudTrail.4


@dataclass(frozen=True)
class Control:
    """What a Security Hub control finding names: the security control id (None when the
    standard's id is not in the table) and, for a per-standard finding, the standard
    (`pci-dss/v/3.2.1`) and the id it gave (`PCI.S3.6`)."""

    security_control: str | None
    standard: str | None = None
    standard_control: str | None = None

    @property
    def carried(self) -> str:
        """The id as the finding carried it, for messages."""
        return self.standard_control or self.security_control or "?"


@cache
def table() -> dict[str, Any]:
    """The shipped table (read once per process)."""
    data: dict[str, Any] = json.loads(TABLE.read_text())
    return data


def standard_ids(standard: str) -> dict[str, str]:
    """{standard control id: security control id} for one standard."""
    mapping: dict[str, str] = table()["standards"].get(standard, {})
    return mapping


def same_ids(standard: str) -> bool:
    """True for standards whose control ids are the security control ids (FSBP, NIST)."""
    return standard in table()["same_ids"]


def to_security_control(standard: str, control: str) -> str | None:
    """The security control id of `control` in `standard`; None when unknown."""
    mapped = standard_ids(standard).get(control)
    if mapped is None and same_ids(standard):
        return control
    return mapped


def resolve(asff: dict[str, Any]) -> Control | None:
    """The control an ASFF control finding names; None for a finding that is not a
    Security Hub control finding (no control field, no standard GeneratorId)."""
    consolidated = text(search("Compliance.SecurityControlId", asff))
    standard, own = _standard_control(asff)
    if consolidated:
        return Control(consolidated, standard, own if own != consolidated else None)
    if own is None:
        return None
    if standard is None:  # a control id with no standard named: trust it if it is one
        trusted = own if _SECURITY_CONTROL_ID.match(own) else None
        return Control(trusted, None, None if trusted else own)
    mapped = to_security_control(standard, own)
    return Control(mapped, standard, None if mapped == own else own)


def _standard_control(asff: dict[str, Any]) -> tuple[str | None, str | None]:
    """(standard, the standard's control id) from GeneratorId, else ProductFields."""
    generator = text(asff.get("GeneratorId")) or ""
    if generator.startswith(_SECURITY_CONTROL):
        return None, generator[len(_SECURITY_CONTROL):] or None
    if generator.startswith(_CIS_120_RULESET) and "/rule/" in generator:
        standard, _, rule = generator[len(_CIS_120_RULESET):].partition("/rule/")
        return standard, rule or None
    head, slash, own = generator.rpartition("/")
    if slash and head.count("/v/") == 1 and head in table()["standards"] | dict.fromkeys(
            table()["same_ids"]):
        return head, own or None
    fields = asff.get("ProductFields")
    fields = fields if isinstance(fields, dict) else {}
    own_id = text(fields.get("RuleId")) or text(fields.get("ControlId"))
    return _standard_of(fields, own_id), own_id


def _standard_of(fields: dict[str, Any], own: str | None) -> str | None:
    """The standard named by ProductFields' standards ARNs (`…::standards/pci-dss/v/3.2.1`,
    CIS v1.2.0's `…:::ruleset/cis-aws-foundations-benchmark/v/1.2.0`)."""
    for key in ("StandardsArn", "StandardsGuideArn"):
        arn = text(fields.get(key)) or ""
        for marker in (_STANDARD_ARN, ":ruleset/"):
            if marker in arn:
                return arn.split(marker, 1)[1] or None
    if own and own.startswith("PCI."):
        return "pci-dss/v/3.2.1"
    return None


def pattern_ids() -> dict[str, set[str]]:
    """{security control id: the per-standard ids that name it} over every standard."""
    out: dict[str, set[str]] = {}
    for mapping in table()["standards"].values():
        for own, security in mapping.items():
            out.setdefault(security, set()).add(own)
    return out
