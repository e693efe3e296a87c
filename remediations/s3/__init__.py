"""Remediations for Amazon S3."""
