"""The state table, one module per kind of item it holds:

- `events`: event claims (each event id handled once)
- `leases`: one run at a time per (account, resource, policy)
- `budget`: the blast-radius count of automatic changes per account and hour
- `incidents`: incidents, open pointers and timelines
- `approvals`: pending approvals and the groups of held fixes
- `drills`: incident-response drill runs
- `reports`: the SHA-256 of every evidence report generated, for `--verify`

`Store` is all of them over one DynamoDB table (`table.Table`), where every call goes
through `Table.call`: a lost conditional write is `StateConflict`, anything else
`StateStoreError` naming the table, the operation and the AWS error code.
"""

from __future__ import annotations

from chalicelib.store.approvals import Approvals, held_group_id
from chalicelib.store.budget import AutoBudget
from chalicelib.store.drills import Drills
from chalicelib.store.events import EventClaims
from chalicelib.store.incidents import Incidents
from chalicelib.store.leases import Leases
from chalicelib.store.reports import Reports

__all__ = ["Store", "held_group_id"]


class Store(EventClaims, Leases, AutoBudget, Incidents, Approvals, Drills, Reports):
    """The state table. `client` is a DynamoDB client; `clock` returns aware datetimes."""
