"""Leases: one run at a time works on one (account, resource, policy).

Two different events about one resource (a CloudTrail call and its Config evaluation, or a
storm) must not both apply the fix. The pipeline holds the lease from before it plans until
the fix is recorded, so the second run re-reads, finds the resource compliant and joins the
incident. A lease expires (`LEASE_TTL`) so a crashed run frees it; a run that cannot get it
within `LEASE_WAIT` raises `StateConflict` (the Lambda fails and EventBridge retries).

Item: `OPEN#<account>#<resource>#<policy>` / `LEASE` (beside the incident pointer).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from chalicelib.errors import StateConflict
from chalicelib.store.table import Table, iso

LEASE_TTL = dt.timedelta(minutes=3)  # longer than the Lambda timeout (120 s)
LEASE_WAIT = 60.0  # seconds a run waits for another run on the same resource


def pointer_key(account: str, resource: str, policy: str) -> str:
    return f"OPEN#{account}#{resource}#{policy}"


class Leases(Table):
    lease_wait: float = LEASE_WAIT

    def acquire_lease(self, key: str) -> str | None:
        """Take the lease on `key` if it is free or expired; its token, or None if held."""
        at = self.clock()
        token = secrets.token_hex(8)
        try:
            self._put({"pk": key, "sk": "LEASE", "token": token, "taken_at": iso(at),
                       "lease_until": iso(at + LEASE_TTL),
                       "expires_at": int((at + dt.timedelta(days=1)).timestamp())},
                      condition="attribute_not_exists(pk) OR lease_until < :now",
                      values={":now": iso(at)})
        except StateConflict:
            return None
        return token

    def release_lease(self, key: str, token: str) -> None:
        """Free our lease (a no-op if it expired and someone else holds it now)."""
        with suppress(StateConflict):
            self._delete(key, "LEASE", condition="#t = :t", values={":t": token},
                         names={"#t": "token"})

    @contextmanager
    def lease(self, account: str, resource: str, policy: str) -> Iterator[None]:
        """Hold the lease on (account, resource, policy) for the block, waiting for it."""
        key = pointer_key(account, resource, policy)
        deadline = time.monotonic() + self.lease_wait
        pause = 0.02
        while (token := self.acquire_lease(key)) is None:
            if time.monotonic() >= deadline:
                raise StateConflict(f"{resource} ({policy}) is being remediated by another run "
                                    f"for over {self.lease_wait:.0f} s; retry later")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            self.release_lease(key, token)
