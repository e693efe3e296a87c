"""The one structured logger (Powertools). Logs go to stderr: in Lambda that is CloudWatch
like stdout, and on the CLI it keeps stdout for the JSON result.

Log decisions and ids, never documents, tag values or secrets.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger

logger = Logger(service="autoremediate", stream=sys.stderr)
