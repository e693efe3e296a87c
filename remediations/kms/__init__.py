"""Remediations for AWS KMS keys."""
