"""The one structured logger (Powertools). Logs go to stderr: in Lambda that is CloudWatch
like stdout, and on the CLI it keeps stdout for the JSON result.

Log decisions and ids, never documents, tag values or secrets.

Keys that describe one event or decision (correlation id, policy, incident…) are
per-thread (`thread_safe_append_keys`): when events run side by side in one process (the
storm, `chalice local`'s approval thread), each line carries its own event's ids, never
another's.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger

logger = Logger(service="autoremediate", stream=sys.stderr)
