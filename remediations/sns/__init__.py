"""Remediations for Amazon SNS."""
