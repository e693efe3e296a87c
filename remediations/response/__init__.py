"""Remediations for Incident response: record-only remediations."""
