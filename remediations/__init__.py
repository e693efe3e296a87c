"""Remediations: one module each, registered by name (`remediations.base.register`).

`load()` imports every module in this package so the registry is complete; the name of a
module, its registry key, the policy's `remediation:` value, its runbook and its test file
are one and the same.
"""

from __future__ import annotations

import importlib
import pkgutil

from remediations.base import REGISTRY, Remediation

__all__ = ["REGISTRY", "Remediation", "load"]


_loaded = False


def load() -> dict[str, type[Remediation]]:
    """Import every remediation module once and return the registry (later calls only
    return it: listing the package costs ~2 ms, on every event otherwise)."""
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base" and not module.name.startswith("_"):
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return REGISTRY
