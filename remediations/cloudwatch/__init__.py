"""Remediations for Amazon CloudWatch alarms as resources (alarms as events are
chalicelib/sources/cloudwatch.py)."""
