"""Benchmark: what a user feels — the first event in a fresh process, warm per-event
latency, AWS calls per automatic fix (state-store calls split out), the deployment zip,
a threaded storm beyond the blast-radius limit, peak RSS.

Prints a table and writes it to bench/results.md with the machine. Fails (exit 1) only
with --check, against the targets of issue #16: first fix in a fresh process <= 350 ms,
warm median <= 20 ms, <= 5 state-store calls per automatic fix, zip <= 1.5 MiB.

    ./run bench [--events 200] [--check] [--no-zip]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLD = """
import time
t = time.perf_counter()
import app
a = time.perf_counter()
{extra}
b = time.perf_counter()
print((a - t) * 1000, (b - t) * 1000)
"""


def cold_imports(runs: int) -> tuple[list[float], list[float]]:
    """`import app` alone, and with everything the first event imports (the pipeline)."""
    only, full = [], []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    code = COLD.format(extra="import chalicelib.entry, boto3.session")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # warm the bytecode cache, as a deployed zip has it
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        only.append(float(out[0]))
        full.append(float(out[1]))
    return only, full


FIRST = """
import json, sys, time
t0 = time.perf_counter()
sys.path[:0] = json.loads(sys.argv[2])
import app
t1 = time.perf_counter()
out = app.cloudtrail_calls(json.loads(sys.argv[1]), None)
t2 = time.perf_counter()
assert out["outcome"] == "remediated", out
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""

class EmulatorClock:
    """Time spent inside moto (its request handling, in this process): what real AWS's
    latency would replace. Reported beside each figure, never subtracted silently."""

    def __init__(self) -> None:
        import threading

        self.seconds = 0.0
        self._lock = threading.Lock()

    def install(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        for cls in (BotocoreStubber, DomainDispatcherApplication):
            if getattr(cls.__call__, "_timed", False):
                continue
            original = cls.__call__

            def timed(obj: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                started = time.perf_counter()
                try:
                    return _original(obj, *args, **kw)
                finally:
                    with self._lock:
                        self.seconds += time.perf_counter() - started

            timed._timed = True  # type: ignore[attr-defined]
            cls.__call__ = timed  # type: ignore[method-assign]

    def ms(self) -> float:
        return self.seconds * 1000


EMULATOR = EmulatorClock()


# What the Lambda runtime and the Powertools layer provide besides our zip.
RUNTIME = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py", "jmespath")
LAYER = ("aws_lambda_powertools", "pydantic", "pydantic_core", "typing_extensions.py",
         "annotated_types", "typing_inspection")


def _lambda_paths(artifact: Path | None, into: Path) -> list[str]:
    """sys.path for a Lambda-like process: the unzipped artifact (or, without one, the
    source tree with its requirements), the layer's packages, the runtime's boto3."""
    import zipfile

    import boto3

    site = Path(boto3.__file__).parents[1]
    if artifact is None:
        return [str(ROOT), str(site)]
    task = into / "task"
    with zipfile.ZipFile(artifact) as zf:
        zf.extractall(task)
    provided = into / "provided"
    provided.mkdir()
    for name in (*RUNTIME, *LAYER):
        if (site / name).exists():
            (provided / name).symlink_to(site / name)
    return [str(task), str(provided)]


def first_event(runs: int, artifact: Path | None
                ) -> tuple[list[float], list[float], list[float]]:
    """A fresh interpreter per run, as a cold Lambda: `import app` from the built artifact
    (`python -S`: no site-packages, only the zip, the layer and the runtime's boto3), then
    the first CloudTrail event through the Chalice handler, against a moto server in this
    process (set up before the clock starts)."""
    import tempfile

    import boto3
    from moto.server import ThreadedMotoServer

    from chalicelib.emulator import FAKE_ENV, free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    env = {**FAKE_ENV, "AWS_ENDPOINT_URL": url, "REMEDIATION_TABLE": "first",
           "REMEDIATION_KMS_KEY": "alias/first", "POWERTOOLS_LOG_LEVEL": "WARNING",
           # what the template sets (chalicelib/packaging.py): no STS call to know who we are
           "REMEDIATION_ACCOUNT_ID": "123456789012",
           "REMEDIATION_OWN_ROLES": "arn:aws:iam::123456789012:role/ar-CloudtrailCallsRole-1,"
                                    "arn:aws:iam::123456789012:role/ar-ApprovalWorkerRole-1",
           # Lambda's /var/task is read-only: no bytecode written, only what the zip brings
           "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    aws = {"endpoint_url": url, "region_name": "us-east-1",
           "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    kms = boto3.client("kms", **aws)
    kms.create_alias(AliasName="alias/first",
                     TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    key = [{"AttributeName": n, "KeyType": k} for n, k in (("pk", "HASH"), ("sk", "RANGE"))]
    boto3.client("dynamodb", **aws).create_table(
        TableName="first", BillingMode="PAY_PER_REQUEST", KeySchema=key,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("pk", "sk")])
    s3 = boto3.client("s3", **aws)
    template = (ROOT / "tests" / "events" / "cloudtrail_delete_bucket_encryption.json"
                ).read_text()
    imports, firsts, emulated = [], [], []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp:
            paths = json.dumps(_lambda_paths(artifact, Path(tmp)))
            for i in range(runs):
                bucket = f"bench-first-{i}"
                s3.create_bucket(Bucket=bucket)
                event = template.replace("phi-bucket", bucket).replace(
                    '"id": "', f'"id": "first-{i}-', 1)
                before = EMULATOR.ms()
                proc = subprocess.run([sys.executable, "-S", "-c", FIRST, event, paths],
                                      cwd=tmp, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"first event failed:\n{proc.stderr}")
                out = proc.stdout.split()
                imports.append(float(out[-2]))
                firsts.append(float(out[-1]))
                emulated.append(EMULATOR.ms() - before)
    finally:
        server.stop()
    return imports, firsts, emulated


def calls_per_fix() -> dict[str, int]:
    """AWS calls made by one automatic fix (a fresh bucket, default settings), by service."""
    from moto import mock_aws

    from chalicelib.config import Settings
    from chalicelib.pipeline import handle

    counted: dict[str, int] = {}
    with mock_aws():
        s3, ctx = _account(Settings(table="calls", kms_key="alias/bench"))
        ctx.own_principals()  # our identity is read once per process, not per event

        def count(model: Any, **_: Any) -> None:
            name = f"{model.service_model.service_name}:{model.name}"
            counted[name] = counted.get(name, 0) + 1

        ctx.aws.session().events.register("before-call", count)
        ctx.store.db.meta.events.register("before-call", count)
        s3.create_bucket(Bucket="bench-calls")
        event = json.loads((ROOT / "tests" / "events" /
                            "cloudtrail_delete_bucket_encryption.json").read_text().replace(
            "phi-bucket", "bench-calls"))
        assert handle(event, ctx)[0].outcome.value == "remediated"
    return counted


def build_zip(into: Path) -> Path:
    from chalicelib.packaging import build

    return build(stage="prod", out=into / "pkg")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


SCENARIOS = {
    # one policy: default encryption restored with the customer-managed key
    "DeleteBucketEncryption -> remediated": (
        "cloudtrail_delete_bucket_encryption", ["remediated"], False),
    # two policies: Block Public Access fixed at once, the public statement's removal
    # requested for approval
    "PutBucketPolicy (public) -> remediated + approval_requested": (
        "cloudtrail_put_bucket_policy", ["remediated", "approval_requested"], True),
}


def _account(settings: Any) -> tuple[Any, Any]:
    """Inside mock_aws: the KMS key alias/bench, the state table; (s3 client, context)."""
    import boto3

    from chalicelib.aws import Aws
    from chalicelib.context import Context

    kms = boto3.client("kms", region_name="us-east-1")
    kms.create_alias(AliasName="alias/bench",
                     TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    ctx = Context(settings=settings, aws=Aws())
    ctx.store.ensure_table()
    return boto3.client("s3", region_name="us-east-1"), ctx


def warm_latency(events: int) -> dict[str, list[tuple[float, float]]]:
    from moto import mock_aws

    from chalicelib.config import Settings
    from chalicelib.log import logger
    from chalicelib.pipeline import handle

    logger.setLevel("WARNING")
    print(f"RSS after importing the pipeline, boto3 and moto: {rss_mib():.0f} MiB")
    out: dict[str, list[float]] = {}
    for name, (sample, expected, public) in SCENARIOS.items():
        template = (ROOT / "tests" / "events" / f"{sample}.json").read_text()
        with mock_aws():
            # no blast-radius cap: every event takes the full automatic path
            s3, ctx = _account(Settings(table="bench", kms_key="alias/bench",
                                        auto_limit_per_hour=0))
            samples = []
            for i in range(events + 10):
                bucket = f"bench-bucket-{i:05d}"
                s3.create_bucket(Bucket=bucket)
                if public:
                    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
                        "Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
                event = json.loads(template.replace("phi-bucket", bucket))
                event["id"] = f"bench-{i}"
                emulated = EMULATOR.ms()
                t = time.perf_counter()
                results = handle(event, ctx)
                elapsed = (time.perf_counter() - t) * 1000
                assert [r.outcome.value for r in results] == expected, results
                if i >= 10:  # the first events warm clients and caches
                    samples.append((elapsed, EMULATOR.ms() - emulated))
        out[name] = samples
    return out


def storm(events: int, buckets: int, limit: int) -> None:
    """`events` events over `buckets` buckets, 8 threads, REMEDIATION_AUTO_LIMIT=`limit`:
    how many fixes were applied, held and announced (one Slack message per held group)."""
    import random
    import threading

    from moto import mock_aws

    from chalicelib.config import Settings
    from chalicelib.log import logger
    from chalicelib.pipeline import handle

    logger.setLevel("ERROR")  # one "auto limit reached" warning per held fix otherwise
    names = ("cloudtrail_put_bucket_policy", "guardduty_s3_anonymous_access_granted",
             "cloudtrail_delete_bucket_encryption", "config_s3_encryption_noncompliant")
    templates = [(ROOT / "tests" / "events" / f"{n}.json").read_text() for n in names]
    rng = random.Random(7)
    with mock_aws():
        s3, ctx = _account(Settings(table="storm", kms_key="alias/bench",
                                    auto_limit_per_hour=limit, approvers=("U1",)))
        for b in range(buckets):
            s3.create_bucket(Bucket=f"storm-{b:04d}")
        queue = []
        for i in range(events):
            event = json.loads(rng.choice(templates).replace(
                "phi-bucket", f"storm-{rng.randrange(buckets):04d}"))
            event["id"] = f"storm-{i}"
            queue.append(event)
        outcomes: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    event = queue.pop()
                got = [r.outcome.value for r in handle(event, ctx)]
                with lock:
                    outcomes.extend(got)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        pending = ctx.store.pending_approvals()
        held = [a for a in pending if a.get("held") == "true"]
        groups = {a["group_id"] for a in held}
        counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
        print(f"storm: {events} events over {buckets} buckets, 8 threads, limit {limit}/hour, "
              f"{seconds:.1f} s: outcomes {counts}; {len(held)} fixes held in "
              f"{len(groups)} group(s) = {len(groups)} Slack message(s) for them; "
              f"{len(pending) - len(held)} other approvals pending")


TARGETS = {"first fix in a fresh process (import + first event), ms": 350.0,
           "warm per event (median), ms": 20.0, "state-store calls per automatic fix": 5.0,
           "deployment zip, KiB": 1536.0}


def report(figures: dict[str, float], calls: dict[str, int]) -> str:
    import platform

    lines = ["| figure | this run | target |", "|---|---|---|"]
    for name, value in figures.items():
        target = TARGETS.get(name)
        shown = f"≤ {target:g}" if target else ""
        lines.append(f"| {name} | {value:.1f} | {shown} |")
    split = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
    return ("\n".join(lines) + f"\n\nAWS calls of one automatic fix: {split}.\n\n"
            f"Machine: {platform.platform()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs; AWS emulated in-process by moto.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--storm", type=int, default=1000, help="events in the storm (0: skip)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--no-zip", action="store_true", help="skip building the zip")
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)

    only, full = cold_imports(args.runs)
    print(f"cold import `import app` (fresh interpreter, median of {args.runs}): "
          f"{statistics.median(only):.1f} ms")
    print(f"cold import app + pipeline + boto3 (what the first event loads, "
          f"median of {args.runs}): "
          f"{statistics.median(full):.1f} ms")
    from tests.moto_ext import install, serialize_dynamodb

    install()  # moto's extensions and item-level transaction rollback, as in the tests
    serialize_dynamodb()  # DynamoDB's atomic conditional writes, for the threaded storm
    EMULATOR.install()
    workdir = tempfile.TemporaryDirectory(prefix="bench-")
    artifact = None if args.no_zip else build_zip(Path(workdir.name))
    imports, firsts, emulated = first_event(max(args.runs // 2, 3), artifact)
    figures: dict[str, float] = {
        "import app in a fresh process (median), ms": statistics.median(imports),
        "first event in that process (median), ms": statistics.median(firsts),
        "first fix in a fresh process (import + first event), ms":
            statistics.median(i + f for i, f in zip(imports, firsts, strict=True)),
        "  of which inside the emulator (moto server), ms": statistics.median(emulated)}
    warm: list[tuple[float, float]] = []
    for name, pairs in warm_latency(args.events).items():
        samples = sorted(total for total, _ in pairs)
        p95 = samples[int(len(samples) * 0.95) - 1]
        warm = warm or pairs
        print(f"warm handle(), {name}, in-process moto ({len(samples)} events): "
              f"median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, "
              f"max {samples[-1]:.1f} ms; inside moto: median "
              f"{statistics.median(m for _, m in pairs):.1f} ms")
    figures["warm per event (median), ms"] = statistics.median(t for t, _ in warm)
    figures["  of which inside the emulator (moto), ms"] = statistics.median(
        m for _, m in warm)
    calls = calls_per_fix()
    figures["state-store calls per automatic fix"] = sum(
        v for k, v in calls.items() if k.startswith("dynamodb:"))
    if artifact is not None:
        figures["deployment zip, KiB"] = artifact.stat().st_size / 1024
    table = report(figures, calls)
    print(table)
    (ROOT / "bench" / "results.md").write_text(
        "# Benchmark results (last `./run bench`)\n\n" + table)
    if args.storm:
        storm(args.storm, max(args.storm // 10, 1), 50)
    workdir.cleanup()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (pipeline + in-process moto holding {args.events + 10} "
          f"buckets and their incidents per scenario): {rss_mb:.0f} MiB")
    missed = [f"{k}: {figures[k]:.1f} > {t:g}" for k, t in TARGETS.items()
              if k in figures and figures[k] > t]
    if args.check and missed:
        print("missed targets: " + "; ".join(missed), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
