"""Tamper-evident evidence (#29): timelines edited, deleted, inserted or reordered behind
the product's back with plain boto3 are named by `remediate evidence --verify-records`;
digests are signed so that openssl alone verifies them, and a locked digest stays."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.context import Context
from chalicelib.integrity import DIGEST_ACTIONS, VERIFY_ACTIONS, digests, verify, write_digest
from chalicelib.record import EntryKind, Incident, Status
from tests.conftest import make_context

BUCKET = "evidence-locked"
TABLE = "autoremediate"


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 6}}})
    monkeypatch.setenv("REMEDIATION_SIGNING_KEY", key["Arn"])
    monkeypatch.setenv("REMEDIATION_EVIDENCE_BUCKET", BUCKET)
    ctx, log = make_context(signing_key=key["Arn"], evidence_bucket=BUCKET)
    yield ctx
    from chalicelib.iam import PLATFORM_ACTIONS

    allowed = {*PLATFORM_ACTIONS, *DIGEST_ACTIONS, *VERIFY_ACTIONS}
    called = set(log.actions)
    assert not called - allowed, "calls the integrity actions do not declare"


def _incident(ctx: Context, incident_id: str, kinds: int = 4) -> None:
    ctx.store.open_or_join(Incident(
        incident_id=incident_id, status=Status.OPEN, resource=f"arn:aws:s3:::{incident_id}",
        resource_type="AWS::S3::Bucket", resource_id=incident_id, account="123456789012",
        region="us-east-1", policy="p", remediation="r", controls=["164.312(b)"],
        created_at=dt.datetime.now(dt.UTC)))
    for n, kind in enumerate([EntryKind.DETECTED, EntryKind.PLANNED, EntryKind.APPLIED,
                              EntryKind.VERIFIED, EntryKind.CLOSED][:kinds], 1):
        ctx.store.append(incident_id, kind, "autoremediate", {"step": n, "note": "ok"})


def _items(incident_id: str) -> list[dict[str, Any]]:
    db = boto3.client("dynamodb", region_name="us-east-1")
    return sorted(db.query(TableName=TABLE, KeyConditionExpression="pk = :p AND "
                           "begins_with(sk, :e)", ExpressionAttributeValues={
                               ":p": {"S": f"INCIDENT#{incident_id}"},
                               ":e": {"S": "ENTRY#"}})["Items"],
                  key=lambda i: int(i["seq"]["N"]))


def _cli(*args: str) -> tuple[int, str]:
    import contextlib
    import io

    from chalicelib import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = cli.main(["evidence", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


def test_each_entry_is_chained_to_the_one_before(env: Context) -> None:
    _incident(env, "inc-a")
    entries = env.store.entries("inc-a")
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev == "" and all(len(e.hash) == 64 for e in entries)
    assert [e.prev for e in entries[1:]] == [e.hash for e in entries[:-1]]
    head = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=TABLE, Key={"pk": {"S": "INCIDENT#inc-a"}, "sk": {"S": "HEAD"}})["Item"]
    assert head["head_hash"]["S"] == entries[-1].hash and head["entry_count"]["N"] == "4"


def test_a_stale_head_never_forks_the_chain(env: Context) -> None:
    """Another process appended meanwhile: our store's head is stale, its conditional
    write loses, and the entry is chained on the real head instead."""
    _incident(env, "inc-race", kinds=2)
    other = Context(settings=env.settings, aws=env.aws)  # a second Lambda, its own store
    other.store.append("inc-race", EntryKind.APPROVED, "U_ONCALL")
    env.store.append("inc-race", EntryKind.APPLIED, "autoremediate")  # head cached at 2
    entries = env.store.entries("inc-race")
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.prev for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert verify(env).ok


def test_intact_records_verify_with_one_line(env: Context) -> None:
    _incident(env, "inc-a")
    _incident(env, "inc-b", kinds=2)
    write_digest(env)
    code, out = _cli("--verify-records")
    assert code == 0, out
    assert out.count("\n") == 1 and out.startswith("records intact: 2 incident chain(s), "
                                                   "6 entries; 1 signed digest(s)")


def test_edited_deleted_inserted_and_reordered_entries_are_named(env: Context) -> None:
    db = boto3.client("dynamodb", region_name="us-east-1")
    for name in ("inc-edit", "inc-delete", "inc-insert", "inc-move", "inc-fine"):
        _incident(env, name)
    edited = _items("inc-edit")[1]  # entry 2: the detail changed, the hash kept
    edited["detail"] = {"S": json.dumps({"step": 2, "note": "nothing happened"})}
    db.put_item(TableName=TABLE, Item=edited)
    gone = _items("inc-delete")[2]  # entry 3
    db.delete_item(TableName=TABLE, Key={"pk": gone["pk"], "sk": gone["sk"]})
    forged = dict(_items("inc-insert")[1])  # a copy slipped in as if it were entry 5
    forged.update(sk={"S": "ENTRY#2030-01-01T00:00:00.000000+00:00#abcdef"},
                  seq={"N": "5"}, actor={"S": "U_ATTACKER"})
    db.put_item(TableName=TABLE, Item=forged)
    moved = _items("inc-move")[3]  # entry 4 moved before the others in the table
    db.delete_item(TableName=TABLE, Key={"pk": moved["pk"], "sk": moved["sk"]})
    db.put_item(TableName=TABLE, Item={**moved, "sk": {
        "S": "ENTRY#2000-01-01T00:00:00.000000+00:00#000000"}})

    code, out = _cli("--verify-records")
    assert code == 1
    assert out.splitlines() == ["incident inc-delete: entry 3 deleted",
                                "incident inc-edit: entry 2 edited",
                                "incident inc-insert: entry 5 inserted",
                                "incident inc-move: entry 4 reordered"]


def test_an_entry_rewritten_with_a_fresh_hash_is_still_named(env: Context) -> None:
    """Whoever recomputes the edited entry's hash breaks the next entry's `prev`."""
    from chalicelib.record import chain_hash

    db = boto3.client("dynamodb", region_name="us-east-1")
    _incident(env, "inc-rehash")
    item = _items("inc-rehash")[0]
    detail = {"step": 1, "note": "detected by nobody"}
    item["detail"] = {"S": json.dumps(detail)}
    item["hash"] = {"S": chain_hash("inc-rehash", 1, item["at"]["S"], item["kind"]["S"],
                                    item["actor"]["S"], detail, "")}
    db.put_item(TableName=TABLE, Item=item)
    assert verify(env).problems == ["incident inc-rehash: entry 1 edited"]


def test_a_tail_deleted_with_its_head_is_caught_by_the_digest(env: Context) -> None:
    """The whole chain rewritten (last entry deleted, HEAD moved back): only the signed
    digest, which holds the old head, can tell."""
    db = boto3.client("dynamodb", region_name="us-east-1")
    _incident(env, "inc-tail")
    write_digest(env)
    items = _items("inc-tail")
    db.delete_item(TableName=TABLE, Key={"pk": items[-1]["pk"], "sk": items[-1]["sk"]})
    db.put_item(TableName=TABLE, Item={
        "pk": {"S": "INCIDENT#inc-tail"}, "sk": {"S": "HEAD"}, "kind": {"S": "head"},
        "incident_id": {"S": "inc-tail"}, "head_hash": items[-2]["hash"],
        "entry_count": {"N": "3"}, "changed_at": items[-2]["at"]})
    assert verify(env).problems == ["incident inc-tail: entry 4 deleted"]


def _digest_cli(env: Context) -> dict[str, Any]:
    code, out = _cli("--digest")
    assert code == 0, out
    return dict(json.loads(out))


def test_digests_chain_and_name_a_forged_or_missing_one(env: Context) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    _incident(env, "inc-a", kinds=1)
    first = _digest_cli(env)
    _incident(env, "inc-b", kinds=1)
    second = _digest_cli(env)
    third = _digest_cli(env)
    assert (first["heads"], second["heads"], third["heads"]) == (1, 1, 0)
    found = digests(s3, BUCKET)
    assert [d.key for d in found] == [first["key"], second["key"], third["key"]]
    assert found[1].data["previous_digest"] == found[0].sha256
    assert found[1].data["period_start"] == found[0].data["period_end"]
    assert set(found[1].data) == {"period_start", "period_end", "heads", "previous_digest",
                                  "key_id", "signature"}
    assert verify(env).ok

    # a digest signed with someone else's key, slipped in after the first
    forged = dict(found[1].data, heads={"inc-b": "0" * 64})
    other = boto3.client("kms", region_name="us-east-1").create_key(
        KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    forged["signature"] = base64.b64encode(boto3.client("kms", region_name="us-east-1").sign(
        KeyId=other, Message=b"x" * 32, MessageType="DIGEST",
        SigningAlgorithm="ECDSA_SHA_256")["Signature"]).decode()
    wrong = found[0].key.replace(".json", "-forged.json")  # sorts right after the first
    s3.put_object(Bucket=BUCKET, Key=wrong, Body=json.dumps(forged).encode())
    assert verify(env).problems == [f"digest {wrong}: signature invalid"]

    # the second hidden behind a delete marker (the bucket policy, which moto does not
    # evaluate, denies that; Object Lock keeps the version itself)
    s3.delete_object(Bucket=BUCKET, Key=found[1].key)
    code, out = _cli("--verify-records")
    assert code == 1
    assert out.splitlines() == [f"digest {wrong}: signature invalid",
                                f"digest {found[1].key}: missing"]


def test_openssl_alone_verifies_a_digest(env: Context, tmp_path: Path) -> None:
    """The report's commands, minus the two AWS CLI downloads (done with boto3 here)."""
    from chalicelib.integrity import auditor_commands

    _incident(env, "inc-a")
    written = write_digest(env)
    kms = boto3.client("kms", region_name="us-east-1")
    (tmp_path / "signing-key.der").write_bytes(
        kms.get_public_key(KeyId=written["key_id"])["PublicKey"])
    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=BUCKET, Key=written["key"])["Body"].read()
    (tmp_path / "digest.json").write_bytes(body)
    commands = auditor_commands(BUCKET, written["key_id"], written["key"], "ECDSA_SHA_256")
    assert commands[0].startswith(f"aws kms get-public-key --key-id {written['key_id']}")
    assert commands[1] == f"aws s3api get-object --bucket {BUCKET} --key {written['key']} " \
                          "digest.json"
    local = "\n".join(c for c in commands[2:5])
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", local], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stderr
    (tmp_path / "digest.signed").write_bytes(body.replace(b'"heads":{', b'"heads":{"x":"y",'))
    again = subprocess.run(["bash", "-c", commands[4]], cwd=tmp_path, capture_output=True,
                           text=True, check=False)
    assert again.returncode != 0 and "Verification failure" in again.stdout + again.stderr


def test_a_locked_digest_cannot_be_deleted_or_overwritten(env: Context) -> None:
    """As far as moto enforces Object Lock: deleting the version is refused (compliance
    mode, default retention); a PUT to the same key is refused by If-None-Match, and
    even a plain overwrite only adds a version, the signed one stays. moto does not
    evaluate bucket policies (the template's Deny on s3:DeleteObject*), and a delete
    without a version id only adds a delete marker, as in S3."""
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", region_name="us-east-1")
    _incident(env, "inc-a", kinds=1)
    key = write_digest(env)["key"]
    original = s3.get_object(Bucket=BUCKET, Key=key)
    assert original["ObjectLockMode"] == "COMPLIANCE"
    version = original["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}", IfNoneMatch="*")
    assert exists.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")  # a new version on top
    kept = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
    assert kept == original["Body"].read()
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
