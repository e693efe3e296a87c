"""Remediations: one module each, grouped by service (`remediations/s3/`, `iam/`, `ec2/`,
…), registered by name (`remediations.base.register`).

The name of a module, its registry key, the policy's `remediation:` value, its runbook and
its test file (`tests/remediations/<service>/test_<name>.py`) are one and the same.

Two ways in:
- `get(name)` imports only that remediation's module, found in `index.json` (rendered at
  build time, like the event patterns: `python -m remediations`), so an event imports the
  one module it needs; `info(name)` answers what policy matching needs (resource types,
  record-only) from the index without importing anything.
- `load()` imports every module and returns the whole registry (build tools, policy
  validation, tests).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

from remediations.base import REGISTRY, Remediation

__all__ = ["INDEX", "REGISTRY", "Remediation", "get", "info", "load", "render_index"]

INDEX = Path(__file__).with_name("index.json")

_loaded = False


def load() -> dict[str, type[Remediation[Any]]]:
    """Import every remediation module once and return the registry (later calls only
    return it: walking the packages costs milliseconds, on every event otherwise)."""
    global _loaded
    if not _loaded:
        for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
            leaf = module.name.rsplit(".", 1)[-1]
            if not module.ispkg and leaf != "base" and not leaf.startswith("_"):
                importlib.import_module(module.name)
        _loaded = True
    return REGISTRY


@cache
def _index() -> dict[str, dict[str, Any]]:
    return dict(json.loads(INDEX.read_text(encoding="utf-8")))


def info(name: str) -> dict[str, Any]:
    """What the index knows of remediation `name` without importing it: `module`,
    `resource_types`, `record_only`. KeyError for an unknown name."""
    try:
        return _index()[name]
    except KeyError:
        raise KeyError(f"unknown remediation {name!r} (not in {INDEX.name}: "
                       "`python -m remediations` renders it)") from None


def get(name: str) -> type[Remediation[Any]]:
    """Remediation `name`, importing only its module."""
    if name not in REGISTRY:
        importlib.import_module(info(name)["module"])
    return REGISTRY[name]


def render_index() -> dict[str, dict[str, Any]]:
    """The index of every remediation, from the modules themselves."""
    return {name: {"module": cls.__module__, "resource_types": list(cls.resource_types),
                   "record_only": cls.record_only}
            for name, cls in sorted(load().items())}
