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


def load() -> dict[str, type[Remediation]]:
    """Import every remediation module once and return the registry."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
