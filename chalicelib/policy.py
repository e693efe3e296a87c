"""Load the YAML policies (`load_policies`) and pick those a finding triggers (`match`).

A policy file holds a list under `policies:`:

```yaml
policies:
  - name: s3-default-encryption
    description: Buckets holding PHI must be encrypted with our KMS key
    trigger:
      - source: cloudtrail
        kinds: [DeleteBucketEncryption, CreateBucket]
      - source: config
        kinds: [s3-bucket-server-side-encryption-enabled]
    remediation: s3_default_encryption
    mode: auto                     # auto | approve | dry-run
    hipaa: ["164.312(a)(2)(iv)"]
```

Raises:
    PolicyError: every problem in every file, each as `file:line: policy 'x': field: reason`.
"""

from __future__ import annotations

import fnmatch
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import jmespath
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from chalicelib.errors import PolicyError
from chalicelib.finding import AccountId, Finding, Source
from chalicelib.hipaa import CONTROLS
from chalicelib.preflight import Mode as Preflight

EXEMPT_TAG = "autoremediate:exempt"


class Mode(StrEnum):
    AUTO = "auto"
    APPROVE = "approve"
    DRY_RUN = "dry-run"


class Trigger(BaseModel):
    """Which findings start a policy: a source, its kinds, and optional narrowing."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    kinds: list[str] = Field(min_length=1, description=(
        "CloudTrail eventName, GuardDuty type (glob allowed), Config rule identifier "
        "(matches the rule with conformance-pack/Organizations prefixes and suffixes), "
        "CloudWatch alarm name (glob), or for Security Hub a control id (S3.8), the "
        "GuardDuty type of an imported GuardDuty finding, or a GeneratorId (globs allowed)"))
    products: list[str] = Field(default_factory=list, description=(
        "Security Hub only: the products (ProductName, e.g. GuardDuty, Inspector) whose "
        "findings fire the trigger; empty = any"))
    when: str | None = Field(default=None, description=(
        "JMESPath over the raw event; the trigger fires only when it is truthy"))
    min_severity: float | None = Field(default=None, ge=0, le=10,
                                       description="GuardDuty severity floor")

    @model_validator(mode="after")
    def _products_for_security_hub(self) -> Trigger:
        if self.products and self.source is not Source.SECURITYHUB:
            raise ValueError("products: only a securityhub trigger names products")
        return self

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                jmespath.compile(value)
            except jmespath.exceptions.JMESPathError as exc:
                raise ValueError(f"not a valid JMESPath expression: {exc}") from None
        return value


class Policy(BaseModel):
    """Which findings trigger which remediation, how (mode) and why (HIPAA references)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="unique, kebab-case")
    description: str = ""
    trigger: list[Trigger] = Field(min_length=1)
    resource_types: list[str] = Field(default_factory=list, description=(
        "CloudFormation types this policy applies to; empty = the remediation's own"))
    remediation: str
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Mode = Mode.AUTO
    approvers: list[str] = Field(default_factory=list, description=(
        "user ids allowed to approve; empty = REMEDIATION_APPROVERS"))
    approval_hours: float = Field(default=4.0, gt=0, le=168,
                                  description="how long an approval request stays open")
    approvals_required: int = Field(default=1, ge=1, le=3, description=(
        "distinct approvers needed (2 = two-person rule)"))
    hipaa: list[str] = Field(min_length=1, description="HIPAA Security Rule references")
    severity: str = Field(default="medium", pattern="^(low|medium|high|critical)$")
    fallback: bool = Field(default=False, description=(
        "apply only when no other policy matched the finding"))
    exempt_tag: str = EXEMPT_TAG
    exempt_accounts: list[AccountId] = Field(default_factory=list, description=(
        "accounts this policy never changes (account-level settings have no tags)"))
    breach_clock: bool | None = Field(default=None, description=(
        "start the 60-day breach-notification clock on the incidents this policy opens; "
        "default: for GuardDuty findings only"))
    fight_after: int = Field(default=3, ge=1, le=100, description=(
        "fixes of one resource within fight_window_hours after which the next one waits "
        "for approval: something else (IaC) keeps reverting it"))
    fight_window_hours: float = Field(default=24, gt=0, le=24, description=(
        "the window for fight_after (at most 24 h: re-drifts join the incident for 24 h, "
        "and the fixes are counted on it)"))
    resource_tags: dict[str, str] = Field(default_factory=dict, description=(
        "act only on resources carrying all these tags (key: value); others are ignored "
        "with the reason. Read from the tags the remediation reads for exemptions"))

    preflight: Preflight = Field(default=Preflight.HOLD, description=(
        "for a remediation that can cut a connection: read the VPC's flow logs first. "
        "hold_if_traffic: an automatic fix that would cut accepted traffic on a port other "
        "than 22/3389 waits for approval; note: only show the figures; off: do not read"))
    preflight_days: int = Field(default=14, ge=1, le=90, description=(
        "how many days of flow logs the pre-flight check reads"))

    def remediation_params(self, cuts_traffic: bool) -> dict[str, Any]:
        """`params`, with the pre-flight options for a remediation that can cut traffic."""
        if not cuts_traffic:
            return self.params
        return {**self.params, "preflight": Preflight(self.preflight).value,
                "preflight_days": self.preflight_days}

    # where it came from, for messages and ordering (not part of the YAML)
    file: str = Field(default="", exclude=True)
    line: int = Field(default=0, exclude=True)

    @field_validator("hipaa")
    @classmethod
    def _known_controls(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CONTROLS]
        if unknown:
            raise ValueError(f"unknown HIPAA reference(s) {unknown}; known: "
                             f"{', '.join(CONTROLS)}")
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[dict[str, Any]]


# -- loading ----------------------------------------------------------------------------
def _lines(node: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every path in a composed YAML document to its 1-based line."""
    import yaml

    out = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            out.update(_lines(value, sub))
            out[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_lines(item, (*path, i)))
    return out


def _line_for(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def load_file(path: Path) -> list[Policy]:
    """Load one file; raises PolicyError listing every problem in it."""
    try:
        import yaml
    except ImportError:  # the Lambda artifact ships the validated copy instead of PyYAML
        raise PolicyError([f"{path}: PyYAML is not installed here, and the validated copy "
                           f"({VALIDATED.name}) is not of these files: rebuild the artifact "
                           "with `remediate package`"]) from None

    from remediations import load as load_registry

    registry = load_registry()
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([f"{name}: cannot read: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise PolicyError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    lines = _lines(node) if node is not None else {}
    try:
        doc = _File.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise PolicyError([
            f"{name}:{_line_for(lines, tuple(e['loc']))}: {'.'.join(map(str, e['loc'])) or 'file'}"
            f": {e['msg']} (a policy file is a mapping with one key, 'policies', a list)"
            for e in exc.errors()]) from None

    problems: list[str] = []
    policies: list[Policy] = []
    for i, raw in enumerate(doc.policies):
        label = f"policy {raw.get('name', f'#{i + 1}')!r}"
        here = _line_for(lines, ("policies", i))
        try:
            policy = Policy.model_validate({**raw, "file": name, "line": here})
        except ValidationError as exc:
            for e in exc.errors():
                loc = ("policies", i, *e["loc"])
                field = ".".join(map(str, e["loc"])) or "policy"
                problems.append(f"{name}:{_line_for(lines, loc)}: {label}: {field}: {e['msg']}")
            continue
        rem = registry.get(policy.remediation)
        if rem is None:
            problems.append(
                f"{name}:{_line_for(lines, ('policies', i, 'remediation'))}: {label}: "
                f"remediation: unknown remediation {policy.remediation!r}; valid: "
                f"{', '.join(sorted(registry))}")
            continue
        try:
            rem.Params.model_validate(policy.params)
        except ValidationError as exc:
            for e in exc.errors():
                loc = ("policies", i, "params", *e["loc"])
                field = ".".join(map(str, ("params", *e["loc"])))
                problems.append(f"{name}:{_line_for(lines, loc)}: {label}: {field}: {e['msg']}")
            continue
        policies.append(policy)
    if problems:
        raise PolicyError(problems)
    return policies


# The shipped policies, validated and rendered to JSON (`python -m chalicelib.policy`):
# a cold Lambda parses them in ~5 ms instead of ~150 ms of pure-Python YAML. Used only
# while its digest matches the YAML files read now; otherwise the YAML is loaded.
VALIDATED = Path(__file__).with_name("policies.json")


def _digest(files: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def load_policies(directory: Path, *, validated: bool = True) -> list[Policy]:
    """Load every `*.yaml`/`*.yml` in `directory`, in file-name order (from the validated
    copy when it is of exactly these files, unless `validated` is False).

    Raises:
        PolicyError: listing every problem in every file, and duplicate policy names.
    """
    if not directory.is_dir():
        raise PolicyError([f"{directory}: no such policy directory"])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise PolicyError([f"{directory}: no policy files (*.yaml)"])
    if validated and VALIDATED.is_file():
        import json

        rendered = json.loads(VALIDATED.read_text(encoding="utf-8"))
        if rendered.get("sha256") == _digest(files):
            return [Policy.model_validate({**p, "file": str(directory / p["file"])})
                    for p in rendered["policies"]]
    problems: list[str] = []
    policies: list[Policy] = []
    seen: dict[str, Policy] = {}
    for path in files:
        try:
            loaded = load_file(path)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        for policy in loaded:
            if policy.name in seen:
                first = seen[policy.name]
                problems.append(f"{policy.file}:{policy.line}: policy {policy.name!r}: name: "
                                f"duplicate of {first.file}:{first.line}")
                continue
            seen[policy.name] = policy
            policies.append(policy)
    if problems:
        raise PolicyError(problems)
    return policies


# -- matching ---------------------------------------------------------------------------
def _token_form(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def config_rule_matches(rule_name: str, identifier: str) -> bool:
    """True when `rule_name` is the managed rule `identifier`, prefixes/suffixes allowed.

    `S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED`, `s3-bucket-server-side-encryption-enabled`,
    `securityhub-s3-bucket-server-side-encryption-enabled-a1b2c3` and
    `OrgConfigRule-s3-bucket-server-side-encryption-enabled-xyz` all match one another.
    """
    name, ident = _token_form(rule_name), _token_form(identifier)
    return re.search(rf"(^|-){re.escape(ident)}(-|$)", name) is not None


def _kind_matches(trigger: Trigger, finding: Finding) -> bool:
    names = [finding.kind]
    if trigger.source is Source.SECURITYHUB and finding.generator:
        names.append(finding.generator)
    for pattern in trigger.kinds:
        if trigger.source is Source.CONFIG:
            if config_rule_matches(finding.kind, pattern):
                return True
        elif any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


def _fires(trigger: Trigger, finding: Finding) -> bool:
    if trigger.source is not finding.source or not _kind_matches(trigger, finding):
        return False
    if trigger.products and finding.product not in trigger.products:
        return False
    if trigger.min_severity is not None and (finding.severity or 0) < trigger.min_severity:
        return False
    if trigger.when is None:
        return True
    try:
        return bool(jmespath.search(trigger.when, finding.raw))
    except jmespath.exceptions.JMESPathError as exc:
        # the event's data has a shape the condition cannot evaluate (e.g. a number where a
        # list belongs): this trigger does not fire; the other policies still get the event
        from chalicelib.log import logger

        logger.warning("policy condition could not be evaluated",
                       extra={"error": type(exc).__name__, "kind": finding.kind})
        return False


def match(finding: Finding, policies: list[Policy]) -> list[Policy]:
    """The policies `finding` triggers, in file order; fallbacks only when nothing else did."""
    from remediations import info  # the index: matching imports no remediation module

    def applies(policy: Policy) -> bool:
        if not any(_fires(t, finding) for t in policy.trigger):
            return False
        types = policy.resource_types or list(info(policy.remediation)["resource_types"])
        rtype = finding.resource.type if finding.resource else None
        return "*" in types or rtype in types

    primary = [p for p in policies if not p.fallback and applies(p)]
    return primary or [p for p in policies if p.fallback and applies(p)]


def render_validated(directory: Path) -> str:
    """The validated copy of the policies in `directory` (see VALIDATED)."""
    import json

    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    policies = load_policies(directory, validated=False)
    return json.dumps({"sha256": _digest(files), "policies": [
        {**p.model_dump(mode="json", exclude_defaults=True), "file": Path(p.file).name,
         "line": p.line} for p in policies]}, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    from chalicelib.config import default_policy_dir

    print(render_validated(default_policy_dir()), end="")
