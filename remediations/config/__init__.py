"""Remediations for AWS Config."""
