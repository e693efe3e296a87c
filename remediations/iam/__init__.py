"""Remediations for IAM."""
