"""The autoremediate pipeline: event → finding → policy → gate → remediation → record → notify."""
