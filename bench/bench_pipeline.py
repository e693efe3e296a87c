"""Benchmark: cold import of the Lambda entry, warm per-event latency, a threaded storm
beyond the blast-radius limit, peak RSS.

Prints figures; asserts nothing (targets: cold import <= 200 ms, warm median <= 100 ms).

    ./run bench [--events 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
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


def warm_latency(events: int) -> dict[str, list[float]]:
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
                t = time.perf_counter()
                results = handle(event, ctx)
                elapsed = (time.perf_counter() - t) * 1000
                assert [r.outcome.value for r in results] == expected, results
                if i >= 10:  # the first events warm clients and caches
                    samples.append(elapsed)
        out[name] = samples
    return out


def storm(events: int, buckets: int, limit: int) -> None:
    """`events` events over `buckets` buckets, 8 threads, REMEDIATION_AUTO_LIMIT=`limit`:
    how many fixes were applied, held and announced (one Slack message per held group)."""
    import random
    import threading

    from moto import mock_aws

    from chalicelib.config import Settings
    from chalicelib.pipeline import handle

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--storm", type=int, default=1000, help="events in the storm (0: skip)")
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
    for name, samples in warm_latency(args.events).items():
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(f"warm handle(), {name}, in-process moto ({len(samples)} events): "
              f"median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, "
              f"max {samples[-1]:.1f} ms")
    if args.storm:
        storm(args.storm, max(args.storm // 10, 1), 50)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (pipeline + in-process moto holding {args.events + 10} "
          f"buckets and their incidents per scenario): {rss_mb:.0f} MiB")


if __name__ == "__main__":
    main()
