"""Every IAM policy we ship, read by parliament: AWS's Service Authorization Reference (the
actions, the resource types each takes, their ARN formats) and the linter built on it.

What is read: both stages' Lambda policies (.chalice/policy-*.json), every policy in the
central template as `remediate package` builds it (function roles and their trust
policies, the dead-letter write policy, the key, queue and bus policies), the member role
(deploy/member-role.json) and every policy of the member stack (deploy/member-stack.json).
CloudFormation intrinsics are resolved first (parliament reads plain JSON): pseudo
parameters and parameters to sample values, `Fn::GetAtt [X, Arn]` to an ARN of X's type
in the Reference's own format, both sides of an `Fn::If`. A trust policy has no
`Resource` (the role is the resource), so it is read with the role's ARN as its Resource.

A finding of the kinds that make a policy wrong in AWS (a resource that does not match an
action, an action or prefix AWS does not define, a malformed or unparseable statement)
always fails; any other finding fails unless it is in ACCEPTED with its reason (also in
docs/architecture.md, "Our own IAM"), and an accepted finding that no longer occurs fails
too, so the list stays true.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import parliament
import pytest

from chalicelib.iam import MEMBER_ROLE_FILE, arn_formats, lambda_policy
from chalicelib.member import MEMBER_STACK_FILE

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT, SECURITY_ACCOUNT, REGION = "123456789012", "210987654321", "us-east-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
          "AWS::StackName": "autoremediate", "AWS::URLSuffix": "amazonaws.com"}
# a value for each template parameter; each must match the parameter's AllowedPattern
PARAMETERS: dict[str, Any] = {
    "OrganizationId": "o-abcdefghij",
    "AlarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:autoremediate-alarms",
    "PowertoolsLayerArn": f"arn:aws:lambda:{REGION}:017000801446:layer:Powertools:1",
    "SecurityAccountId": SECURITY_ACCOUNT,
    "TrustedRoleNamePattern": "autoremediate-*",
    "CentralBusArn": f"arn:aws:events:{REGION}:{SECURITY_ACCOUNT}:event-bus/autoremediate",
    "PrimaryRegion": REGION,
    "DataKeyAlias": "alias/phi-data",
    "CreateDataKey": "true",
    "TrustedRoleArns": [f"arn:aws:iam::{SECURITY_ACCOUNT}:role/autoremediate-CloudtrailCalls"],
}
# CloudFormation's service names where they are not the IAM prefix
CFN_SERVICE = {"serverless": "lambda"}

# What makes a policy wrong in AWS, never accepted: parliament's ERROR and MALFORMED
# groups (unparseable policy, missing element, duplicate Sid, RESOURCE_MISMATCH, ...) and
# the invalid names.
NEVER = frozenset({issue for issue, c in parliament.config.items()
                   if c.get("group") in ("ERROR", "MALFORMED")}
                  | {"UNKNOWN_ACTION", "UNKNOWN_PREFIX", "INVALID_ARN", "INVALID_SID"})


@dataclass(frozen=True)
class Accepted:
    issue: str
    policies: str  # regex on the policy's name
    says: str  # a piece of what parliament reports (its detail and location)
    reason: str


# Kept in step with docs/architecture.md, "Our own IAM". GRANTS: the policies that give
# our functions and the member role the remediations' actions.
GRANTS = r"^lambda-policy-|MemberRole\.Policies|^central:\w+Role\.Policies"
ACCEPTED = (
    Accepted("RESOURCE_POLICY_PRIVILEGE_ESCALATION", GRANTS, "allow s3:PutBucketPolicy",
             "s3_revoke_public_policy rewrites bucket policies, so whoever holds it could "
             "grant itself object access; we hold no object action. Fixing the policy is "
             "the point"),
    Accepted("RESOURCE_POLICY_PRIVILEGE_ESCALATION", GRANTS, "allow s3:PutBucketAcl",
             "s3_block_public_acl rewrites bucket ACLs: as for PutBucketPolicy"),
    Accepted("RESOURCE_POLICY_PRIVILEGE_ESCALATION", GRANTS,
             "allow s3:PutLifecycleConfiguration",
             "s3_version_lifecycle puts the one rule a bucket without lifecycle gets "
             "(noncurrent versions expire after six years): a lifecycle rule can expire "
             "objects, which is why it acts only on buckets with none, and only that rule"),
    Accepted("PRIVILEGE_ESCALATION", GRANTS, "iam:",
             "iam_revoke_wildcard and iam_revoke_role_sessions put, attach and detach the "
             "policies of roles, users and groups and set policy versions: that is how a "
             "wildcard grant is taken back and a role's sessions revoked"),
    Accepted("PERMISSIONS_MANAGEMENT_ACTIONS", GRANTS, "iam:",
             "the IAM, bucket policy and ACL, snapshot and topic permission fixes change who "
             "may do what: that is what those remediations are for"),
    Accepted("CREDENTIALS_EXPOSURE", GRANTS, "iam:updateaccesskey",
             "iam_deactivate_access_key sets a leaked key Inactive (its rollback re-activates "
             "it; neither returns a secret); the central roles assume the member role"),
    Accepted("CREDENTIALS_EXPOSURE", r"AssumeRolePolicyDocument", "sts:assumerole",
             "a trust policy's sts:AssumeRole names who may assume the role (Lambda, "
             "EventBridge, our central roles); the community auditor reads it as a grant"),
    Accepted("RESOURCE_STAR", r"KeyPolicy$", "kms:",
             "in a key policy, Resource \"*\" is this key and only it"),
    Accepted("PERMISSIONS_MANAGEMENT_ACTIONS", r"KeyPolicy$", "kms:putkeypolicy",
             "the account administers its own key (CreateGrant, RevokeGrant, PutKeyPolicy): "
             "a key whose policy nobody may change cannot be managed"),
)


@dataclass(frozen=True)
class Finding:
    policy: str
    issue: str
    says: str

    def accepted_by(self, accepted: Accepted) -> bool:
        return (self.issue == accepted.issue and accepted.says.lower() in self.says.lower()
                and re.search(accepted.policies, self.policy) is not None)


# --- CloudFormation to plain policies ------------------------------------------------


def _arn_of(template: dict[str, Any], logical_id: str) -> str:
    """An ARN of the resource's type, in the Service Authorization Reference's format."""
    resource = template["Resources"][logical_id]
    _, service, kind = resource["Type"].split("::")
    prefix = CFN_SERVICE.get(service.lower(), service.lower())
    if resource["Type"] == "AWS::Events::Rule":  # the Reference has a type per kind of bus
        bus = "custom" if resource["Properties"].get("EventBusName") else "default"
        kind = f"rule-on-{bus}-event-bus"
    (arn,) = [arn for rtype, arn in arn_formats(prefix).items()
              if rtype.replace("-", "").lower() == kind.replace("-", "").lower()]
    values = {"Partition": "aws", "Region": REGION, "Account": ACCOUNT}
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], logical_id), arn)


def _ref(template: dict[str, Any], name: str) -> Any:
    if name in PSEUDO:
        return PSEUDO[name]
    if name in template.get("Parameters", {}):
        return PARAMETERS[name]
    assert name in template["Resources"], f"Ref to nothing: {name}"
    return name  # a resource's physical id (a name, a URL, a key id): never an ARN


def resolve(node: Any, template: dict[str, Any], *, then: bool) -> Any:
    """`node` with every intrinsic replaced by a sample value; `then` picks Fn::If's side."""
    if isinstance(node, list):
        return [resolve(v, template, then=then) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return _ref(template, arg)
        if fn == "Fn::GetAtt":
            logical_id, attribute = arg
            return _arn_of(template, logical_id) if attribute == "Arn" else logical_id
        if fn == "Fn::If":
            return resolve(arg[1] if then else arg[2], template, then=then)
        if fn == "Fn::Join":
            sep, items = arg
            items = resolve(items, template, then=then)
            return sep.join(str(i) for i in items)
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else arg

            def value(m: re.Match[str]) -> str:
                name = m[1]
                if name in extra:
                    return str(resolve(extra[name], template, then=then))
                if name.endswith(".Arn"):
                    return _arn_of(template, name[:-4])
                return str(_ref(template, name))

            return re.sub(r"\$\{([^}!]+)\}", value, text)
        assert not fn.startswith("Fn::"), f"intrinsic the test cannot resolve: {fn}"
    return {k: resolve(v, template, then=then) for k, v in node.items()}


def _has_if(node: Any) -> bool:
    if isinstance(node, dict):
        return "Fn::If" in node or any(_has_if(v) for v in node.values())
    return isinstance(node, list) and any(_has_if(v) for v in node)


def _documents_in(node: Any, path: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, key it sits under, document) for every policy document under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if (isinstance(value, dict) and "Statement" in value
                    and set(value) <= {"Version", "Id", "Statement"}):
                yield f"{path}.{key}", key, value
            else:
                yield from _documents_in(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _documents_in(value, f"{path}[{i}]")


def template_policies(name: str, template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every policy of the template, resolved: (name, document). Also checks that every
    statement anywhere in the template is in one of them."""
    raw: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::EventBusPolicy":
            raw.append((f"{logical_id}.Statement", "Statement", resource,
                        {"Version": "2012-10-17", "Statement": [props["Statement"]]}))
            continue
        for path, key, doc in _documents_in(props, logical_id):
            if key == "AssumeRolePolicyDocument":  # the role is the trust policy's resource
                doc = {**doc, "Statement": [
                    {**s, "Resource": {"Fn::GetAtt": [logical_id, "Arn"]}}
                    for s in doc["Statement"]]}
            raw.append((path, key, resource, doc))
    covered = {id(s) for _, _, resource, _ in raw
               for s in _statements(resource.get("Properties", {}))}
    assert {id(s) for s in _statements(template)} <= covered, "a statement nobody reads"
    out = []
    for path, _, _, doc in raw:
        for then in ((True, False) if _has_if(doc) else (True,)):
            suffix = "" if not _has_if(doc) else "[if]" if then else "[else]"
            out.append((f"{name}:{path}{suffix}", resolve(doc, template, then=then)))
    return out


def _statements(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if "Effect" in node and ("Action" in node or "NotAction" in node) else []
        return own + [s for v in node.values() for s in _statements(v)]
    if isinstance(node, list):
        return [s for v in node for s in _statements(v)]
    return []


# --- what parliament says --------------------------------------------------------------


def analyze(name: str, document: dict[str, Any]) -> list[Finding]:
    policy = parliament.analyze_policy_string(json.dumps(document), filepath=name,
                                              include_community_auditors=True)
    found = []
    for f in policy.findings:
        location = {k: v for k, v in (f.location or {}).items() if k != "filepath"}
        found.append(Finding(name, f.issue, json.dumps(
            {"detail": f.detail, "location": location}, default=str, sort_keys=True)))
    return found


@pytest.fixture(scope="module")
def central(prod_artifact: Path) -> dict[str, Any]:
    artifact = prod_artifact
    with zipfile.ZipFile(artifact) as zf:  # the linter and its database stay out of it
        assert not [n for n in zf.namelist() if n.startswith("parliament/")]
    return dict(json.loads(artifact.with_name("sam.json").read_text()))


@pytest.fixture(scope="module")
def shipped(central: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every policy we ship: (name, document)."""
    policies = [(f"lambda-policy-{stage}",
                 json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text()))
                for stage in ("dev", "prod")]
    policies += template_policies("central", central)
    for path in (MEMBER_ROLE_FILE, MEMBER_STACK_FILE):
        policies += template_policies(path, json.loads((ROOT / path).read_text()))
    return policies


@pytest.fixture(scope="module")
def findings(shipped: list[tuple[str, dict[str, Any]]]) -> list[Finding]:
    return [f for name, doc in shipped for f in analyze(name, doc)]


def test_every_policy_we_ship_is_read(shipped: list[tuple[str, dict[str, Any]]]) -> None:
    names = [name for name, _ in shipped]
    assert len(names) == len(set(names))
    central_roles = [n for n in names if re.fullmatch(r"central:\w+Role\.Policies\[0\]\."
                                                      r"PolicyDocument", n)]
    assert len(central_roles) >= 9  # one per function
    for expected in ("central:EventKey.KeyPolicy", "central:DeadLetterWrite.PolicyDocument",
                     "central:CentralBusPolicy.Statement",
                     "central:DeadLetterQueuePolicy.PolicyDocument",
                     f"{MEMBER_STACK_FILE}:ForwardRole.Policies[0].PolicyDocument",
                     f"{MEMBER_STACK_FILE}:MemberRole.AssumeRolePolicyDocument[if]",
                     f"{MEMBER_STACK_FILE}:MemberRole.AssumeRolePolicyDocument[else]",
                     f"{MEMBER_ROLE_FILE}:MemberRole.Policies[0].PolicyDocument"):
        assert expected in names


def test_sample_parameters_are_valid_values(central: dict[str, Any]) -> None:
    templates = [central, *(json.loads((ROOT / p).read_text()) for p in (MEMBER_ROLE_FILE,
                                                                         MEMBER_STACK_FILE))]
    for template in templates:
        for name, spec in template["Parameters"].items():
            value = PARAMETERS[name]
            for item in value if isinstance(value, list) else [value]:
                assert re.search(spec.get("AllowedPattern", ""), item), (name, item)


def test_parliament_finds_nothing_wrong_and_nothing_unaccepted(findings: list[Finding]) -> None:
    assert not [a for a in ACCEPTED if a.issue in NEVER]
    wrong = [f for f in findings if f.issue in NEVER]
    assert not wrong, "\n".join(map(str, wrong))
    unaccepted = [f for f in findings if not any(f.accepted_by(a) for a in ACCEPTED)]
    assert not unaccepted, "\n".join(map(str, unaccepted))
    stale = [a for a in ACCEPTED if not any(f.accepted_by(a) for f in findings)]
    assert not stale, f"no longer found, remove from ACCEPTED and the docs: {stale}"


def test_the_accepted_findings_are_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for accepted in ACCEPTED:
        assert f"`{accepted.issue}`" in doc, accepted.issue


def _grants(shipped: list[tuple[str, dict[str, Any]]]) -> dict[str, parliament.Policy]:
    """The policies that grant our remediations' actions (roles, not resource policies)."""
    return {name: parliament.analyze_policy_string(json.dumps(doc))
            for name, doc in shipped
            if re.search(GRANTS, name)}


def test_the_account_level_s3_block_is_granted_on_star_everywhere(
        shipped: list[tuple[str, dict[str, Any]]]) -> None:
    grants = _grants(shipped)
    assert len(grants) >= 2 + 9 + 2  # both stages, every central role, the member roles
    for name, policy in grants.items():
        for action in ("PutAccountPublicAccessBlock", "GetAccountPublicAccessBlock"):
            assert policy.get_allowed_resources("s3", action) == ["*"], (name, action)


def test_each_action_is_scoped_to_the_resource_type_it_takes() -> None:
    statements = lambda_policy(table="t")["Statement"]

    def resources(action: str) -> list[str]:
        (found,) = [s["Resource"] for s in statements if action in s["Action"]]
        return list(found)

    assert resources("s3:PutBucketPolicy") == ["arn:aws:s3:::*"]
    assert resources("s3:ListAllMyBuckets") == ["*"]
    assert "arn:aws:ec2:*:*:security-group/*" in resources("ec2:RevokeSecurityGroupIngress")
    assert resources("ec2:DescribeSecurityGroups") == ["*"]
    assert resources("logs:PutRetentionPolicy") == ["arn:aws:logs:*:*:log-group:*"]
    assert resources("rds:ModifyDBSnapshotAttribute") == ["arn:aws:rds:*:*:snapshot:*"]
    assert resources("iam:PutRolePolicy") == ["arn:aws:iam::*:role/*"]
    assert resources("kms:EnableKeyRotation") == ["arn:aws:kms:*:*:key/*"]
    sids = [s["Sid"] for s in statements]
    assert len(sids) == len(set(sids)) and "S3Bucket" in sids and "AllResources" in sids


def test_the_analysis_fails_the_old_hand_scoped_statement() -> None:
    """The bug this replaced: account-level S3 actions in the bucket-scoped statement."""
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:PutAccountPublicAccessBlock", "s3:PutBucketPolicy"],
        "Resource": ["arn:aws:s3:::*"]}]}
    (finding,) = [f for f in analyze("old", policy) if f.issue in NEVER]
    assert finding.issue == "RESOURCE_MISMATCH" and "PutAccountPublicAccessBlock" in finding.says
    typo = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:PutBucketPolicies"], "Resource": "arn:aws:s3:::*"}]}
    assert [f.issue for f in analyze("typo", typo)] == ["UNKNOWN_ACTION"]


# IAM's quota for a role's inline policies, all together, without whitespace
ROLE_INLINE_LIMIT = 10240


def test_every_role_stays_within_the_inline_policy_quota(central: dict[str, Any]) -> None:
    templates = {"central": central,
                 **{p: json.loads((ROOT / p).read_text()) for p in (MEMBER_ROLE_FILE,
                                                                    MEMBER_STACK_FILE)}}
    for name, template in templates.items():
        res = template["Resources"]
        for role, resource in res.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            docs = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
            docs += [r["Properties"]["PolicyDocument"] for r in res.values()
                     if r["Type"] == "AWS::IAM::Policy"
                     and {"Ref": role} in r["Properties"].get("Roles", [])]
            size = sum(len(re.sub(r"\s", "", json.dumps(resolve(d, template, then=True))))
                       for d in docs)
            # a role may hold only AWS-managed policies (API Gateway's logging role)
            assert size <= ROLE_INLINE_LIMIT, (name, role, size)
            assert size or resource["Properties"].get("ManagedPolicyArns"), (name, role)


def test_nothing_the_lambda_imports_needs_parliament() -> None:
    """The database is loaded on first use by the renderers only: every module imports,
    and the handler module loads, with parliament unimportable."""
    modules = sorted({"app", *(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("chalicelib", "remediations")
        for p in (ROOT / package).rglob("*.py"))})
    code = ("import sys, importlib\nsys.modules['parliament'] = None\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            "import chalicelib.entry, remediations\nremediations.load()\n"
            "print(sorted(m for m in sys.modules if m.startswith('parliament')))\n"
            # rendering (build time) says what is missing
            "from chalicelib.errors import ConfigurationError\n"
            "from chalicelib.iam import render_member_role\ntry:\n    render_member_role()\n"
            "except ConfigurationError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin",
                                                       "AWS_DEFAULT_REGION": REGION})
    assert proc.returncode == 0, proc.stderr
    imported, error = proc.stdout.strip().splitlines()[-2:]
    assert imported == "['parliament']"  # the blocked entry only
    assert "needs parliament" in error
