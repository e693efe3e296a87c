"""Leases: one run at a time works on one (account, resource, policy).

Two different events about one resource (a CloudTrail call and its Config evaluation, or a
storm) must not both apply the fix. The pipeline holds the lease from before it plans until
the fix is recorded, so the second run re-reads, finds the resource compliant and joins the
incident. A lease expires (`LEASE_TTL`) so a crashed run frees it; a run that cannot get it
within `LEASE_WAIT` raises `StateConflict` (the Lambda fails and EventBridge retries).

The lease lives on the incident pointer's item (`OPEN#<account>#<resource>#<policy>` /
`POINTER`, attributes `lease_token`, `lease_until`), so taking it also reads which incident
the resource has: one call. The run's last write frees it in the same transaction that
records the outcome (`Batch.update(..., remove=LEASE_ATTRIBUTES)`); otherwise leaving the
block frees it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import StateConflict
from chalicelib.store.table import Batch, Table, iso

LEASE_TTL = dt.timedelta(minutes=3)  # longer than the Lambda timeout (120 s)
LEASE_WAIT = 60.0  # seconds a run waits for another run on the same resource


LEASE_ATTRIBUTES = ("lease_token", "lease_until")


def pointer_key(account: str, resource: str, policy: str) -> str:
    return f"OPEN#{account}#{resource}#{policy}"


@dataclass
class Lease:
    """A held lease: its item's key, our token, and the pointer as it was when taken
    (`incident_id` and `at` when the resource has had an incident)."""

    key: str
    token: str
    pointer: dict[str, Any] = field(default_factory=dict)
    released: bool = False

    @property
    def mine(self) -> dict[str, Any]:
        """The condition that we still hold it, for writes to the pointer item."""
        return {"condition": "lease_token = :lease", "values": {":lease": self.token}}


class Leases(Table):
    lease_wait: float = LEASE_WAIT

    def acquire_lease(self, key: str) -> Lease | None:
        """Take the lease on `key` if it is free or expired; None if someone holds it."""
        from boto3.dynamodb.types import TypeDeserializer

        at = self.clock()
        token = secrets.token_hex(8)
        try:
            got = self.call("UpdateItem", **self.update_args(
                key, "POINTER", {"lease_token": token, "lease_until": iso(at + LEASE_TTL)},
                condition="attribute_not_exists(lease_token) OR lease_until < :now",
                values={":now": iso(at)}), ReturnValues="ALL_NEW")
        except StateConflict:
            return None
        de = TypeDeserializer()
        item = {k: de.deserialize(v) for k, v in got.get("Attributes", {}).items()}
        pointer = {k: v for k, v in item.items() if k not in (*LEASE_ATTRIBUTES, "pk", "sk")}
        return Lease(key=key, token=token, pointer=pointer)

    def release_lease(self, lease: Lease, *, batch: Batch | None = None) -> None:
        """Free our lease (a no-op if it expired and someone else holds it now). With
        `batch`, the release is written with the batch's records, in one write."""
        if lease.released:
            return
        if batch is not None:
            batch.update(lease.key, "POINTER", {}, remove=LEASE_ATTRIBUTES, **lease.mine)
            batch.flush()
        else:
            with suppress(StateConflict):
                self.call("UpdateItem", **self.update_args(
                    lease.key, "POINTER", {}, remove=LEASE_ATTRIBUTES, **lease.mine))
        lease.released = True

    @contextmanager
    def lease(self, account: str, resource: str, policy: str) -> Iterator[Lease]:
        """Hold the lease on (account, resource, policy) for the block, waiting for it."""
        key = pointer_key(account, resource, policy)
        deadline = time.monotonic() + self.lease_wait
        pause = 0.02
        while (held := self.acquire_lease(key)) is None:
            if time.monotonic() >= deadline:
                raise StateConflict(f"{resource} ({policy}) is being remediated by another run "
                                    f"for over {self.lease_wait:.0f} s; retry later")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            yield held
        finally:
            self.release_lease(held)
