"""One incident's timeline in the format asked for: shared by the CLI and the HTTP route."""

from __future__ import annotations

import json

from chalicelib import render
from chalicelib.context import Context
from chalicelib.errors import NotFound

FORMATS = {"json": "application/json", "md": "text/markdown; charset=utf-8",
           "html": "text/html; charset=utf-8"}


def rendered(ctx: Context, incident_id: str, fmt: str) -> str:
    """Raises NotFound for an unknown incident, ValueError for an unknown format."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    incident = ctx.store.incident(incident_id)
    entries = ctx.store.entries(incident_id)
    now = ctx.clock()
    if fmt == "json":
        return json.dumps(render.timeline_json(incident, entries, now=now), indent=2,
                          default=str)
    if fmt == "md":
        return render.timeline_md(incident, entries, now=now)
    return render.timeline_html(incident, entries, now=now)


def http_timeline(ctx: Context, incident_id: str, fmt: str) -> tuple[int, str, str]:
    """(status, content type, body) for GET /incidents/{id}/timeline?format=…"""
    try:
        body = rendered(ctx, incident_id, fmt)
        return 200, FORMATS[fmt], body
    except ValueError as exc:
        return 400, "application/json", json.dumps({"error": str(exc)})
    except NotFound as exc:
        return 404, "application/json", json.dumps({"error": str(exc)})
