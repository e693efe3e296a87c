"""Remediations for AWS CloudTrail."""
