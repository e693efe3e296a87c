"""An embedded AWS emulator (moto's threaded server) on loopback, for the demo and tests.

Nothing here runs in Lambda; moto is only installed with the `demo` and `test` extras.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator() -> Iterator[str]:
    """Start moto on 127.0.0.1, point this process's AWS configuration at it, yield the URL.

    The environment is restored afterwards.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SystemExit("the demo needs the emulator: pip install -e '.[demo]'") from exc
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    add_securityhub_batch_update()  # the write-back the demo shows
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in [*FAKE_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(FAKE_ENV)
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def add_securityhub_batch_update() -> None:
    """Security Hub `BatchUpdateFindings` for moto, which lacks it: sets the workflow
    status and the note of findings `BatchImportFindings` stored (what `GetFindings` then
    returns) and reports unknown findings as `UnprocessedFindings` (`FindingNotFound`), as
    real Security Hub does. Idempotent. (Real Security Hub also emits an "Imported" event
    for the update, which moto does not.)"""
    import datetime as dt
    import json

    from moto.securityhub import urls
    from moto.securityhub.responses import SecurityHubResponse

    if hasattr(SecurityHubResponse, "batch_update_findings"):
        return

    def batch_update_findings(self: Any) -> str:
        body = json.loads(self.body or "{}")
        stored = {f.id: f for f in self.securityhub_backend.findings}
        processed, unprocessed = [], []
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        for ident in body.get("FindingIdentifiers", []):
            finding = stored.get(ident.get("Id"))
            if finding is None or finding.data.get("ProductArn") != ident.get("ProductArn"):
                unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound",
                                    "ErrorMessage": "Finding Not Found"})
                continue
            if "Workflow" in body:
                finding.data["Workflow"] = dict(body["Workflow"])
            if "Note" in body:
                finding.data["Note"] = {**body["Note"], "UpdatedAt": now}
            processed.append(ident)
        return json.dumps({"ProcessedFindings": processed,
                           "UnprocessedFindings": unprocessed})

    SecurityHubResponse.batch_update_findings = batch_update_findings  # type: ignore[attr-defined]
    urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch
