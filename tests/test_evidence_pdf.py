"""The evidence report states whether its records verified and how to re-check them (#29
item 4), and prints to PDF with headless Chromium from the same HTML (item 5)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from chalicelib.context import Context
from tests.test_evidence_integrity import BUCKET, TABLE, _cli, _incident, _items, env

__all__ = ["env"]  # the fixture, shared


def test_every_format_states_the_integrity_of_its_period(env: Context,
                                                         tmp_path: Path) -> None:
    _incident(env, "inc-a")
    code, _ = _cli("--since", "2020-01-01", "--format", "json", "-o",
                   str(tmp_path / "r.json"))
    assert code == 0
    integrity = json.loads((tmp_path / "r.json").read_text())["integrity"]
    assert integrity["verified"] is True and integrity["problems"] == []
    assert integrity["signing_key"] == env.settings.signing_key
    assert integrity["algorithm"] == "ECDSA_SHA_256"
    assert len(integrity["digest_range"]) == 2 and integrity["digests"] == 1  # written now
    assert integrity["digest_range"][0].startswith("digests/")
    assert any(c.startswith("openssl dgst -sha256 -verify signing-key.der")
               for c in integrity["commands"])
    # the report itself is signed with the same key: openssl checks it against the file
    key = boto3.client("kms", region_name="us-east-1").get_public_key(
        KeyId=str(env.settings.signing_key))["PublicKey"]
    (tmp_path / "signing-key.der").write_bytes(key)
    check = next(c for c in integrity["commands"] if "REPORT.sig" in c)
    done = subprocess.run(["bash", "-c", check.replace("REPORT", "r.json")], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stderr
    for fmt in ("md", "html"):
        assert _cli("--since", "2020-01-01", "--format", fmt, "-o",
                    str(tmp_path / f"r.{fmt}"))[0] == 0
        text = (tmp_path / f"r.{fmt}").read_text()
        assert "Integrity of the records" in text and "the records verified" in text
        assert env.settings.signing_key in text  # type: ignore[operator]
        assert "aws kms get-public-key" in text and "openssl dgst -sha256 -verify" in text

    # an entry edited behind our back: the next report says so, naming it
    item = _items("inc-a")[0]
    item["actor"] = {"S": "someone-else"}
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=TABLE, Item=item)
    assert _cli("--since", "2020-01-01", "--format", "md", "-o", str(tmp_path / "b.md"))[0] == 0
    text = (tmp_path / "b.md").read_text()
    assert "the records did NOT verify" in text and "incident inc-a: entry 1 edited" in text


@pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("pdftotext") is None,
                    reason="needs Debian's chromium and poppler-utils (.ci/run installs both)")
def test_the_pdf_is_the_html_printed(env: Context, tmp_path: Path) -> None:
    for n in range(12):  # enough incidents for more than one page
        _incident(env, f"inc-{n:02d}", kinds=2)
    pdf = tmp_path / "evidence.pdf"
    code, out = _cli("--since", "2020-01-01", "--format", "pdf", "-o", str(pdf))
    assert code == 0, out
    assert pdf.read_bytes().startswith(b"%PDF-")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(next(line.split()[-1] for line in info.stdout.splitlines()
                     if line.startswith("Pages:")))
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")],
                   check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == pages >= 2
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = " ".join(text.split())  # lines wrap on the page
    for said in ("HIPAA evidence report", "Contents", "Integrity of the records",
                 "the records verified", "openssl dgst -sha256 -verify", "inc-11"):
        assert said in text, said
    assert BUCKET in text


def test_no_pdf_engine_exits_2_saying_how_to_get_one(env: Context, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium anywhere on it
    monkeypatch.delenv("REMEDIATION_CHROMIUM", raising=False)
    code, _ = _cli("--since", "2020-01-01", "--format", "pdf", "-o", str(tmp_path / "x.pdf"))
    assert code == 2 and not (tmp_path / "x.pdf").exists()
    err = capsys.readouterr().err
    assert "apt-get install chromium" in err and "REMEDIATION_CHROMIUM" in err
