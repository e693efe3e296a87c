"""Remediations for AWS Lambda (`lambda` is a Python keyword)."""
