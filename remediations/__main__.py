"""`python -m remediations`: render `remediations/index.json` (checked for freshness by
the tests, as the event patterns are)."""

from __future__ import annotations

import json

from remediations import INDEX, render_index

if __name__ == "__main__":
    INDEX.write_text(json.dumps(render_index(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {INDEX}")
