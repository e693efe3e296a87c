"""IAM and bucket policy documents: parse any form AWS hands us, find offending statements,
and remove exactly those (Sids, conditions and order of the rest preserved)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

Doc = dict[str, Any]

# Condition keys that tie a `Principal: "*"` grant to something we control.
RESTRICTING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceVpce", "aws:SourceVpc", "aws:SourceArn", "aws:SourceAccount",
    "aws:SourceOwner", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:SourceIp", "aws:userid", "aws:ResourceOrgID",
))

# A statement that grants nothing: IAM requires at least one statement per document.
EMPTY_STATEMENT: dict[str, Any] = {
    "Sid": "AutoremediateRevokedAll", "Effect": "Deny", "NotAction": "*", "Resource": "*"}


def parse(document: Any) -> Doc:
    """A policy document as a dict, from a dict, JSON text, or URL-encoded JSON text."""
    if isinstance(document, dict):
        return document
    if not isinstance(document, str):
        raise ValueError(f"not a policy document: {type(document).__name__}")
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("a policy document is a JSON object")
    return parsed


def statements(doc: Doc) -> list[dict[str, Any]]:
    found = doc.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_wildcard(statement: dict[str, Any]) -> bool:
    """Allow of `*` or `service:*` (or any NotAction) on Resource `*`."""
    if statement.get("Effect") != "Allow":
        return False
    if "*" not in _as_list(statement.get("Resource", [])):
        return False
    if "NotAction" in statement:
        return True
    return any(isinstance(a, str) and (a == "*" or a.endswith(":*"))
               for a in _as_list(statement.get("Action", [])))


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _as_list(principal.get("AWS", []))
    return False


def is_public(statement: dict[str, Any]) -> bool:
    """Allow to `Principal: "*"` (or `{"AWS": "*"}`) with no restricting condition."""
    if statement.get("Effect") != "Allow" or not _public_principal(statement.get("Principal")):
        return False
    condition = statement.get("Condition") or {}
    keys = {k.lower() for block in condition.values() if isinstance(block, dict)
            for k in block}
    return not keys & RESTRICTING_KEYS


def without(doc: Doc, offending: Callable[[dict[str, Any]], bool]) -> Doc | None:
    """`doc` minus the offending statements; None when nothing would remain."""
    kept = [s for s in statements(doc) if not offending(s)]
    if not kept:
        return None
    out = {k: v for k, v in doc.items() if k != "Statement"}
    out["Statement"] = kept
    return out


def canonical(doc: Doc) -> Doc:
    """One form for comparison: Statement always a list."""
    return {**doc, "Statement": statements(doc)}


def with_statement(doc: Doc | None, statement: dict[str, Any]) -> Doc:
    """`doc` with `statement` merged by its Sid: a statement of that Sid is replaced in
    place, else it is appended; every other statement is kept as it was. No document yet
    gives a new one holding only `statement`."""
    if doc is None:
        return {"Version": "2012-10-17", "Statement": [statement]}
    sid = statement["Sid"]
    kept = statements(doc)
    if any(s.get("Sid") == sid for s in kept):
        merged = [statement if s.get("Sid") == sid else s for s in kept]
    else:
        merged = [*kept, statement]
    return {**doc, "Statement": merged}


def _bool_condition(statement: dict[str, Any], key: str) -> Any:
    for operator, block in (statement.get("Condition") or {}).items():
        if operator.lower() == "bool" and isinstance(block, dict):
            for name, value in block.items():
                if name.lower() == key.lower():
                    return value
    return None


def denies_insecure_transport(statement: dict[str, Any], resources: set[str]) -> bool:
    """A Deny to everyone of every S3 action on all of `resources` when the request is not
    over TLS (`aws:SecureTransport` false): what s3-bucket-ssl-requests-only looks for."""
    if statement.get("Effect") != "Deny" or not _public_principal(statement.get("Principal")):
        return False
    actions = set(_as_list(statement.get("Action", [])))
    if not actions & {"*", "s3:*"}:
        return False
    if not resources <= set(_as_list(statement.get("Resource", []))):
        return False
    value = _bool_condition(statement, "aws:SecureTransport")
    return str(_as_list(value)[0]).lower() == "false" if value is not None else False
