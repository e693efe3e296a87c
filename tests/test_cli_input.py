"""Hostile input through the real `remediate handle` entry point: every malformed event
exits 2 with one clear line on stderr, never a traceback, before anything touches AWS."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import cli
from tests.helpers import load_event

_DIR = Path(tempfile.mkdtemp(prefix="cli-input-"))
_BASE = load_event("cloudtrail_put_bucket_policy", fresh_id=False)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")


def _with(**fields: object) -> bytes:
    return json.dumps({**_BASE, **fields}).encode()


def _deep(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"k":': "}"}[opener]
    inner = opener * depth + "0" + closer * depth
    return json.dumps(_BASE).replace('"detail": {', f'"detail": {{"deep": {inner}, ', 1).encode()


deep = st.builds(_deep, st.integers(65, 20_000), st.sampled_from(["[", '{"k":']))
bad_region = st.text(max_size=300).filter(lambda r: not _REGION.match(r)).map(
    lambda r: _with(region=r))
bad_account = st.one_of(st.text(max_size=40), st.integers()).filter(
    lambda a: not (isinstance(a, str) and re.fullmatch(r"[0-9]{12}", a))).map(
    lambda a: _with(account=a))
huge = st.integers(1024 * 1024, 2 * 1024 * 1024).map(
    lambda n: _with(detail={**_BASE["detail"], "blob": "é" * (n // 2 + 1)}))
binary = st.binary(max_size=2000)
hostile = st.one_of(deep, bad_region, bad_account, huge, binary)


def _handle(data: bytes) -> tuple[int, str, str]:
    path = _DIR / "event.json"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as exited:
        cli.main(["handle", str(path)])
    return int(exited.value.code or 0), out.getvalue(), err.getvalue()


@given(hostile)
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_hostile_input_exits_2_with_one_line_and_no_traceback(data: bytes) -> None:
    code, out, err = _handle(data)
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("remediate: "), err
    assert len(lines[0]) < 400  # the offending value is cut short, not echoed whole


@pytest.mark.parametrize("data, says", [
    (_deep(100_000, "["), "nested too deeply"),
    (_with(region="x" * 100_000), "region"),
    (_with(account="12345678901"), "account"),
    (b"\xff\xfe\x00garbage", "not JSON"),
])
def test_each_kind_of_bad_input_says_what_is_wrong(data: bytes, says: str) -> None:
    code, _, err = _handle(data)
    assert code == 2 and says in err
