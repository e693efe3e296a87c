"""Remediations for AWS Security Hub."""
