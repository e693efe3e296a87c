"""Remediations for Amazon RDS."""
