"""Tamper-evident evidence: the timelines' hash chains, signed digests of their heads in
the evidence bucket, and the verification that names what was changed behind our back.
The pattern is CloudTrail log-file validation's (docs/architecture.md, "Tamper-evident
evidence").

A digest (`digests/YYYY/MM/DD/<period end>.json` in `REMEDIATION_EVIDENCE_BUCKET`) is
canonical JSON: `period_start`, `period_end`, `heads` {incident id: head hash} of every
chain that moved in the period, `previous_digest` (SHA-256 of the previous digest object,
"" for the first), `key_id` (the signing key's ARN) and `signature`: base64 of KMS `Sign`
(ECDSA_SHA_256 or RSASSA_PSS_SHA_256, MessageType DIGEST) over the SHA-256 of the same
JSON without `signature`. `signature` sorts last, so the signed bytes are the object with
`,"signature":"…"` cut out: an auditor checks it with the AWS CLI and openssl alone
(`auditor_commands`).

Example:
    remediate evidence --digest                     # write one now (hourly: scheduled)
    remediate evidence --verify-records --since 2026-01-01
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.aws import translate
from chalicelib.errors import ConfigurationError
from chalicelib.record import canonical, chain_hash
from chalicelib.store import Store
from chalicelib.store.table import iso

PREFIX = "digests/"
# what the hourly `evidence_digest` function does, and what `--verify-records` reads
# (wire into chalicelib.iam: the digest function's role, and the operator's)
DIGEST_ACTIONS = ("kms:DescribeKey", "kms:Sign", "s3:ListBucket", "s3:GetObject",
                  "s3:PutObject", "dynamodb:Scan")
VERIFY_ACTIONS = ("kms:DescribeKey", "kms:Verify", "kms:GetPublicKey", "s3:ListBucket",
                  "s3:GetObject", "dynamodb:Scan")
_ALGORITHMS = ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256")  # preferred first


# -- the chains ---------------------------------------------------------------------------
def _recomputed(incident_id: str, item: dict[str, Any]) -> str | None:
    try:
        return chain_hash(incident_id, int(item["seq"]), str(item["at"]), str(item["kind"]),
                          str(item["actor"]), json.loads(item["detail"]), str(item["prev"]))
    except (KeyError, TypeError, ValueError):
        return None


def _seq(item: dict[str, Any]) -> int:
    """An item's place in its chain; 0 when it has none (DynamoDB numbers are Decimal)."""
    try:
        return int(item["seq"])
    except (KeyError, TypeError, ValueError):
        return 0


def check_chain(incident_id: str, head: dict[str, Any] | None,
                items: list[dict[str, Any]]) -> tuple[dict[str, str], dict[int, str]]:
    """What is wrong with one incident's chain: ({"entry N": edited|deleted|inserted|
    reordered, "head": deleted}, {seq: hash} of the genuine entries).

    Walked back from HEAD: the entry at each place must hash to what its successor (or
    HEAD) says; a place with no such entry was edited (something else is there) or
    deleted (nothing is); anything else (no chain fields, a place past HEAD, a second
    entry at one place) was inserted; a genuine entry stored under another entry's time
    (its sort key names another time) was reordered."""
    damage: dict[str, str] = {}
    ok = [(item, _recomputed(incident_id, item) == item.get("hash")) for item in items]
    places: dict[int, list[dict[str, Any]]] = {}
    for item, _ in ok:
        if _seq(item) >= 1:  # a place claimed, with or without a valid hash
            places.setdefault(_seq(item), []).append(item)
    if head is None:
        if items:
            damage["head"] = "deleted"
        count, want = max(places, default=0), None
    else:
        count, want = int(head["entry_count"]), str(head["head_hash"])
    valid_hash = {id(item): valid for item, valid in ok}
    genuine: dict[int, dict[str, Any]] = {}
    for seq in range(count, 0, -1):
        there = places.get(seq, [])
        found = next((i for i in there if valid_hash[id(i)]
                      and (want is None or i["hash"] == want)), None)
        if found is not None:
            genuine[seq] = found
            want = str(found["prev"])
        elif there:
            damage[f"entry {seq}"] = "edited"
            want = str(there[0].get("prev", "")) or None
        else:
            damage[f"entry {seq}"] = "deleted"
            want = None
    if 1 in genuine and genuine[1]["prev"] != "":
        damage["entry 1"] = "edited"  # a first entry that claims a predecessor
    taken = {id(i) for i in genuine.values()}
    for position, (item, _) in enumerate(ok, 1):
        place = _seq(item)
        if id(item) in taken or (1 <= place <= count and damage.get(f"entry {place}")
                                 == "edited" and item is places.get(place, [None])[0]):
            continue
        damage.setdefault(f"entry {place if place > count else position}", "inserted")
    for seq, item in genuine.items():
        if not str(item["sk"]).startswith(f"ENTRY#{item['at']}#"):
            damage.setdefault(f"entry {seq}", "reordered")
    return damage, {seq: str(i["hash"]) for seq, i in genuine.items()}


# -- the digests --------------------------------------------------------------------------
def digest_key(period_end: str) -> str:
    when = dt.datetime.fromisoformat(period_end).astimezone(dt.UTC)
    return f"{PREFIX}{when:%Y/%m/%d}/{when:%Y%m%dT%H%M%S.%fZ}.json"


def _settings(ctx: Any) -> tuple[str, str]:
    bucket, key = ctx.settings.evidence_bucket, ctx.settings.signing_key
    if not bucket or not key:
        raise ConfigurationError(
            "signed digests need REMEDIATION_EVIDENCE_BUCKET (the Object Lock bucket) and "
            "REMEDIATION_SIGNING_KEY (an asymmetric KMS key, ECC_NIST_P256 or RSA, "
            "SIGN_VERIFY)")
    return bucket, key


def signing_key(kms: Any, key_id: str) -> tuple[str, str]:
    """(key ARN, signing algorithm) of the configured key."""
    with translate(f"looking up the signing key {key_id}"):
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    offered = meta.get("SigningAlgorithms") or []
    algorithm = next((a for a in _ALGORITHMS if a in offered), None)
    if algorithm is None:
        raise ConfigurationError(f"REMEDIATION_SIGNING_KEY {key_id} cannot sign with "
                                 f"{' or '.join(_ALGORITHMS)} (KeyUsage SIGN_VERIFY)")
    return str(meta["Arn"]), algorithm


def _sign(kms: Any, arn: str, algorithm: str, data: bytes) -> bytes:
    """KMS's signature of `data`'s SHA-256 (MessageType DIGEST: openssl checks it)."""
    with translate(f"signing with {arn}"):
        signed = kms.sign(KeyId=arn, Message=hashlib.sha256(data).digest(),
                          MessageType="DIGEST", SigningAlgorithm=algorithm)
    return bytes(signed["Signature"])


def _payload(digest: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in digest.items() if k != "signature"})


@dataclass
class Digest:
    key: str
    body: bytes
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def digest_keys(s3: Any, bucket: str) -> list[str]:
    """Every digest's key, oldest first (keys sort by period end)."""
    keys: list[str] = []
    with translate(f"listing the digests in {bucket}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                  Prefix=PREFIX):
            keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def fetch(s3: Any, bucket: str, key: str) -> Digest:
    with translate(f"reading digest {key}"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    return Digest(key, body, data if isinstance(data, dict) else {})


def digests(s3: Any, bucket: str) -> list[Digest]:
    """Every digest in the bucket, oldest first."""
    return [fetch(s3, bucket, key) for key in digest_keys(s3, bucket)]


def write_digest(ctx: Any) -> dict[str, Any]:
    """Sign and write one digest: the heads that moved since the last one, chained to it."""
    bucket, key_id = _settings(ctx)
    s3, kms = ctx.aws.home_client("s3"), ctx.aws.home_client("kms")
    arn, algorithm = signing_key(kms, key_id)
    keys = digest_keys(s3, bucket)
    last = fetch(s3, bucket, keys[-1]) if keys else None
    start = str(last.data.get("period_end", "")) if last else ""
    end = iso(ctx.clock())
    digest: dict[str, Any] = {"period_start": start, "period_end": end,
                              "heads": ctx.store.heads_since(start),
                              "previous_digest": last.sha256 if last else "",
                              "key_id": arn}
    digest["signature"] = base64.b64encode(_sign(kms, arn, algorithm,
                                                 _payload(digest))).decode()
    key = digest_key(end)
    with translate(f"writing digest {key} to {bucket}"):
        s3.put_object(Bucket=bucket, Key=key, Body=canonical(digest), IfNoneMatch="*",
                      ContentType="application/json", ChecksumAlgorithm="SHA256")
    return {"bucket": bucket, "key": key, "heads": len(digest["heads"]),
            "period_start": start, "period_end": end, "key_id": arn}


def _signature_ok(kms: Any, arn: str, algorithm: str, digest: Digest) -> bool:
    from botocore.exceptions import ClientError

    data = digest.data
    if data.get("key_id") != arn or not isinstance(data.get("signature"), str):
        return False
    try:
        answer = kms.verify(KeyId=arn, Message=hashlib.sha256(_payload(data)).digest(),
                            MessageType="DIGEST", SigningAlgorithm=algorithm,
                            Signature=base64.b64decode(data["signature"]))
    except (ClientError, ValueError):
        return False  # KMSInvalidSignatureException, or not base64 at all
    return bool(answer.get("SignatureValid"))


# -- verification -------------------------------------------------------------------------
@dataclass
class Verdict:
    """What `--verify-records` found: `problems` (one line per damaged incident or
    digest), and what was checked."""

    problems: list[str]
    incidents: int = 0
    entries: int = 0
    digests: list[str] = field(default_factory=list)
    key_id: str | None = None
    algorithm: str | None = None
    bucket: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        signed = (f"{len(self.digests)} signed digest(s) ({self.digests[0]} … "
                  f"{self.digests[-1]}) verified with {self.key_id}" if self.digests else
                  "no signed digest" + ("" if self.bucket else
                                        " (REMEDIATION_EVIDENCE_BUCKET unset)"))
        return (f"records intact: {self.incidents} incident chain(s), {self.entries} "
                f"entries; {signed}")

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.ok, "problems": self.problems, "incidents": self.incidents,
                "entries": self.entries,
                "digest_range": [self.digests[0], self.digests[-1]] if self.digests else [],
                "digests": len(self.digests), "signing_key": self.key_id,
                "algorithm": self.algorithm, "bucket": self.bucket}


def _name(key: str, problem: str) -> tuple[int, str]:
    place = key.split()[-1]
    return (int(place) if place.isdigit() else 0), f"{key} {problem}"


def verify(ctx: Any, since: dt.datetime | None = None) -> Verdict:
    """Walk every chain that moved since `since` and every digest since then."""
    store: Store = ctx.store
    after = iso(since) if since and since.year > 1 else ""
    chains = store.chains()
    damage: dict[str, dict[str, str]] = {}
    genuine: dict[str, dict[int, str]] = {}
    at: dict[str, dict[int, str]] = {}
    verdict = Verdict(problems=[], bucket=ctx.settings.evidence_bucket)
    for incident_id, (head, items) in chains.items():
        moved = str(head["changed_at"]) if head else max(
            (str(i.get("at", "")) for i in items), default="")
        if moved < after:
            continue
        verdict.incidents += 1
        verdict.entries += len(items)
        damage[incident_id], genuine[incident_id] = check_chain(incident_id, head, items)
        at[incident_id] = {_seq(i): str(i.get("at", "")) for i in items if _seq(i)}
    digest_problems: list[str] = []
    if ctx.settings.evidence_bucket:
        digest_problems = _verify_digests(ctx, after, verdict, chains, damage, genuine, at)
    for incident_id, found in damage.items():
        if found:
            parts = sorted(_name(k, v) for k, v in found.items())
            verdict.problems.append(f"incident {incident_id}: "
                                    + ", ".join(p for _, p in parts))
    verdict.problems.extend(digest_problems)
    return verdict


def _verify_digests(ctx: Any, after: str, verdict: Verdict, chains: dict[str, Any],
                    damage: dict[str, dict[str, str]], genuine: dict[str, dict[int, str]],
                    at: dict[str, dict[int, str]]) -> list[str]:
    bucket, key_id = _settings(ctx)
    s3, kms = ctx.aws.home_client("s3"), ctx.aws.home_client("kms")
    verdict.key_id, verdict.algorithm = signing_key(kms, key_id)
    problems = []
    previous: Digest | None = None
    for digest in digests(s3, bucket):
        data = digest.data
        end = str(data.get("period_end", ""))
        if end and end < after:
            previous = digest
            continue
        verdict.digests.append(digest.key)
        if not _signature_ok(kms, verdict.key_id, verdict.algorithm, digest):
            problems.append(f"digest {digest.key}: signature invalid")
            continue  # not ours: neither a link of the chain nor a witness of its heads
        expected = previous.sha256 if previous else ""
        if data.get("previous_digest") != expected or (
                previous and data.get("period_start") != previous.data.get("period_end")):
            start = str(data.get("period_start") or "")
            problems.append(f"digest {digest_key(start) if start else digest.key}: missing")
        for incident_id, head in (data.get("heads") or {}).items():
            _head_in_chain(str(incident_id), str(head), end, chains, damage, genuine, at)
        previous = digest
    return problems


def _head_in_chain(incident_id: str, head: str, end: str, chains: dict[str, Any],
                   damage: dict[str, dict[str, str]], genuine: dict[str, dict[int, str]],
                   at: dict[str, dict[int, str]]) -> None:
    """A head a digest signed must still be a genuine entry of its chain; if not, the chain
    was rewritten (HEAD included) after the digest: name the place the digest covered."""
    if head in genuine.get(incident_id, {}).values():
        return
    if incident_id not in damage and incident_id in chains:
        return  # not walked (older than --since)
    times = at.get(incident_id, {})
    covered = sum(1 for t in times.values() if t <= end)
    found = damage.setdefault(incident_id, {})
    if covered >= len(times):
        found.setdefault(f"entry {covered + 1}", "deleted")
    else:
        found.setdefault(f"entry {max(covered, 1)}", "edited")


def statement(ctx: Any, since: dt.datetime) -> dict[str, Any]:
    """The report's integrity section: the verdict, and how to re-check it."""
    verdict = verify(ctx, since)
    return {**verdict.to_json(), "summary": verdict.summary() if verdict.ok else
            f"{len(verdict.problems)} problem(s) found",
            "commands": auditor_commands(verdict.bucket or "EVIDENCE_BUCKET",
                                         verdict.key_id or "SIGNING_KEY_ARN",
                                         verdict.digests[-1] if verdict.digests
                                         else "digests/YYYY/MM/DD/….json",
                                         verdict.algorithm or _ALGORITHMS[0])}


def auditor_commands(bucket: str, key_arn: str, key: str, algorithm: str) -> list[str]:
    """Shell commands that check one digest with the AWS CLI and openssl alone."""
    pss = (" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-2"
           if algorithm.startswith("RSASSA_PSS") else "")
    return [
        f"aws kms get-public-key --key-id {key_arn} --query PublicKey --output text "
        "| base64 -d > signing-key.der",
        f"aws s3api get-object --bucket {bucket} --key {key} digest.json",
        "sed 's/.*,\"signature\":\"\\([^\"]*\\)\"}$/\\1/' digest.json | base64 -d > digest.sig",
        "sed 's/,\"signature\":\"[^\"]*\"}$/}/' digest.json > digest.signed",
        "openssl dgst -sha256 -verify signing-key.der -keyform DER -signature digest.sig"
        f"{pss} digest.signed",
        "# each digest's previous_digest is the SHA-256 of the digest before it:",
        "sha256sum previous-digest.json",
        "# this report itself, signed with the same key when it was written:",
        "openssl dgst -sha256 -verify signing-key.der -keyform DER -signature REPORT.sig"
        f"{pss} REPORT",
    ]


def save_signed(ctx: Any, data: bytes, path: Any) -> str | None:
    """Write a report to `path` and, with a signing key configured, its signature beside
    it (`path.sig`, DER, the same KMS key and algorithm as the digests), checked with
    `openssl dgst -sha256 -verify signing-key.der -keyform DER -signature FILE.sig FILE`.
    Returns the signature file's name, or None."""
    from pathlib import Path

    out = Path(path)
    out.write_bytes(data)
    if not ctx.settings.signing_key:
        return None
    kms = ctx.aws.home_client("kms")
    arn, algorithm = signing_key(kms, ctx.settings.signing_key)
    sig = out.with_name(out.name + ".sig")
    sig.write_bytes(_sign(kms, arn, algorithm, data))
    return str(sig)


def scheduled(ctx: Any) -> dict[str, Any]:
    """The hourly `evidence_digest` function: a digest, or why none was written."""
    if not (ctx.settings.evidence_bucket and ctx.settings.signing_key):
        return {"skipped": "REMEDIATION_EVIDENCE_BUCKET and REMEDIATION_SIGNING_KEY unset"}
    return write_digest(ctx)
