"""Corrupted real events through the whole pipeline (normalize → match → gate → plan →
record) against moto: every input ends as results or InvalidEvent, never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.context import Context
from chalicelib.errors import InvalidEvent
from chalicelib.outcome import Result
from chalicelib.pipeline import handle
from tests.helpers import EVENTS, load_event

_BASES = [load_event(p.stem, fresh_id=False) for p in sorted(Path(EVENTS).glob("*.json"))]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@given(st.sampled_from(range(len(_BASES))), st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_corrupted_events_give_results_or_invalid_event(ctx: Context, which: int,
                                                        data: st.DataObject) -> None:
    event = copy.deepcopy(_BASES[which])
    event["id"] = f"fuzz-{data.draw(st.uuids())}"
    paths = [p for p in _paths(event["detail"]) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        target = event["detail"]
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = data.draw(json_values)
        paths = [p for p in _paths(event["detail"]) if p]
    try:
        results = handle(json.loads(json.dumps(event)), ctx)
    except InvalidEvent:
        return
    assert results and all(isinstance(r, Result) for r in results)
