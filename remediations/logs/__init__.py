"""Remediations for CloudWatch Logs."""
