"""Remediations for Amazon SQS."""
